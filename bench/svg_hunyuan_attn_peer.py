#!/usr/bin/env python3
"""Peer timing: the official Sparse VideoGen HunyuanVideo attention, one layer call at full size.

usage: python3 bench/svg_hunyuan_attn_peer.py --svg peers/svgref [--size 1280x720 --frames 125]
  --svg: a folder holding the official `svg/` package (git archive of svg-project/Sparse-VideoGen).

Times Hunyuan_SVGAttn_Processor2_0.attention_core_logic (svg/models/hyvideo/attention.py, the
sparse path every block past the warm-up takes: sample_mse over 64 sampled rows, the Triton head
placement, the compiled flex attention with the block mask of prepare_flexattention, the Triton
placement back) on random bf16 q/k/v [1, 24, video + 256 text, 128], 40 valid text rows (what
`jenga bench dit --config hunyuan` feeds), with CUDA events. The settings are the official 720p
script's (sparsity 0.25); num_frame = 1 + frames // 4 and frame_size = H * W / 256 as
replace_hyvideo_attention computes them.

Stand-ins, and why: the two profiling masks (get_attention_mask) are built here on the GPU with
the same formulas (equal to the official function, checked on the CPU on 3x128+16, 5x96+24 and
4x200+40 token grids; our C++ masks are checked the same way in CI): the official function fills a 115456^2 float32
CPU tensor (53 GB) with Python loops, minutes of setup that is not part of a forward. Imports the
SVG path never calls are stubbed when absent (flashinfer, cuvs, flash_attn: the dense layers'
kernels; diffusers' Attention / apply_rotary_emb / DEFAULT_PROMPT_TEMPLATE; loguru, termcolor).
The official module is imported unmodified; its flex_attention stays torch.compile'd.
"""
import argparse
import json
import math
import os
import sys
import time
import types


def stub(name, **attrs):
    if name in sys.modules:
        return
    try:
        __import__(name)
        return
    except ImportError:
        pass
    m = types.ModuleType(name)
    for k, v in attrs.items():
        setattr(m, k, v)
    sys.modules[name] = m


def install_stubs():
    for name in ["flashinfer", "flashinfer.sparse", "cuvs", "cuvs.cluster"]:
        stub(name)
    stub("cuvs.cluster.kmeans", KMeansParams=object, fit=None)
    stub("flash_attn")
    stub("flash_attn.flash_attn_interface", flash_attn_varlen_func=None)
    try:
        import diffusers  # noqa: F401
    except ImportError:
        for name in ["diffusers", "diffusers.models", "diffusers.pipelines", "diffusers.pipelines.hunyuan_video"]:
            stub(name)
        stub("diffusers.models.attention", Attention=object)
        stub("diffusers.models.embeddings", apply_rotary_emb=None)
        stub("diffusers.pipelines.hunyuan_video.pipeline_hunyuan_video", DEFAULT_PROMPT_TEMPLATE={})
    import logging
    stub("loguru", logger=logging.getLogger("svg"))
    stub("termcolor", colored=lambda s, *a, **k: s)


def profiling_masks(torch, rows, context_length, num_frame, frame_size, device, chunk=512):
    """The first `rows` rows of get_attention_mask("spatial" / "temporal"): float32 [rows, L],
    built a chunk of rows at a time (int64 temporaries of [rows, L] would need tens of GB)."""
    V = num_frame * frame_size
    L = V + context_length
    band = int((frame_size * 1.5) // 128)
    k = torch.arange(L, device=device).view(1, -1)
    tm = lambda t: (t % frame_size) * num_frame + t // frame_size  # noqa: E731  token-major position
    kb, kt = k // 128, tm(k) // 128
    out = [torch.empty(rows, L, device=device) for _ in range(2)]
    for r0 in range(0, rows, chunk):
        q = torch.arange(r0, min(rows, r0 + chunk), device=device).view(-1, 1)
        text = (q >= V) | (k >= V)
        out[0][r0:r0 + q.shape[0]] = (text | ((q // 128 - kb).abs() < band)).float()
        out[1][r0:r0 + q.shape[0]] = (text | ((tm(q) // 128 - kt).abs() < band)).float()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--svg", required=True)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--frames", type=int, default=125)
    ap.add_argument("--valid", type=int, default=40)
    ap.add_argument("--sparsity", type=float, default=0.25)
    ap.add_argument("--iters", type=int, default=3)
    args = ap.parse_args()
    install_stubs()
    sys.path.insert(0, os.path.abspath(args.svg))
    import torch
    import svg.models.hyvideo.attention as attn_mod
    import svg.models.hyvideo.utils as utils_mod

    width, height = (int(x) for x in args.size.split("x"))
    heads, head_dim, dtype, dev = 24, 128, torch.bfloat16, "cuda"
    context_length, num_frame = 256, 1 + args.frames // 4
    frame_size = height * width // 256
    L = context_length + num_frame * frame_size
    rows_max, num_rows = 10000, 64
    t0 = time.time()
    mul = utils_mod.sparsity_to_width(args.sparsity, context_length, num_frame, frame_size)
    P = attn_mod.Hunyuan_SVGAttn_Processor2_0
    P.prompt_length, P.context_length, P.num_frame, P.frame_size = args.valid, context_length, num_frame, frame_size
    P.num_sampled_rows, P.sample_mse_max_row = num_rows, rows_max
    P.attention_masks = profiling_masks(torch, rows_max, context_length, num_frame, frame_size, dev)
    P.first_layers_fp, P.first_times_fp = 0, 1000  # every call takes the sparse path
    P.block_mask = attn_mod.prepare_flexattention(1, heads, head_dim, dtype, dev, context_length, args.valid,
                                                  num_frame, frame_size, diag_width=mul, multiplier=mul)
    torch.cuda.synchronize()
    setup_s = time.time() - t0
    proc = P(layer_idx=1)
    g = torch.Generator(device=dev).manual_seed(0)
    q, k, v = (torch.randn(1, heads, L, head_dim, generator=g, device=dev, dtype=dtype) for _ in range(3))
    ts = torch.tensor([999], device=dev)
    proc.attention_core_logic(q, k, v, ts, 1, None)  # warm-up (Triton kernels)
    torch.cuda.synchronize()
    ms = []
    for _ in range(args.iters):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        proc.attention_core_logic(q, k, v, ts, 1, None)
        b.record()
        torch.cuda.synchronize()
        ms.append(a.elapsed_time(b))
    ms.sort()
    print(json.dumps({"peer": "official SVG HunyuanVideo attention_core_logic (one layer)", "tokens": L,
                      "num_frame": num_frame, "frame_size": frame_size, "sparsity": args.sparsity,
                      "multiplier": mul, "band_width": math.floor(mul * frame_size / 128) * 128,
                      "block_mask_density": float(P.block_mask.to_dense().float().mean()),
                      "ms_per_layer_median": ms[len(ms) // 2], "ms_all": ms, "setup_s": setup_s,
                      "gpu": torch.cuda.get_device_name(), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
