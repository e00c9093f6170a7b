#!/usr/bin/env python3
"""Goldens for Sparse VideoGen (v1) on HunyuanVideo, from the official code.

usage: TRITON_INTERPRET=1 tools/golden/svg_hunyuan_golden.py --svg <Sparse-VideoGen checkout> --out tests/data/svg/
  --svg: a folder holding the official `svg/` package (git archive of svg-project/Sparse-VideoGen).

Runs the official HunyuanVideo SVG processor (svg/models/hyvideo/attention.py,
Hunyuan_SVGAttn_Processor2_0) on the CPU on tiny joint sequences [video | valid text | padding
text] (some heads built spatial, some temporal, some random): sample_mse (rows recorded by
re-seeding torch), the two profiling masks (utils.get_attention_mask), the flex BlockMask of
generate_temporal_head_mask_mod (as prepare_flexattention builds it), the head placement and the
whole attention_core_logic output (sparse path).

Stubs, and only these: GPU-only or absent imports the SVG v1 path never calls (flashinfer, cuvs,
flash_attn, diffusers' Attention / apply_rotary_emb / DEFAULT_PROMPT_TEMPLATE); triton, when it is
absent, as a permissive module so the Triton kernels' definitions import, and then the processor's
placement runs through the official pure-PyTorch references (ref_hunyuan_sparse_head_placement /
ref_hunyuan_hidden_states_placement, which the official placement test asserts equal to the Triton
kernels) instead of the Triton kernels; flex attention eager instead of torch.compile.
The official code itself is imported unmodified.
"""
import argparse
import os
import sys
import types

os.environ.setdefault("TRITON_INTERPRET", "1")  # run the official Triton placement kernels on the CPU

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from svg_golden import save_golden, stub_logging_and_cuda  # noqa: E402  (the Wan golden's helpers)


class _Permissive:
    """Any attribute, call or subscript works; a call with one callable returns it (decorators)."""

    def __getattr__(self, name):
        return _Permissive()

    def __call__(self, *a, **k):
        if len(a) == 1 and callable(a[0]) and not k:
            return a[0]
        return _Permissive()

    def __getitem__(self, key):
        return _Permissive()


def install_stubs():
    triton_missing = False
    try:
        import triton  # noqa: F401
    except ImportError:
        triton_missing = True
        for name in ["triton", "triton.language"]:
            m = types.ModuleType(name)
            m.__getattr__ = lambda attr: _Permissive()
            sys.modules[name] = m
        sys.modules["triton"].language = sys.modules["triton.language"]
    for name in ["flashinfer", "flashinfer.sparse", "cuvs", "cuvs.cluster", "cuvs.cluster.kmeans",
                 "flash_attn", "flash_attn.flash_attn_interface"]:
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["cuvs.cluster.kmeans"].KMeansParams = object
    sys.modules["cuvs.cluster.kmeans"].fit = None

    def no_varlen(*a, **k):
        raise RuntimeError("flash_attn_varlen_func: the dense (full_attention_flag) path is not part of this golden")

    sys.modules["flash_attn.flash_attn_interface"].flash_attn_varlen_func = no_varlen
    for name in ["diffusers", "diffusers.models", "diffusers.models.attention", "diffusers.models.embeddings",
                 "diffusers.pipelines", "diffusers.pipelines.hunyuan_video",
                 "diffusers.pipelines.hunyuan_video.pipeline_hunyuan_video"]:
        sys.modules[name] = types.ModuleType(name)
    sys.modules["diffusers.models.attention"].Attention = object
    sys.modules["diffusers.models.embeddings"].apply_rotary_emb = None
    sys.modules["diffusers.pipelines.hunyuan_video.pipeline_hunyuan_video"].DEFAULT_PROMPT_TEMPLATE = {}
    stub_logging_and_cuda()
    return triton_missing


def make_qkv(gen, heads, frames, frame_tokens, text, dim, kinds):
    """q/k/v [1, heads, frames*frame_tokens + text, dim]; on the video rows 's' heads share a
    per-frame direction (spatial), 't' heads a per-position direction across frames (temporal),
    'r' heads are plain noise; the text rows are noise."""
    V = frames * frame_tokens
    L = V + text
    q = torch.randn(1, heads, L, dim, generator=gen)
    k = torch.randn(1, heads, L, dim, generator=gen)
    v = torch.randn(1, heads, L, dim, generator=gen)
    f = torch.arange(V) // frame_tokens
    p = torch.arange(V) % frame_tokens
    for h, kind in enumerate(kinds):
        if kind == "s":
            d = torch.randn(frames, dim, generator=gen) * 3.0
            q[0, h, :V] += d[f]
            k[0, h, :V] += d[f]
        elif kind == "t":
            d = torch.randn(frame_tokens, dim, generator=gen) * 3.0
            q[0, h, :V] += d[p]
            k[0, h, :V] += d[p]
    return q, k, v


