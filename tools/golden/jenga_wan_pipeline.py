#!/usr/bin/env python3
"""Goldens for the whole Jenga Wan2.1 denoising loop, produced by the OFFICIAL code.

The official Jenga entry point itself runs: `jenga_wan.generate(args)` with the flags of
scripts/wan_1.3B_jenga_{base,turbo}.sh, which builds the curve tables (`sliced_gilbert_mapping`,
`sliced_gilbert_block_neighbor_mapping`) and the TeaCache state, installs `teacache_forward` on the
official `wan/modules/model_mul.py:WanModel` and `t2v_generate` on `WanT2V`, and runs that loop
(drop-rate ramp and switch, CFG, UniPC with Jenga's `step_to_zero`/`disable_corrector`, the Turbo
resolution switch at the hard-coded loop index 25, AttenCarve masks from the official
`_build_block_index_with_importance_optimized`). `dense` is the official Wan loop without Jenga:
the unpatched `WanT2V.generate` and `WanModel.forward` of the same tree (upstream Wan2.1's code).

What is stood in for (monkey-patched at run time; nothing official is edited or copied here):
  * umT5: returns the stored contexts (`context` for the prompt, `context_null` for the negative).
  * VAE: z_dim 16, `decode` returns the latents (the loop's final latents are the output).
  * `WanT2V.__init__`: sets the same attributes without reading a checkpoint folder (CPU device in
    CI mode); the DiT is the official `model_mul.WanModel` with the given weights.
  * `torch.randn` inside generate(): returns the stored noise (shapes checked, in the official
    draw order: stage-0 noise, then Turbo's full-size noise), so C++ reads the same noise.
  * `flash_attention` (flash_attn): torch SDPA. CI: f32. --full: q/k/v cast to bf16 as the
    official wrapper does.
  * CI only: the Triton kernel (CUDA only). `block_sparse_attention` is replaced by the official
    wrapper's own steps: q/k/v [B,L,H,D] -> [B,H,L,D], zero-padded to a multiple of 128, cast
    to bf16 (the wrapper's `half`), the OFFICIAL mask builder on those values (computed in f32;
    top_k, p, neighbour table, first_frame_blocks as model_mul passes them), then a reference
    attention in f32 on the unrounded q/k/v: softmax over the keys of the kept 128-blocks
    (one-hot mask [B,H,nqb,nb] expanded to tokens), keys >= L masked, rows >= L dropped. So the
    golden is the official math in f32 with the mask the bf16 wrapper picks, as our CPU
    reference computes it (the kernel's own bf16 rounding is left out).
  * `cache_video`: captures the returned latents instead of writing a video.
The number of steps is the only parameter changed from the scripts (CI: 30, so that the
hard-coded index-25 switches happen with 4 steps after them; --full: 50 by default).

CI mode (CPU, f32, tiny model = `jenga debug make-tiny --size tiny --seed 7` with num_heads 2,
head dim 64), writes OUT/jenga_wan_pipeline_{dense,base,turbo}.safetensors:
  python3 tools/golden/jenga_wan_pipeline.py --official peers/jengawan --shim peers/shim \\
      --jenga-bin build/bin/jenga --out tests/data
Full mode (GPU machine; random full-size 1.3B checkpoint, 832x480x81, the official Triton kernel,
bf16 autocast as official; one file per preset with the same layout, plus JSON timing lines):
  python3 tools/golden/jenga_wan_pipeline.py --full --official peers/jengawan --shim peers/shim \\
      --ckpt /tmp/wan13b_random --out /tmp/jenga_full --preset dense,base,turbo --steps 50

The file layout (the input/output contract of `jenga debug denoise`) is in docs/debug-denoise.md.
"""
import argparse
import contextlib
import importlib.util
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
import types

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
STDOUT = sys.stdout
PROMPT = "Two anthropomorphic cats in comfy boxing gear and bright gloves fight intensely on a spotlighted stage."
# scripts/wan_1.3B_jenga_base.sh / _turbo.sh (prompt file, save folder and size aside).
SCRIPT_FLAGS = ["--task", "t2v-1.3B", "--sample_shift", "8", "--sample_guide_scale", "6", "--base_seed", "0",
                "--offload_model", "false", "--teacache_thresh", "0.15", "--use_ret_step",
                "--p_remain_rates", "0.9", "--sa_drop_rates", "0.75", "0.85"]
