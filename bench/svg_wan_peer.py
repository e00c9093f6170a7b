#!/usr/bin/env python3
"""Official Sparse VideoGen (v1) attention inside the official Wan2.1 loop, on the GPU machine.

  prepare: the random full-size 1.3B checkpoint (official WanModel, bench/wan_dit_peer.py writer;
           the one tools/golden/jenga_wan_pipeline.py --full uses) and an inputs file for
           `jenga debug denoise` (noise [16, 21, 60, 104], context [28, 4096], context_null [64, 4096],
           bf16-exact, from --seed), plus INPUTS_turbo (Turbo's and Flash's 0.75-stage noise
           [16, 21, 44, 78], noise_full = the same full-size noise) and INPUTS_3stage (noise
           [16, 21, 30, 52], noise_1 [16, 21, 44, 78], noise_full the same full-size noise).
  run:     the upstream Wan2.1 loop (`WanT2V.generate`, UniPC, CFG, 50 steps, via the stand-ins of
           tools/golden/jenga_wan_pipeline.py: stub umT5 returning the stored contexts, no VAE, stored
           noise) with every self-attention call replaced by the official
           `WanAttn_SVGAttn_Processor2_0.attention_core_logic` (svg-project/Sparse-VideoGen
           svg/models/wan/attention.py: sample_mse profiling, Triton head placement, the compiled
           flex-attention block mask), set up as its `replace_wan_attention` does with the settings
           of scripts/wan/wan_t2v_720p_svg.sh (sparsity 0.3, first_times_fp 0.2, first_layers_fp 0.03,
           64 sampled rows, sample_mse_max_row 10000). Prints per-forward times (dense / SVG, after
           warm-up) and the loop's wall time as JSON lines; writes the final latents.

Why not `wan_t2v_inference.py` itself: it runs diffusers' WanPipeline / WanTransformer3DModel
(diffusers 0.34), which the GPU machine lacks; the processor's attention math (q/k/v after RMSNorm
and RoPE in, output before the projection) is the same in the upstream Wan DiT. Stubbed at import
only: flashinfer / cuvs (SAP only), the three diffusers names attention.py imports for its diffusers
processor path (unused here), loguru / termcolor when absent. The official code is imported from
--svg (peers/svgref) unmodified. Ours; no official code here.
"""
import argparse
import json
import math
import os
import sys
import time
import types

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools", "golden"))
F_LAT, S_TOK, LAYERS, HEADS, HEAD_DIM = 21, 30 * 52, 30, 12, 128  # 832x480x81 -> 21 x 1560 tokens


def rec(**kw):
    print(json.dumps(kw), flush=True)


def install_stubs():
    for name in ["flashinfer", "cuvs", "cuvs.cluster", "cuvs.cluster.kmeans"]:
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["cuvs.cluster.kmeans"].KMeansParams = object
    sys.modules["cuvs.cluster.kmeans"].fit = None
    for name in ["diffusers.models.attention_processor", "diffusers.models.embeddings", "diffusers.models.normalization"]:
        sys.modules[name] = types.ModuleType(name)
    sys.modules["diffusers.models.attention_processor"].Attention = object
    sys.modules["diffusers.models.embeddings"].apply_rotary_emb = None
    sys.modules["diffusers.models.normalization"].RMSNorm = type("RMSNorm", (), {})
    for mod, attr, val in (("loguru", "logger", None), ("termcolor", "colored", lambda s, *a, **k: s)):
        try:
            __import__(mod)
        except ImportError:
            m = types.ModuleType(mod)
            if mod == "loguru":
                import logging
                val = logging.getLogger("svg")
            setattr(m, attr, val)
            sys.modules[mod] = m


def official(a):
    import jenga_wan_pipeline as JP
    O = JP.import_official(os.path.join(a.peers, "jengawan"), os.path.join(a.peers, "shim"))
    return JP, O


