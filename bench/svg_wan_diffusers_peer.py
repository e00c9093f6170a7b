#!/usr/bin/env python3
"""The official Sparse VideoGen Wan2.1 pipeline (diffusers WanPipeline), on our random checkpoint.

svg-project/Sparse-VideoGen's `wan_t2v_inference.py` builds diffusers' `WanPipeline` (diffusers
0.34.0, its pyproject pin) with `UniPCMultistepScheduler(prediction_type="flow_prediction",
use_flow_sigmas=True, num_train_timesteps=1000, flow_shift=5.0)`, turns `--first_times_fp` /
`--first_layers_fp` into a timestep threshold and a layer count, and calls
`svg.models.wan.inference.replace_wan_attention` (SVG: the `WanTransformerBlock` /
`WanTransformer3DModel` forwards replaced, `WanAttn_SVGAttn_Processor2_0` on every `attn1`, the
profiling masks and the compiled flex-attention BlockMask). This script does the same steps, in
the same order, with the official code imported unmodified from --svg (peers/svgref):

  run      (default SVG; the settings of scripts/wan/wan_t2v_720p_svg.sh: sparsity 0.3,
           first_times_fp 0.2, first_layers_fp 0.03, 64 sampled rows, sample_mse_max_row 10000)
  run --dense   the same pipeline without replace_wan_attention (`--pattern dense`): diffusers'
           own WanAttnProcessor2_0 (torch SDPA), the diffusers dense peer.

What differs from the script, and why:
  * the transformer: diffusers' `WanTransformer3DModel` with the 1.3B config, loaded with
    `from_pretrained(torch_dtype=bfloat16)` (as `WanPipeline.from_pretrained` loads it: fp32 kept
    for `_keep_in_fp32_modules`) from a folder this script writes once: the official-layout random
    checkpoint of `bench/svg_wan_peer.py prepare` (--ckpt) renamed to diffusers' keys (the map of
    src/models/wan/wan_keys.cpp, shapes unchanged), so every run uses the same weights.
  * no text encoder / VAE: `prompt_embeds` / `negative_prompt_embeds` are the inputs file's
    `context` / `context_null` zero-padded to 512 rows (what `_get_t5_prompt_embeds` returns for a
    prompt of that many tokens); `latents` = the file's `noise`; `output_type="latent"`.
  * guidance 5 and flow shift 5 (the script's values; --guide / --shift), 50 steps (--steps).
  * timing: one short warm-up call (--warmup-steps, default 2: a dense step then an SVG step, so
    Triton, SDPA and the flex kernel are compiled), then `seed_everything(seed)` again and the
    timed call, CUDA-synchronised. Setup (masks, flex compile) is reported apart.

Stubbed at import, never by editing official files: `flashinfer` and `cuvs` when absent (SAP /
flashinfer paths only), `loguru` / `termcolor` when absent; and `transformers.utils.FLAX_WEIGHTS_NAME`
(removed in transformers 5, still imported by diffusers 0.34's pipeline loader; unused here).
The official `svg/kernels/build/_kernels` (CUDA RoPE / norm kernels) is not built: the official
attention.py then falls back to its PyTorch RoPE and LayerNorm (its `ENABLE_FAST_KERNEL = False`
path) and says so in a warning.

Other modes:
  check  one forward of the official Wan `model_mul.WanModel` (peers/jengawan) and of the
         diffusers transformer with the converted weights, same input; prints rel L2 (key map).
  tiny   writes a tiny official-layout checkpoint and inputs file (CPU test of this script).
  --cpu  (with run/check) CPU: f32, TRITON_INTERPRET=1 for the official Triton kernels, `.cuda()`
         a no-op, eager flex attention; for tests only.

Writes `latents` [16, T, H, W] f32 (bench/compare_latents.py layout) and JSON lines on stdout.
Ours; no official code here.
"""
import argparse
import json
import math
import os
import sys
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))