P_SPARSE = os.environ.get("P_SPARSE", "0.3")
SHIFT, GUIDE = 8.0, 6.0
# Not a script's flags: Base with a low top-p (sparse masks from a random model, whose pooled
# softmax is flat: p 0.9 keeps every block) and TeaCache computing every forward (a threshold no
# accumulated distance falls below), so every step's masks reach the output.
PRESET_EXTRA = {"sparse": ["--p_remain_rates", P_SPARSE, "--teacache_thresh=-1e30"]}
TINY_SEED, TINY_HEADS = 7, 2
# CI runs, per preset: (pixels W x H, frames, steps, snapshot steps). Grid A: latent [16, 3, 16, 32]
# -> tokens 3 x 8 x 16 = 384 (3 blocks of 128); Turbo's stage 0: latent [16, 3, 12, 24] -> 216 tokens.
# Grid B (sparse): latent [16, 5, 16, 32] -> 5 x 8 x 16 = 640 tokens (5 blocks, one a frame, so the
# neighbour sets do not cover everything). Snapshots step_<i> = latents after loop index i.
# --full: the published 1.3B shape at 832x480x81 (a test harness may shrink these).
FULL = dict(size=(832, 480), frames=81, device="cuda:0", config=lambda P: dict(P.CFG13))
PRESETS = ("dense", "base", "turbo", "sparse", "turbo_long")
CI_RUNS = {"dense": ((256, 128), 9, 12, (1,)), "base": ((256, 128), 9, 30, (4, 5)),
           "turbo": ((256, 128), 9, 30, (25, 26)), "sparse": ((256, 128), 17, 30, (1,)),
           # Turbo's flags at 144 steps (one frame, 64 tokens): the first two integer timesteps are
           # both 999, so the official UniPC scheduler starts at sigma index 1 (index_for_timestep),
           # until the switch re-initialises it.
           "turbo_long": ((128, 128), 1, 144, (0, 26))}


def rec(**kw):
    print(json.dumps(kw), file=STDOUT, flush=True)


# ----------------------------------------------------------------------------- import
def stub_missing_modules():
    """Import-only needs of jenga_wan.py / gilbert.py / wan/ that this machine may lack."""
    def stub(name, **attrs):
        if importlib.util.find_spec(name.split(".")[0]) is None or name in sys.modules:
            m = sys.modules.get(name) or types.ModuleType(name)
            for k, v in attrs.items():
                setattr(m, k, v)
            sys.modules[name] = m

    if importlib.util.find_spec("matplotlib") is None:  # gilbert.py plots with it
        for n in ("matplotlib", "matplotlib.pyplot", "mpl_toolkits", "mpl_toolkits.mplot3d"):
            sys.modules[n] = types.ModuleType(n)
        sys.modules["mpl_toolkits.mplot3d"].Axes3D = None
    if importlib.util.find_spec("torchvision") is None:  # i2v only
        for n in ("torchvision", "torchvision.transforms", "torchvision.transforms.functional"):
            sys.modules[n] = types.ModuleType(n)
    if importlib.util.find_spec("flash_attn") is None:  # replaced below; text blocks are Hunyuan only
        m = types.ModuleType("flash_attn")
        m.flash_attn_func = m.flash_attn_varlen_func = None
        sys.modules["flash_attn"] = m
    if importlib.util.find_spec("tqdm") is None:
        m = types.ModuleType("tqdm")
        m.tqdm = lambda it=None, *a, **k: it
        sys.modules["tqdm"] = m
    import torch.distributed.utils as du
    if not hasattr(du, "_free_storage"):  # imported by wan/distributed/fsdp.py (unused)
        du._free_storage = lambda t: None


def import_official(official, shim):
    sys.path[:0] = [official] + ([shim] if shim else [])
    stub_missing_modules()
    cuda_dev = torch.cuda.current_device
    if not torch.cuda.is_available():  # t5.py evaluates it in a default argument at import
        torch.cuda.current_device = lambda: 0
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            import jenga_wan as JW
    finally:
        torch.cuda.current_device = cuda_dev
    import wan.configs as CFG
    import wan.modules.attention_block_triton_diffres as ATT
    import wan.modules.model_mul as MM
    import wan.text2video as T2V
    import wan.utils.fm_solvers as DPM
    import wan.utils.fm_solvers_unipc as UNIPC
    return types.SimpleNamespace(JW=JW, CFG=CFG, ATT=ATT, MM=MM, T2V=T2V, UNIPC=UNIPC, DPM=DPM,
                                 generate=T2V.WanT2V.generate, forward=MM.WanModel.forward)