def run_case(attn_mod, utils_mod, place_mod, use_ref_placement, name, out_dir, frames, frame_tokens, text, valid, dim,
             kinds, sparsity, rows, seed, save_masks=True):
    from torch.nn.attention.flex_attention import create_block_mask

    torch._dynamo.reset()
    P = attn_mod.Hunyuan_SVGAttn_Processor2_0
    V = frames * frame_tokens
    L = V + text
    heads = len(kinds)
    gen = torch.Generator().manual_seed(seed)
    q, k, v = make_qkv(gen, heads, frames, frame_tokens, text, dim, kinds)

    # As svg/models/hyvideo/inference.py replace_hyvideo_attention does for pattern "SVG".
    context_length, prompt_length = text, valid
    sample_mse_max_row = L  # the official default 10000 exceeds these tiny sequences
    multiplier = utils_mod.sparsity_to_width(sparsity, context_length, frames, frame_tokens)
    P.prompt_length, P.context_length, P.num_frame, P.frame_size = prompt_length, context_length, frames, frame_tokens
    P.num_sampled_rows = rows
    P.sample_mse_max_row = sample_mse_max_row
    P.attention_masks = [utils_mod.get_attention_mask(m, sample_mse_max_row, context_length, frames, frame_tokens,
                                                      device="cpu") for m in ["spatial", "temporal"]]
    P.first_layers_fp, P.first_times_fp = 0, 1000
    mask_mod = utils_mod.generate_temporal_head_mask_mod(context_length, prompt_length, frames, frame_tokens,
                                                         mul=multiplier)
    P.block_mask = create_block_mask(mask_mod, None, None, L, L, device="cpu", _compile=False)

    proc = P(layer_idx=1)
    if use_ref_placement:  # the official pure-PyTorch placement (no Triton here)
        proc.fast_sparse_head_placement = proc.sparse_head_placement

        def placement_back(hidden, out_hidden, best, c, f, s):
            place_mod.ref_hunyuan_hidden_states_placement(hidden, out_hidden, best, c, f, s)

        proc.fast_hidden_states_placement = placement_back
    torch.manual_seed(seed)
    sampled_rows = torch.randint(low=0, high=sample_mse_max_row, size=(min(rows, L),))
    torch.manual_seed(seed)
    mses = proc.sample_mse(q, k, v)  # [2, 1, heads]
    best = torch.argmin(mses, dim=0)  # [1, heads]
    torch.manual_seed(seed)
    out = proc.attention_core_logic(q, k, v, torch.tensor([999]), 1, None)  # [1, heads, L, dim]

    # Placement permutation: push token indices through the official placement.
    idx = torch.arange(L, dtype=torch.float32).view(1, 1, L, 1).expand(1, heads, L, 16).contiguous()
    z = [torch.zeros_like(idx) for _ in range(3)]
    oq, _, _ = proc.fast_sparse_head_placement(idx, idx, idx, *z, best, context_length, frames, frame_tokens)
    order = oq[0, :, :, 0].round().to(torch.int32)  # order[h, i] = original index at placed position i

    qi = torch.arange(L).view(L, 1)
    ki = torch.arange(L).view(1, L)
    token_mask = mask_mod(0, 0, qi, ki)
    block_cover = P.block_mask.to_dense()[0, 0].to(torch.uint8)

    t = {
        "q": q[0].contiguous(), "k": k[0].contiguous(), "v": v[0].contiguous(),
        "sampled_rows": sampled_rows.to(torch.int32),
        "mse": mses[:, 0, :].contiguous(),                 # [2, heads]: spatial, temporal
        "best": best[0].to(torch.int32),                   # [heads]: 0 spatial, 1 temporal
        "order": order.contiguous(),                       # [heads, L]
        "block_cover": block_cover.contiguous(),           # [L blocks, L blocks]
        "out": out[0].contiguous(),                        # [heads, L, dim]
        "grid": torch.tensor([frames, frame_tokens, rows, sample_mse_max_row, text, valid], dtype=torch.int64),
    }
    meta = {"sparsity": repr(sparsity), "multiplier": repr(multiplier),
            "band_width": str(int(np.floor(multiplier * frame_tokens / 128) * 128)),
            "placement": "official ref_hunyuan_* (PyTorch)" if use_ref_placement else "official Triton"}
    path = save_golden(out_dir, name, t, meta, P.attention_masks if save_masks else None, token_mask)
    print(f"{name}: V={V} text={text} valid={valid} best={best[0].tolist()} kinds={kinds} "
          f"mse={mses[:, 0, :].tolist()} mul={multiplier:.4f} W={meta['band_width']} "
          f"cover_density={block_cover.float().mean():.3f} -> {path} ({os.path.getsize(path)} bytes)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--svg", required=True, help="folder holding the official svg/ package")
    ap.add_argument("--out", required=True, help="output folder, e.g. tests/data/svg/")
    args = ap.parse_args()
    triton_missing = install_stubs()
    sys.path.insert(0, os.path.abspath(args.svg))
    import svg.models.hyvideo.attention as attn_mod
    import svg.models.hyvideo.placement as place_mod
    import svg.models.hyvideo.utils as utils_mod
    from torch.nn.attention.flex_attention import flex_attention
    attn_mod.flex_attention = flex_attention  # eager on the CPU instead of the module's torch.compile wrapper
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    run = lambda *a, **k: run_case(attn_mod, utils_mod, place_mod, triton_missing, *a, **k)  # noqa: E731
    # 3 frames x 128 tokens + 16 text rows (10 real): one-block profiling band, W = 128.
    run("hy_aligned", args.out, 3, 128, 16, 10, 8, "sttr", 0.75, 32, 1)
    # Ragged: 5 frames x 96 = 480 video rows (last video block mixed with text), 24 text rows (7 real).
    run("hy_ragged", args.out, 5, 96, 24, 7, 8, "tsr", 0.8, 24, 2)
    # Longer, the official HunyuanVideo script's sparsity 0.25: 8 x 192 = 1536 video + 32 text (20 real).
    run("hy_wide", args.out, 8, 192, 32, 20, 8, "str", 0.25, 64, 3, save_masks=False)


if __name__ == "__main__":
    main()