# src/models/wan/wan_keys.cpp: (official prefix, diffusers prefix), outside and inside the blocks.
TOP_LEVEL = [
    ("patch_embedding.", "patch_embedding."),
    ("text_embedding.0.", "condition_embedder.text_embedder.linear_1."),
    ("text_embedding.2.", "condition_embedder.text_embedder.linear_2."),
    ("time_embedding.0.", "condition_embedder.time_embedder.linear_1."),
    ("time_embedding.2.", "condition_embedder.time_embedder.linear_2."),
    ("time_projection.1.", "condition_embedder.time_proj."),
    ("head.head.", "proj_out."),
]
IN_BLOCK = [
    ("self_attn.q.", "attn1.to_q."), ("self_attn.k.", "attn1.to_k."), ("self_attn.v.", "attn1.to_v."),
    ("self_attn.o.", "attn1.to_out.0."), ("self_attn.norm_q.", "attn1.norm_q."), ("self_attn.norm_k.", "attn1.norm_k."),
    ("cross_attn.q.", "attn2.to_q."), ("cross_attn.k.", "attn2.to_k."), ("cross_attn.v.", "attn2.to_v."),
    ("cross_attn.o.", "attn2.to_out.0."), ("cross_attn.norm_q.", "attn2.norm_q."),
    ("cross_attn.norm_k.", "attn2.norm_k."),
    ("norm3.", "norm2."),  # the official affine norm before cross-attention is diffusers' norm2
    ("ffn.0.", "ffn.net.0.proj."), ("ffn.2.", "ffn.net.2."),
]
TEXT_LEN = 512  # WanPipeline's max_sequence_length: prompt embeddings are zero-padded to it


def rec(**kw):
    print(json.dumps(kw), flush=True)


def diffusers_key(k):
    if k == "head.modulation":
        return "scale_shift_table"
    for a, b in TOP_LEVEL:
        if k.startswith(a):
            return b + k[len(a):]
    if k.startswith("blocks."):
        n, rest = k[len("blocks."):].split(".", 1)
        if rest == "modulation":
            return f"blocks.{n}.scale_shift_table"
        for a, b in IN_BLOCK:
            if rest.startswith(a):
                return f"blocks.{n}.{b}{rest[len(a):]}"
    raise KeyError(f"no diffusers name for the official Wan tensor {k!r}")


def diffusers_config(c):
    """Official WanModel config.json -> WanTransformer3DModel config (Wan-AI/Wan2.1-T2V-*-Diffusers)."""
    assert c.get("model_type", "t2v") == "t2v", "t2v only"
    return {"_class_name": "WanTransformer3DModel", "_diffusers_version": "0.34.0",
            "patch_size": list(c["patch_size"]), "num_attention_heads": c["num_heads"],
            "attention_head_dim": c["dim"] // c["num_heads"], "in_channels": c["in_dim"],
            "out_channels": c["out_dim"], "text_dim": c["text_dim"], "freq_dim": c["freq_dim"],
            "ffn_dim": c["ffn_dim"], "num_layers": c["num_layers"], "cross_attn_norm": c["cross_attn_norm"],
            "qk_norm": "rms_norm_across_heads" if c["qk_norm"] else None, "eps": c["eps"],
            "image_dim": None, "added_kv_proj_dim": None, "rope_max_seq_len": 1024}