def cmd_prepare(a):
    from safetensors.torch import save_file
    JP, O = official(a)
    JP.full_checkpoint(O, a.ckpt, a.seed)  # writes CKPT when it has none
    gen = torch.Generator().manual_seed(a.seed)
    bf = lambda *s: torch.randn(*s, generator=gen).to(torch.bfloat16)
    t = {"context": bf(28, 4096), "context_null": bf(64, 4096), "noise": bf(16, F_LAT, 60, 104)}
    os.makedirs(os.path.dirname(os.path.abspath(a.inputs)), exist_ok=True)
    save_file(t, a.inputs)
    # Turbo starts at the 0.75 stage: its own first noise, the same full-size noise for the re-noise.
    turbo = {"context": t["context"], "context_null": t["context_null"], "noise": bf(16, F_LAT, 44, 78),
             "noise_full": t["noise"]}
    save_file(turbo, a.inputs.replace(".safetensors", "_turbo.safetensors"))  # also flash's (0.75, 1.0)
    # 3stage (0.5, 0.75, 1.0): its 0.5-stage noise, the 0.75 re-noise, the same full-size noise.
    # Drawn after the others, so the files above stay what they were.
    three = {"context": t["context"], "context_null": t["context_null"], "noise": bf(16, F_LAT, 30, 52),
             "noise_1": bf(16, F_LAT, 44, 78), "noise_full": t["noise"]}
    save_file(three, a.inputs.replace(".safetensors", "_3stage.safetensors"))
    rec(kind="prepared", ckpt=a.ckpt, inputs=a.inputs)