# ----------------------------------------------------------------------------- stand-ins
def sdpa_attention_f32(q, k, v, q_lens=None, k_lens=None, dropout_p=0., softmax_scale=None, q_scale=None,
                       causal=False, window_size=(-1, -1), deterministic=False, dtype=None, version=None):
    """flash_attention's contract in f32: [B, L, N, D] in and out, keys >= k_lens masked."""
    assert q_lens is None and not causal and tuple(window_size) == (-1, -1) and dropout_p == 0.
    if q_scale is not None:
        q = q * q_scale
    mask = None
    if k_lens is not None:
        lk = k.shape[1]
        mask = (torch.arange(lk, device=k.device)[None, :] < k_lens.to(k.device)[:, None]).view(-1, 1, 1, lk)
    o = torch.nn.functional.scaled_dot_product_attention(
        q.transpose(1, 2).float(), k.transpose(1, 2).float(), v.transpose(1, 2).float(), attn_mask=mask,
        scale=softmax_scale)
    return o.transpose(1, 2).contiguous().to(q.dtype)


def sdpa_attention_bf16(q, k, v, q_lens=None, k_lens=None, dropout_p=0., softmax_scale=None, q_scale=None,
                        causal=False, window_size=(-1, -1), deterministic=False, dtype=torch.bfloat16,
                        version=None):
    """flash_attention's contract on the GPU: inputs cast to bf16 as the official function does.
    Batch 1, no padding here: k_lens equal the key count (checked)."""
    assert not causal and tuple(window_size) == (-1, -1) and dropout_p == 0.
    if k_lens is not None:
        assert int(k_lens.min()) == k.shape[1], "padded keys are not handled by this stand-in"
    out_dtype = q.dtype
    q, k, v = (x if x.dtype in (torch.float16, torch.bfloat16) else x.to(dtype) for x in (q, k, v))
    if q_scale is not None:
        q = q * q_scale
    o = torch.nn.functional.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                                         scale=softmax_scale)
    return o.transpose(1, 2).contiguous().to(out_dtype)


def make_reference_block_sparse(ATT, density):
    """block_sparse_attention (Wan: text_blocks 0, text_amp 0) with the Triton kernel replaced by
    a reference masked attention in f32; the mask is the official builder's."""
    def block_sparse_attention(query, key, value, top_k, block_size_M=128, block_size_N=128, cu_seqlens_q=None,
                               cu_seqlens_kv=None, max_seqlen_q=None, max_seqlen_kv=None, text_blocks=0,
                               text_amp=0.0, block_neighbor_list=None, shape_xfuse=False, p_remain_rates=0.9,
                               first_frame_blocks=0):
        assert text_blocks == 0 and not shape_xfuse and block_size_M == block_size_N == 128
        q, k, v = (x.transpose(1, 2).float() for x in (query, key, value))  # [B, H, L, D]
        B, H, L, D = q.shape
        pad = (128 - L % 128) % 128
        q, k, v = (torch.nn.functional.pad(x, [0, 0, 0, pad]) for x in (q, k, v))
        nb = q.shape[2] // 128
        # The official wrapper casts q/k/v to bf16 before building the mask: the builder sees
        # bf16 values (its math here in f32, as our CPU builder and the mask goldens do).
        qb, kb = (x.to(torch.bfloat16).float() for x in (q, k))
        mask = ATT._build_block_index_with_importance_optimized(
            qb, kb, top_k, 128, 128, text_start_block=nb, num_blocks=nb, prob_threshold=p_remain_rates,
            text_blocks=0, block_neighbor_list=block_neighbor_list, first_frame_blocks=first_frame_blocks)
        density.append((L, mask.float().mean().item()))
        tok = mask.repeat_interleave(128, dim=2).repeat_interleave(128, dim=3)  # [B, H, Lp, Lp]
        tok = tok & (torch.arange(nb * 128) < L).view(1, 1, 1, -1)
        s = torch.matmul(q, k.transpose(-1, -2)) * D ** -0.5
        s = s.masked_fill(~tok, float("-inf"))
        o = torch.matmul(torch.softmax(s, dim=-1), v)[:, :, :L]
        return o.permute(0, 2, 1, 3).reshape(B, L, H * D).to(query.dtype)

    return block_sparse_attention


class StubT5:
    """T5EncoderModel stand-in: the prompt maps to `context`, any other text to `context_null`."""

    def __init__(self, context, context_null):
        self.context, self.context_null = context, context_null
        self.model = torch.nn.Linear(1, 1)

    def __call__(self, texts, device):
        return [(self.context if s == PROMPT else self.context_null).to(device) for s in texts]


class StubVAE:
    def __init__(self):
        self.model = types.SimpleNamespace(z_dim=16)

    def decode(self, zs):
        return list(zs)