# ----------------------------------------------------------------------------- environment
def setup_env(cpu):
    """Stubs and CPU stand-ins; call before importing diffusers / the official svg package."""
    if cpu:
        os.environ.setdefault("TRITON_INTERPRET", "1")  # the official Triton kernels on CPU (read at import)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # local folders only (the GPU machine has no network)
    import importlib.util
    import torch
    for name in ("flashinfer", "cuvs"):
        if importlib.util.find_spec(name) is None:  # SAP / flashinfer paths only
            if name == "flashinfer":
                sys.modules["flashinfer"] = types.ModuleType("flashinfer")
            else:
                for n in ("cuvs", "cuvs.cluster", "cuvs.cluster.kmeans"):
                    sys.modules[n] = types.ModuleType(n)
                sys.modules["cuvs.cluster.kmeans"].KMeansParams = object
                sys.modules["cuvs.cluster.kmeans"].fit = None
    if importlib.util.find_spec("loguru") is None:
        import logging
        m = types.ModuleType("loguru")
        m.logger = logging.getLogger("svg")
        sys.modules["loguru"] = m
    if importlib.util.find_spec("termcolor") is None:
        m = types.ModuleType("termcolor")
        m.colored = lambda s, *a, **k: s
        sys.modules["termcolor"] = m
    import transformers.utils as tu  # diffusers 0.34's pipeline_loading_utils imports it (transformers 4 name)
    if not hasattr(tu, "FLAX_WEIGHTS_NAME"):
        tu.FLAX_WEIGHTS_NAME = "flax_model.msgpack"
    if cpu:  # get_attention_mask moves its masks with .cuda() and prints CUDA memory
        torch.Tensor.cuda = lambda self, *a, **k: self
        torch.cuda.memory_allocated = lambda *a, **k: 0
        torch.cuda.synchronize = lambda *a, **k: None
    return torch