def cmd_run(a):
    from safetensors.torch import load_file, save_file
    JP, O = official(a)
    JP.SHIFT, JP.GUIDE = a.shift, a.guide
    install_stubs()
    sys.path.insert(0, os.path.abspath(a.svg))
    import svg.models.wan.attention as A
    import svg.models.wan.utils as U
    P = A.WanAttn_SVGAttn_Processor2_0
    # replace_wan_attention(pattern="SVG") with context_length 0, the script's settings.
    steps = a.steps
    sched = O.UNIPC.FlowUniPCMultistepScheduler(num_train_timesteps=1000, shift=1, use_dynamic_shifting=False)
    sched.set_timesteps(steps, device="cpu", shift=a.shift)
    n_fp_t, n_fp_l = math.floor(a.first_times_fp * steps), math.floor(a.first_layers_fp * LAYERS)
    P.first_times_fp = float(sched.timesteps[n_fp_t - 1]) - 1 if n_fp_t > 0 else 1001
    P.first_layers_fp = n_fp_l
    P.num_sampled_rows, P.sample_mse_max_row, P.sparsity = 64, 10000, a.sparsity
    t0 = time.perf_counter()
    P.attention_masks = [U.get_attention_mask(m, 10000, 0, F_LAT, S_TOK) for m in ("spatial", "temporal")]
    mul = U.sparsity_to_width(a.sparsity, 0, F_LAT, S_TOK)
    P.context_length, P.num_frame, P.frame_size = 0, F_LAT, S_TOK
    P.block_mask = A.prepare_flexattention(1, HEADS, HEAD_DIM, torch.bfloat16, "cuda", 0, 0, F_LAT, S_TOK, mul, mul)
    rec(kind="svg_setup", seconds=round(time.perf_counter() - t0, 1), dense_steps=n_fp_t, dense_layers=n_fp_l,
        first_times_fp=P.first_times_fp, multiplier=mul, block_mask=str(P.block_mask.shape))
    procs = [P(layer_idx=i) for i in range(LAYERS)]
    state = {"calls": 0, "t": None, "svg_calls": 0}
    sdpa = JP.sdpa_attention_bf16

    def attention(q, k, v, q_lens=None, k_lens=None, *args, **kw):
        if q.shape[1] != k.shape[1]:  # cross-attention: the loop's usual attention
            return sdpa(q, k, v, q_lens, k_lens, *args, **kw)
        layer = state["calls"] % LAYERS
        state["calls"] += 1
        out_dtype = q.dtype
        qh, kh, vh = (x.to(torch.bfloat16).transpose(1, 2).contiguous() for x in (q, k, v))
        o = procs[layer].attention_core_logic(qh, kh, vh, state["t"])
        return o.transpose(1, 2).contiguous().to(out_dtype)

    O.MM.flash_attention = attention
    fwd = O.forward

    def forward(model, x, t, *args, **kw):
        state["t"] = t
        return fwd(model, x, t, *args, **kw)

    O.forward = forward
    model = JP.full_checkpoint(O, a.ckpt, a.seed)
    inp = {k: v.float() for k, v in load_file(a.inputs).items()}
    dev = torch.device("cuda:0")
    T, H, W = inp["noise"].shape[1:]
    seq_len = T * H * W // 4
    ctx = [inp["context"].to(dev)]

    def one(tval):
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            forward(model, [torch.zeros(16, T, H, W, device=dev)], torch.tensor([tval], device=dev), ctx, seq_len)

    timing = {}
    for name, tval in (("dense", 999.0), ("svg", 100.0)):
        one(tval)  # warm-up (flex compile, Triton placement, SDPA)
        torch.cuda.synchronize()
        ms = []
        for _ in range(2):
            s = time.perf_counter()
            one(tval)
            torch.cuda.synchronize()
            ms.append((time.perf_counter() - s) * 1e3)
        timing[name] = min(ms)
    rec(kind="official_svg_forward", dense_ms=round(timing["dense"], 1), svg_ms=round(timing["svg"], 1),
        gpu=torch.cuda.get_device_name(), torch=torch.__version__)
    if a.forward_only:
        return
    trace, res = JP.Trace(cuda=True, keep={steps - 1}), {}

    def timed(fn):
        def run(self, *args, **kw):
            torch.cuda.synchronize()
            trace.calls.clear()
            state["svg_calls"] = 0
            s = time.perf_counter()
            out = fn(self, *args, **kw)
            torch.cuda.synchronize()
            res["s"] = time.perf_counter() - s
            return out
        return run

    final = JP.run_preset(O, "dense", model, inp, steps, (W * 8, H * 8), (T - 1) * 4 + 1, dev, "unipc", trace,
                          on_generate=timed)
    ms = [c["ev"][0].elapsed_time(c["ev"][1]) for c in trace.calls]
    svg_ms = [m for m, c in zip(ms, trace.calls) if float(c["t"]) <= P.first_times_fp]
    save_file({"latents": final.contiguous()}, a.out)
    rec(kind="official_svg_loop", steps=steps, shift=a.shift, guide=a.guide, generate_s=round(res["s"], 2),
        forwards=len(ms), fwd_ms_mean=round(sum(ms) / len(ms), 1),
        svg_fwd_ms=round(sum(svg_ms) / max(1, len(svg_ms)), 1), svg_forwards=len(svg_ms),
        peak_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2), file=a.out, final_norm=round(final.norm().item(), 3))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["prepare", "run"])
    ap.add_argument("--peers", default="peers", help="peers/ (jengawan, shim)")
    ap.add_argument("--svg", default="peers/svgref", help="folder holding the official svg/ package")
    ap.add_argument("--ckpt", default="/tmp/wan13b_random")
    ap.add_argument("--inputs", default="/tmp/svg_work/inputs.safetensors")
    ap.add_argument("--out", default="/tmp/svg_work/official_svg.safetensors")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--shift", type=float, default=5.0)
    ap.add_argument("--guide", type=float, default=5.0)
    ap.add_argument("--sparsity", type=float, default=0.3)
    ap.add_argument("--first-times-fp", type=float, default=0.2)
    ap.add_argument("--first-layers-fp", type=float, default=0.03)
    ap.add_argument("--forward-only", action="store_true", help="per-forward times only, no loop")
    a = ap.parse_args()
    (cmd_prepare if a.mode == "prepare" else cmd_run)(a)


if __name__ == "__main__":
    main()