def stand_in_init(model, t5, device):
    """WanT2V.__init__ without files: the attributes generate() reads (config values from the
    official t2v-1.3B config: strides, patch, neg prompt, timesteps, param dtype)."""
    def __init__(self, config, checkpoint_dir, device_id=0, rank=0, t5_fsdp=False, dit_fsdp=False,
                 use_usp=False, t5_cpu=False):
        self.device, self.config, self.rank, self.t5_cpu = device, config, rank, t5_cpu
        self.num_train_timesteps, self.param_dtype = config.num_train_timesteps, config.param_dtype
        self.text_encoder, self.vae = t5, StubVAE()
        self.vae_stride, self.patch_size = config.vae_stride, config.patch_size
        self.model = model
        self.sp_size = 1
        self.sample_neg_prompt = config.sample_neg_prompt

    return __init__


@contextlib.contextmanager
def patched(obj, name, value):
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


@contextlib.contextmanager
def stored_noise(tensors):
    """torch.randn inside generate() returns these tensors, in order, after a shape check."""
    queue = list(tensors)
    real = torch.randn

    def randn(*size, generator=None, dtype=None, device=None, **kw):
        if len(size) == 1 and isinstance(size[0], (tuple, list, torch.Size)):
            size = tuple(size[0])
        assert queue, "generate() drew more noise than stored"
        t = queue.pop(0)
        assert tuple(t.shape) == tuple(size), f"noise shape {tuple(size)} drawn, {tuple(t.shape)} stored"
        return t.to(device=device, dtype=dtype or torch.float32).clone()

    torch.randn = randn
    try:
        yield
    finally:
        torch.randn = real
    assert not queue, "stored noise left unused"