def sync(torch, dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


# ----------------------------------------------------------------------------- weights
def diffusers_folder(torch, a):
    """Write (once) CKPT's weights under diffusers names + config.json into --diffusers-dir."""
    from safetensors.torch import load_file, save_file
    src = os.path.join(a.ckpt, "diffusion_pytorch_model.safetensors")
    out = a.diffusers_dir or a.ckpt.rstrip("/") + "_diffusers"
    dst = os.path.join(out, "diffusion_pytorch_model.safetensors")
    with open(os.path.join(a.ckpt, "config.json")) as f:
        cfg = json.load(f)
    if not (os.path.exists(dst) and os.path.getmtime(dst) >= os.path.getmtime(src)):
        t0 = time.perf_counter()
        sd = {diffusers_key(k): v.contiguous() for k, v in load_file(src).items()}
        os.makedirs(out, exist_ok=True)
        save_file(sd, dst, metadata={"format": "pt", "source": os.path.abspath(src)})
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump(diffusers_config(cfg), f, indent=1)
        rec(kind="diffusers_weights", folder=out, tensors=len(sd), seconds=round(time.perf_counter() - t0, 1))
    return out, cfg


def load_transformer(torch, a, dtype, dev):
    from diffusers import WanTransformer3DModel
    from safetensors import safe_open
    folder, cfg = diffusers_folder(torch, a)
    model = WanTransformer3DModel.from_pretrained(folder, torch_dtype=dtype)
    with safe_open(os.path.join(folder, "diffusion_pytorch_model.safetensors"), "pt") as f:
        names = set(f.keys())
    have = set(model.state_dict())
    if have != names:  # from_pretrained only warns about missing keys (and initialises them randomly)
        raise SystemExit(f"key map: missing {sorted(have - names)[:4]} unexpected {sorted(names - have)[:4]}")
    return model.to(dev).eval().requires_grad_(False), cfg


# ----------------------------------------------------------------------------- run
def load_inputs(torch, path, dev):
    from safetensors.torch import load_file
    t = load_file(path)

    def embeds(x):  # [L, D] -> [1, 512, D], zero rows after the prompt's (as _get_t5_prompt_embeds)
        x = x.float()
        return torch.cat([x, x.new_zeros(TEXT_LEN - x.shape[0], x.shape[1])])[None].to(dev)

    noise = t["noise"].float()
    if noise.ndim == 4:
        noise = noise[None]
    return noise.to(dev), embeds(t["context"]), embeds(t["context_null"])


def cmd_run(a):
    torch = setup_env(a.cpu)
    from copy import deepcopy
    from safetensors.torch import save_file
    from diffusers import WanPipeline
    from diffusers.schedulers.scheduling_unipc_multistep import UniPCMultistepScheduler
    sys.path.insert(0, os.path.abspath(a.svg))
    from svg.utils.seed import seed_everything  # noqa: E402 (official)

    dev = torch.device("cpu" if a.cpu else "cuda")
    dtype = torch.float32 if a.cpu else torch.bfloat16
    seed_everything(a.seed)
    if not a.cpu:
        try:  # as the script (no linear algebra runs here; a build without MAGMA must not stop us)
            torch.backends.cuda.preferred_linalg_library(backend="magma")
        except Exception as e:  # noqa: BLE001
            print(f"preferred_linalg_library(magma): {e}", file=sys.stderr)
    noise, pe, ne = load_inputs(torch, a.inputs, dev)
    _, C, T, LH, LW = noise.shape
    height, width, frames = LH * 8, LW * 8, (T - 1) * 4 + 1

    t0 = time.perf_counter()
    transformer, _ = load_transformer(torch, a, dtype, dev)
    # wan_t2v_inference.py: its scheduler replaces the pipeline's, then pipe.to("cuda").
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                        num_train_timesteps=1000, flow_shift=a.shift)
    pipe = WanPipeline(tokenizer=None, text_encoder=None, transformer=transformer, vae=None, scheduler=scheduler)
    pipe.to(dev)
    pipe.set_progress_bar_config(disable=True)
    config = pipe.transformer.config
    load_s = time.perf_counter() - t0

    P, setup = None, {}
    if not a.dense:
        if a.cpu:  # the module compiles flex_attention with max-autotune: eager on CPU
            import svg.models.wan.attention as A
            from torch.nn.attention.flex_attention import flex_attention
            A.flex_attention = flex_attention
        from svg.models.wan.inference import replace_wan_attention  # official
        from svg.timer import print_operator_log_data  # official
        import svg.models.wan.attention as A
        P = A.WanAttn_SVGAttn_Processor2_0
        # wan_t2v_inference.py, "Translate the percentage of warmup of layers and timesteps".
        ref_scheduler = deepcopy(pipe.scheduler)
        ref_scheduler.set_timesteps(a.steps)
        num_fp_timesteps = math.floor(a.first_times_fp * a.steps)
        num_fp_layers = math.floor(a.first_layers_fp * config.num_layers)
        first_times_fp = ref_scheduler.timesteps[num_fp_timesteps - 1] - 1 if num_fp_timesteps > 0 else 1001
        t0 = time.perf_counter()
        replace_wan_attention(pipe, height, width, frames, first_layers_fp=num_fp_layers,
                              first_times_fp=first_times_fp, pattern="SVG", num_sampled_rows=a.num_sampled_rows,
                              sample_mse_max_row=a.sample_mse_max_row, sparsity=a.sparsity)
        for block in pipe.transformer.blocks:
            block.register_forward_hook(print_operator_log_data)
        sync(torch, dev)
        setup = dict(setup_s=round(time.perf_counter() - t0, 1), dense_steps=num_fp_timesteps,
                     dense_layers=num_fp_layers, first_times_fp=float(first_times_fp),
                     fast_kernels=bool(A.ENABLE_FAST_KERNEL), block_mask=str(P.block_mask.shape),
                     num_frame=P.num_frame, frame_size=P.frame_size)
    rec(kind="diffusers_setup", mode="dense" if a.dense else "svg", load_s=round(load_s, 1), device=str(dev),
        gpu=torch.cuda.get_device_name() if dev.type == "cuda" else "cpu", torch=torch.__version__,
        diffusers=__import__("diffusers").__version__, latent=list(noise.shape), **setup)

    calls = []  # per transformer forward: (start event, end event, timestep tensor)

    def pre(module, args, kwargs):
        ev = torch.cuda.Event(enable_timing=True) if dev.type == "cuda" else None
        if ev is not None:
            ev.record()
        calls.append([ev, None, kwargs.get("timestep"), time.perf_counter()])

    def post(module, args, kwargs, out):
        ev = torch.cuda.Event(enable_timing=True) if dev.type == "cuda" else None
        if ev is not None:
            ev.record()
        calls[-1][1] = ev
        calls[-1][3] = time.perf_counter() - calls[-1][3]

    pipe.transformer.register_forward_pre_hook(pre, with_kwargs=True)
    pipe.transformer.register_forward_hook(post, with_kwargs=True)

    def generate(steps):
        with torch.no_grad():
            return pipe(prompt_embeds=pe, negative_prompt_embeds=ne, height=height, width=width, num_frames=frames,
                        num_inference_steps=steps, guidance_scale=a.guide, latents=noise.clone(),
                        output_type="latent", return_dict=False)[0]

    if a.warmup_steps > 0:
        t0 = time.perf_counter()
        if P is not None:  # warm-up: first step dense, the others SVG (whatever the real threshold)
            keep = P.first_times_fp
            ws = deepcopy(pipe.scheduler)
            ws.set_timesteps(a.warmup_steps)
            P.first_times_fp = ws.timesteps[0] - 1
        generate(a.warmup_steps)
        sync(torch, dev)
        if P is not None:
            P.first_times_fp = keep
        rec(kind="diffusers_warmup", steps=a.warmup_steps, seconds=round(time.perf_counter() - t0, 1))
    calls.clear()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    seed_everything(a.seed)  # the timed call draws the same sampled rows as a fresh official run
    sync(torch, dev)
    t0 = time.perf_counter()
    latents = generate(a.steps)
    sync(torch, dev)
    secs = time.perf_counter() - t0

    ms = [c[0].elapsed_time(c[1]) if c[0] is not None else c[3] * 1e3 for c in calls]
    ts = [float(c[2].flatten()[0]) for c in calls]
    thr = float(P.first_times_fp) if P is not None else None
    sparse = [m for m, t in zip(ms, ts) if thr is not None and t <= thr]
    dense = [m for m, t in zip(ms, ts) if thr is None or t > thr]
    mean = lambda v: round(sum(v) / len(v), 1) if v else None
    final = latents[0].float().contiguous().cpu()
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    save_file({"latents": final}, a.out, metadata={
        "source": "bench/svg_wan_diffusers_peer.py", "mode": "dense" if a.dense else "svg",
        "steps": str(a.steps), "shift": str(a.shift), "guide": str(a.guide)})
    rec(kind="diffusers_dense_loop" if a.dense else "official_svg_diffusers_loop", steps=a.steps, shift=a.shift,
        guide=a.guide, generate_s=round(secs, 2), forwards=len(calls), fwd_ms_mean=mean(ms),
        dense_forwards=len(dense), dense_fwd_ms=mean(dense), svg_forwards=len(sparse), svg_fwd_ms=mean(sparse),
        peak_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2) if dev.type == "cuda" else None,
        file=a.out, final_norm=round(final.norm().item(), 3))


# ----------------------------------------------------------------------------- check / tiny
def official_model(torch, a, cfg, dev):
    sys.path.insert(0, os.path.join(HERE, "..", "tools", "golden"))
    import jenga_wan_pipeline as JP
    from safetensors.torch import load_file
    O = JP.import_official(os.path.join(a.peers, "jengawan"), os.path.join(a.peers, "shim"))
    O.MM.flash_attention = JP.sdpa_attention_f32
    kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in cfg.items() if k != "_class_name"}
    model = O.MM.WanModel(**kw).eval().requires_grad_(False)
    sd = load_file(os.path.join(a.ckpt, "diffusion_pytorch_model.safetensors"))
    model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
    return model.to(dev)


def cmd_check(a):
    """One f32 forward of the official WanModel and of the converted diffusers transformer."""
    torch = setup_env(a.cpu)
    dev = torch.device("cpu" if a.cpu else "cuda")
    noise, pe, _ = load_inputs(torch, a.inputs, dev)
    ours, cfg = load_transformer(torch, a, torch.float32, dev)
    off = official_model(torch, a, cfg, dev)
    from safetensors.torch import load_file
    ctx = load_file(a.inputs)["context"].float().to(dev)
    _, C, T, H, W = noise.shape
    res = {}
    for tval in (999.0, 500.0):
        with torch.no_grad():
            ref = off([noise[0]], torch.tensor([tval], device=dev), [ctx], T * H * W // 4)[0]
            got = ours(hidden_states=noise, timestep=torch.tensor([tval], device=dev), encoder_hidden_states=pe,
                       return_dict=False)[0][0]
        res[str(int(tval))] = float((got.float() - ref.float()).norm() / ref.float().norm())
    rec(kind="key_map_check", rel_l2=res, shape=list(ref.shape))


def cmd_tiny(a):
    """A tiny official-layout checkpoint (bench/wan_dit_peer.py writer) and an inputs file."""
    import torch
    sys.path.insert(0, HERE)
    sys.path.insert(0, os.path.join(HERE, "..", "tools", "golden"))
    import jenga_wan_pipeline as JP
    import wan_dit_peer as WP
    from safetensors.torch import save_file
    O = JP.import_official(os.path.join(a.peers, "jengawan"), os.path.join(a.peers, "shim"))
    cfg = dict(WP.CFG13, dim=128, ffn_dim=256, num_heads=2, num_layers=2, text_dim=64)
    torch.manual_seed(a.seed)
    model = O.MM.WanModel(**cfg).eval().requires_grad_(False)
    WP.write_random_checkpoint(torch, model, cfg, a.ckpt)
    g = torch.Generator().manual_seed(a.seed)
    bf = lambda *s: torch.randn(*s, generator=g).to(torch.bfloat16)
    T, H, W = a.tiny_grid
    save_file({"context": bf(7, 64), "context_null": bf(11, 64), "noise": bf(16, T, H, W)}, a.inputs)
    rec(kind="tiny", ckpt=a.ckpt, inputs=a.inputs, config=cfg, latent=[16, T, H, W])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["run", "check", "tiny"])
    ap.add_argument("--dense", action="store_true", help="no SVG: diffusers' own attention (the dense peer)")
    ap.add_argument("--svg", default="peers/svgref", help="folder holding the official svg/ package")
    ap.add_argument("--peers", default="peers", help="peers/ (jengawan, shim): check / tiny only")
    ap.add_argument("--ckpt", default="/tmp/wan13b_random", help="official-layout checkpoint (svg_wan_peer.py prepare)")
    ap.add_argument("--diffusers-dir", default=None, help="converted weights (default CKPT_diffusers)")
    ap.add_argument("--inputs", default="/tmp/svg_work/inputs.safetensors")
    ap.add_argument("--out", default="/tmp/svg_work/official_svg_diffusers.safetensors")
    ap.add_argument("--seed", type=int, default=0, help="seed_everything (the script's --seed 0)")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--warmup-steps", type=int, default=2)
    ap.add_argument("--shift", type=float, default=5.0, help="flow_shift (the script hard-codes 5.0)")
    ap.add_argument("--guide", type=float, default=5.0, help="guidance_scale (the script's 5.0)")
    ap.add_argument("--sparsity", type=float, default=0.3)
    ap.add_argument("--first-times-fp", type=float, default=0.2)
    ap.add_argument("--first-layers-fp", type=float, default=0.03)
    ap.add_argument("--num-sampled-rows", type=int, default=64)
    ap.add_argument("--sample-mse-max-row", type=int, default=10000)
    ap.add_argument("--cpu", action="store_true", help="CPU test mode (f32, TRITON_INTERPRET, eager flex)")
    ap.add_argument("--tiny-grid", type=int, nargs=3, default=[3, 16, 32], help="tiny: latent T H W")
    a = ap.parse_args()
    {"run": cmd_run, "check": cmd_check, "tiny": cmd_tiny}[a.mode](a)


if __name__ == "__main__":
    main()