# ----------------------------------------------------------------------------- recording
class Trace:
    """Per DiT call: t, drop rate, grid, computed (TeaCache); per loop iteration: the latents
    (all of them, or only the iterations in `keep`; kept as references, so nothing is copied or
    synchronised inside a timed loop: the loop never modifies a returned sample in place)."""

    def __init__(self, cuda, keep=None):
        self.calls, self.latents, self.cuda, self.args, self.plain = [], {}, cuda, None, None
        self.keep, self.iterations = keep, 0

    def wrap_forward(self, fwd):
        trace = self

        def forward(model, x, t, context, seq_len, *a, **kw):
            ev = None
            if trace.cuda:
                ev = (torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                ev[0].record()
            out = fwd(model, x, t, context, seq_len, *a, **kw)
            if ev:
                ev[1].record()
            # teacache_forward sets use_cache on every call; the plain forward never caches
            cached = fwd is not trace.plain and model.enable_teacache and model.use_cache
            trace.calls.append(dict(t=t.flatten()[0], drop=float(kw.get("sa_drop_rate", 0.0)),
                                    grid=tuple(x[0].shape[-3:]), computed=not cached, ev=ev))
            return out

        return forward

    def wrap_output(self, fn):
        trace = self

        def wrapped(*a, **kw):
            out = fn(*a, **kw)
            x = out[0] if isinstance(out, tuple) else (out.prev_sample if hasattr(out, "prev_sample") else out)
            if trace.keep is None or trace.iterations in trace.keep:
                trace.latents[trace.iterations] = x.detach().squeeze(0)
            trace.iterations += 1
            return out

        return wrapped


# ----------------------------------------------------------------------------- one run
def run_preset(O, preset, model, inputs, steps, size, frames, device, solver, trace, on_generate=None):
    """Runs the official loop for `preset` on `inputs`, recording into `trace`; returns the final
    latents. `on_generate` may wrap the generate function (timing)."""
    JW, T2V, MM = O.JW, O.T2V, O.MM
    t5 = StubT5(inputs["context"], inputs["context_null"])
    noise = [inputs["noise"]] + ([inputs["noise_full"]] if "noise_full" in inputs else [])
    size_key = "%d*%d" % size
    O.CFG.SIZE_CONFIGS.setdefault(size_key, size)
    if size_key not in O.CFG.SUPPORTED_SIZES["t2v-1.3B"]:
        O.CFG.SUPPORTED_SIZES["t2v-1.3B"] = O.CFG.SUPPORTED_SIZES["t2v-1.3B"] + (size_key,)
    sched = O.DPM.FlowDPMSolverMultistepScheduler if solver == "dpm++" else O.UNIPC.FlowUniPCMultistepScheduler
    result = {}
    # generate() installs these as class attributes; restore them for the next preset.
    keep_gen, keep_fwd = T2V.WanT2V.generate, MM.WanModel.forward
    with contextlib.ExitStack() as st:
        st.enter_context(patched(T2V.WanT2V, "__init__", stand_in_init(model, t5, device)))
        st.enter_context(patched(sched, "step", trace.wrap_output(sched.step)))
        st.enter_context(patched(sched, "add_noise", trace.wrap_output(sched.add_noise)))  # Turbo's re-noise
        st.enter_context(patched(JW, "cache_video", lambda tensor, **k: result.__setitem__("video", tensor[0])))
        try:
            if preset == "dense":  # the official Wan loop (unpatched generate and forward)
                trace.plain = O.forward
                MM.WanModel.forward = trace.wrap_forward(O.forward)
                pipe = T2V.WanT2V(config=O.CFG.WAN_CONFIGS["t2v-1.3B"], checkpoint_dir="./ckpts/Wan2.1-T2V-1.3B")
                gen = O.generate if on_generate is None else on_generate(O.generate)
                with stored_noise(noise), contextlib.redirect_stdout(sys.stderr):
                    result["video"] = gen(pipe, PROMPT, size=size, frame_num=frames, shift=SHIFT,
                                          sample_solver=solver, sampling_steps=steps, guide_scale=GUIDE,
                                          seed=0, offload_model=False)
            else:
                argv = SCRIPT_FLAGS + ["--size", size_key, "--frame_num", str(frames), "--sample_steps", str(steps),
                                       "--ckpt_dir", "./ckpts/Wan2.1-T2V-1.3B", "--prompt", PROMPT,
                                       "--sample_solver", solver, "--save_folder", tempfile.gettempdir()]
                if preset.startswith("turbo"):
                    argv.append("--enable_turbo")
                argv += PRESET_EXTRA.get(preset, [])
                with patched(sys, "argv", ["jenga_wan.py"] + argv), contextlib.redirect_stdout(sys.stderr):
                    args = JW._parse_args()
                JW.args = trace.args = args  # t2v_generate reads the module-level args, as under __main__
                fwd = trace.wrap_forward(O.JW.teacache_forward)
                gen = JW.t2v_generate if on_generate is None else on_generate(JW.t2v_generate)
                with patched(JW, "teacache_forward", fwd), patched(JW, "t2v_generate", gen), \
                        stored_noise(noise), contextlib.redirect_stdout(sys.stderr):
                    JW.generate(args)
        finally:
            T2V.WanT2V.generate, MM.WanModel.forward = keep_gen, keep_fwd
    assert trace.iterations == steps, (trace.iterations, steps)
    trace.latents = {i: x.float().cpu() for i, x in trace.latents.items()}
    final = result["video"].float().cpu()
    assert torch.equal(final, trace.latents[steps - 1])
    return final


def build_tiny(O, model_dir, heads):
    from safetensors.torch import load_file
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    with contextlib.redirect_stdout(sys.stderr):
        m = O.MM.WanModel(model_type="t2v", patch_size=tuple(cfg["patch_size"]), text_len=cfg["text_len"],
                          in_dim=cfg["in_dim"], dim=cfg["dim"], ffn_dim=cfg["ffn_dim"], freq_dim=cfg["freq_dim"],
                          text_dim=cfg["text_dim"], out_dim=cfg["out_dim"], num_heads=heads,
                          num_layers=cfg["num_layers"], window_size=(-1, -1), qk_norm=True, cross_attn_norm=True,
                          eps=cfg["eps"])
    m.load_state_dict({k: v.float() for k, v in load_file(os.path.join(model_dir, "diffusion_pytorch_model.safetensors")).items()},
                      strict=True)
    return m.eval().requires_grad_(False), cfg


def latent_shapes(size, frames, turbo):
    w, h = size
    full = (16, (frames - 1) // 4 + 1, h // 8, w // 8)
    low = (16, full[1], int(full[2] * 0.75) // 2 * 2, int(full[3] * 0.75) // 2 * 2)
    return full, (low if turbo else full)


def metadata(preset, steps, size, frames, solver, trace, extra):
    """The settings the official loop ran with (for Jenga presets read back from its parsed args)."""
    m = {"preset": preset, "steps": str(steps), "shift": repr(SHIFT), "guide_scale": repr(GUIDE), "solver": solver,
         "size": "%dx%d" % size, "frames": str(frames), "jenga": "false", "enable_turbo": "false",
         "negative_prompt": "context_null stands for the official default negative prompt's context",
         "source": "dvlab-research/Jenga " + ("wan/text2video.py WanT2V.generate + wan/modules/model_mul.py "
                                              "WanModel.forward (the upstream Wan2.1 loop)" if preset == "dense" else
                                              "jenga_wan.py generate/t2v_generate/teacache_forward, "
                                              "wan/modules/model_mul.py, wan/utils/fm_solvers_unipc.py, gilbert.py") +
                   ", run by tools/golden/jenga_wan_pipeline.py"}
    if trace.args is not None:
        g = trace.args
        m.update({"jenga": "true", "enable_turbo": str(bool(g.enable_turbo)).lower(),
                  "sa_drop_rates": " ".join(repr(float(x)) for x in g.sa_drop_rates),
                  "p_remain_rates": repr(float(g.p_remain_rates)), "teacache_thresh": repr(float(g.teacache_thresh)),
                  "use_ret_steps": str(bool(g.use_ret_steps)).lower(),
                  "official_flags": str(preset in ("base", "turbo", "turbo_long")).lower()})
    m.update(extra)
    return m


def trace_tensors(trace, steps):
    calls = trace.calls
    assert len(calls) == 2 * steps
    return {
        "teacache_computed": torch.tensor([int(c["computed"]) for c in calls], dtype=torch.int32),
        "timesteps": torch.tensor([float(c["t"]) for c in calls[::2]], dtype=torch.float32),
        "sa_drop_rate": torch.tensor([c["drop"] for c in calls[::2]], dtype=torch.float32),
    }


# ----------------------------------------------------------------------------- CI mode
def run_ci(O, a):
    from safetensors.torch import save_file
    O.MM.flash_attention = sdpa_attention_f32
    density = []
    O.MM.block_sparse_attention = make_reference_block_sparse(O.ATT, density)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = a.model
        if model_dir is None:
            model_dir = tmp
            subprocess.run([a.jenga_bin, "debug", "make-tiny", "--out", tmp, "--size", "tiny", "--seed",
                            str(TINY_SEED), "--dtype", "f32"], check=True, stdout=sys.stderr)
        model, cfg = build_tiny(O, model_dir, TINY_HEADS)
    gen = torch.Generator().manual_seed(2024)

    def bf16_exact(*shape):  # inputs whose values survive a bf16 round trip
        return torch.randn(*shape, generator=gen).to(torch.bfloat16).float()

    context, context_null = bf16_exact(7, cfg["text_dim"]), bf16_exact(11, cfg["text_dim"])
    os.makedirs(a.out, exist_ok=True)
    for preset in a.preset.split(","):
        size, frames, steps, snaps = CI_RUNS[preset]
        steps, snaps = a.steps or steps, snaps if a.snapshots is None else a.snapshots
        full, low = latent_shapes(size, frames, preset.startswith("turbo"))
        gen.manual_seed(2024 + PRESETS.index(preset))  # a preset's noise does not depend on the others run
        inputs = {"noise": bf16_exact(*low), "context": context, "context_null": context_null}
        if preset.startswith("turbo"):
            inputs["noise_full"] = bf16_exact(*full)
        density.clear()
        s = time.perf_counter()
        trace = Trace(cuda=False)
        with torch.no_grad():
            final = run_preset(O, preset, model, inputs, steps, size, frames, "cpu", a.solver, trace)
        # Inputs are bf16-exact and stored as bf16; snapshots (for locating a divergence) as bf16,
        # the final latents as f32: this keeps the files small.
        out = {k: v.to(torch.bfloat16) for k, v in inputs.items()}
        out["latents"] = final
        for i in snaps:
            if i < steps:
                out["step_%d" % i] = trace.latents[i].to(torch.bfloat16)
        out.update(trace_tensors(trace, steps))
        dens = {}
        for L, d in density:
            dens.setdefault(L, []).append(d)
        extra = {"model": "jenga debug make-tiny --size tiny --seed %d, num_heads %d (config.json edited)" %
                          (TINY_SEED, TINY_HEADS),
                 "attention": "f32; mask from bf16-rounded q/k (official wrapper) by the official builder; Triton "
                              "kernel replaced by a reference masked attention in f32",
                 "mask_density": json.dumps({str(L): round(sum(v) / len(v), 3) for L, v in sorted(dens.items())})}
        path = os.path.join(a.out, "jenga_wan_pipeline_%s%s.safetensors" % (preset, "" if a.solver == "unipc" else "_dpmpp"))
        save_file({k: v.contiguous() for k, v in out.items()}, path,
                  metadata=metadata(preset, steps, size, frames, a.solver, trace, extra))
        tc = out["teacache_computed"].tolist()
        rec(kind="golden", preset=preset, file=path, bytes=os.path.getsize(path), seconds=round(time.perf_counter() - s, 1),
            computed="".join(map(str, tc)), mask_density=json.loads(extra["mask_density"]),
            final_norm=round(final.norm().item(), 4))


# ----------------------------------------------------------------------------- full mode (GPU)
def full_checkpoint(O, ckpt, seed):
    """The random full-size 1.3B checkpoint of bench/wan_dit_peer.py (bf16 safetensors + config),
    written when CKPT has none, in the official model_mul.WanModel (fp32 weights, as official)."""
    sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
    import wan_dit_peer as P
    from safetensors.torch import load_file
    torch.manual_seed(seed)
    with contextlib.redirect_stdout(sys.stderr):
        model = O.MM.WanModel(**FULL["config"](P)).eval().requires_grad_(False)
    path = os.path.join(ckpt, "diffusion_pytorch_model.safetensors")
    if os.path.exists(path):
        model.load_state_dict({k: v.float() for k, v in load_file(path).items()}, strict=True)
    else:
        P.write_random_checkpoint(torch, model, FULL["config"](P), ckpt)
    return model.to(FULL["device"])


def run_full(O, a):
    from safetensors.torch import save_file
    O.MM.flash_attention = sdpa_attention_bf16  # block_sparse_attention stays the official Triton path
    density = {}
    build = O.ATT._build_block_index_with_importance_optimized

    def build_recorded(query, *args, **kw):
        m = build(query, *args, **kw)
        d = density.setdefault(query.shape[2], [0, 0])
        d[0] = d[0] + m.sum()  # stays on the GPU: no host sync added
        d[1] += m.numel()
        return m

    O.ATT._build_block_index_with_importance_optimized = build_recorded
    model = full_checkpoint(O, a.ckpt, a.seed)
    device = torch.device(FULL["device"])
    size, frames, steps = FULL["size"], FULL["frames"], a.steps or 50
    gen = torch.Generator().manual_seed(a.seed)
    # short contexts (the DiT pads to text_len anyway) keep Turbo's file under 16 MiB
    context = torch.randn(28, model.text_dim, generator=gen).to(torch.bfloat16).float()
    context_null = torch.randn(64, model.text_dim, generator=gen).to(torch.bfloat16).float()
    os.makedirs(a.out, exist_ok=True)
    rec(kind="env", gpu=torch.cuda.get_device_name(), torch=torch.__version__)
    T, H, W = (frames - 1) // 4 + 1, size[1] // 8, size[0] // 8
    seq_len = T * H * W // 4

    def timed(fn, preset, trace, timing):
        """generate() after warm-up forwards (Triton compile, SDPA first calls) at each stage
        resolution, dense and sparse, TeaCache off; the Jenga class state is restored after."""
        def run(self, *args, **kw):
            cls, dev = self.model.__class__, self.device
            ctx = self.text_encoder([PROMPT], dev)
            with torch.no_grad(), torch.autocast("cuda", dtype=self.param_dtype):
                if preset == "dense":
                    self.model([torch.zeros(16, T, H, W, device=dev)], t=torch.tensor([500.0], device=dev),
                               context=ctx, seq_len=seq_len)
                else:
                    keep = {k: cls.__dict__[k] for k in ("enable_teacache", "linear_to_hilbert", "hilbert_order",
                                                          "block_neighbor_list")}
                    cls.enable_teacache = False
                    for r, sel in zip([0.75, 1.0] if preset == "turbo" else [1.0], cls.curve_sels):
                        cls.linear_to_hilbert, cls.hilbert_order, cls.block_neighbor_list = sel[0]
                        lat = [torch.zeros(16, T, int(H * r) // 2 * 2, int(W * r) // 2 * 2, device=dev)]
                        for drop in (0.0, 0.85):
                            self.model(lat, t=torch.tensor([500.0], device=dev), context=ctx, seq_len=seq_len,
                                       sa_drop_rate=drop)
                    for k, v in keep.items():
                        setattr(cls, k, v)
                    self.model.__dict__.pop("cnt", None)  # teacache_forward's counter, as generate() left it
            torch.cuda.synchronize()
            trace.calls.clear()
            density.clear()
            torch.cuda.reset_peak_memory_stats()
            s = time.perf_counter()
            out = fn(self, *args, **kw)
            torch.cuda.synchronize()
            timing["generate_s"] = time.perf_counter() - s
            timing["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
            return out
        return run

    for preset in a.preset.split(","):
        full, low = latent_shapes(size, frames, preset == "turbo")
        gen.manual_seed(a.seed + 1 + PRESETS.index(preset))
        # bf16-exact noise, stored as bf16: a file stays under the GPU tool's 16 MiB per file
        inputs = {"noise": torch.randn(*low, generator=gen).to(torch.bfloat16).float(), "context": context,
                  "context_null": context_null}
        if preset == "turbo":
            inputs["noise_full"] = torch.randn(*full, generator=gen).to(torch.bfloat16).float()
        trace, timing = Trace(cuda=True, keep=set(a.snapshots or ()) | {steps - 1}), {}
        final = run_preset(O, preset, model, inputs, steps, size, frames, device, a.solver, trace,
                           on_generate=lambda fn: timed(fn, preset, trace, timing))
        torch.cuda.synchronize()
        calls = trace.calls
        ms = [c["ev"][0].elapsed_time(c["ev"][1]) for c in calls]
        comp = [c["computed"] for c in calls]
        out = {k: v.to(torch.bfloat16) for k, v in inputs.items()}
        out["latents"] = final
        for i in a.snapshots or ():
            if i < steps:
                out["step_%d" % i] = trace.latents[i].to(torch.bfloat16)
        del trace.latents
        out.update(trace_tensors(trace, steps))
        dens = {str(L): round(v[0].item() / v[1], 3) for L, v in sorted(density.items())}
        path = os.path.join(a.out, "jenga_wan_full_%s.safetensors" % preset)
        save_file({k: v.contiguous() for k, v in out.items()}, path,
                  metadata=metadata(preset, steps, size, frames, a.solver, trace,
                                    {"model": "random 1.3B checkpoint %s (bench/wan_dit_peer.py writer, seed %d)" %
                                              (a.ckpt, a.seed),
                                     "attention": "official Triton kernel; dense steps torch SDPA bf16",
                                     "mask_density": json.dumps(dens)}))
        n_comp = sum(comp)
        rec(kind="official_loop", preset=preset, steps=steps, solver=a.solver, size="%dx%d" % size, frames=frames,
            generate_s=round(timing["generate_s"], 2), forwards=len(calls), forwards_computed=n_comp,
            fwd_ms_computed=round(sum(m for m, c in zip(ms, comp) if c) / max(1, n_comp), 1),
            fwd_ms_reused=round(sum(m for m, c in zip(ms, comp) if not c) / max(1, len(comp) - n_comp), 1),
            computed="".join(str(int(c)) for c in comp), mask_density=dens,
            peak_gib=round(timing["peak_gib"], 2), file=path, final_norm=round(final.norm().item(), 3))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--official", required=True, help="root of the official Jenga tree (jenga_wan.py, gilbert.py, wan/)")
    ap.add_argument("--shim", help="stand-ins for missing packages (peers/shim: diffusers base classes, easydict, ...)")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--preset", default=None, help="comma list of dense, base, turbo, sparse, turbo_long (default: all; --full: dense,base,turbo)")
    ap.add_argument("--steps", type=int, help="sampling steps (CI default: dense 12, others 30; --full 50; >= 27 for turbo)")
    ap.add_argument("--solver", default="unipc", choices=["unipc", "dpm++"])
    ap.add_argument("--snapshots", type=lambda v: [int(x) for x in v.split(",") if x],
                    help="loop indices whose latents are saved as step_<i> (CI default per preset; --full: none)")
    ap.add_argument("--jenga-bin", help="CI: the jenga binary (writes the tiny test model)")
    ap.add_argument("--model", help="CI: a tiny model folder instead of running make-tiny")
    ap.add_argument("--full", action="store_true", help="GPU: random full-size 1.3B, 832x480x81, Triton kernel")
    ap.add_argument("--ckpt", help="--full: checkpoint folder (written when missing)")
    ap.add_argument("--seed", type=int, default=0, help="--full: checkpoint and input seed")
    a = ap.parse_args()
    a.preset = a.preset or ("dense,base,turbo" if a.full else "dense,base,turbo,sparse,turbo_long")
    for p in a.preset.split(","):
        if p not in PRESETS:
            ap.error(f"--preset {p}: use one of {', '.join(PRESETS)}")
    if a.steps is not None and a.steps < 27 and "turbo" in a.preset:
        ap.error("--steps: turbo switches resolution at loop index 25 and needs >= 27 steps")
    if not os.path.isfile(os.path.join(a.official, "jenga_wan.py")):
        ap.error(f"--official {a.official}: no jenga_wan.py there (give the root of a Jenga tree)")
    if a.full:
        if not a.ckpt:
            ap.error("--full needs --ckpt")
        if not torch.cuda.is_available():
            ap.error("--full needs a CUDA GPU (the official Triton kernel)")
    elif not a.model and not a.jenga_bin:
        ap.error("CI mode needs --jenga-bin (or --model)")
    O = import_official(os.path.abspath(a.official), a.shim and os.path.abspath(a.shim))
    (run_full if a.full else run_ci)(O, a)


if __name__ == "__main__":
    main()
