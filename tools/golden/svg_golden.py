#!/usr/bin/env python3
"""Goldens for the Sparse VideoGen (v1) head classification, from the official code.

usage: TRITON_INTERPRET=1 tools/golden/svg_golden.py --svg third_party_ref/svg --out tests/data/svg/
  --svg: a folder holding the official `svg/` package (git archive of svg-project/Sparse-VideoGen).

Runs the official Wan SVG processor on CPU on tiny q/k/v (some heads built spatial, some temporal,
some random): sample_mse (rows recorded by re-seeding torch), the two profiling masks
(get_attention_mask), the flex BlockMask (prepare_flexattention's mask_mod), the Triton head
placement (under TRITON_INTERPRET=1) and the whole attention_core_logic output.
Only stubs for GPU-only imports live here; the official code is imported unmodified.
"""
import argparse
import os
import sys
import types

os.environ.setdefault("TRITON_INTERPRET", "1")  # run the official Triton placement kernels on CPU

import numpy as np
import torch
from safetensors.torch import save_file


def install_stubs():
    # GPU-only or absent packages the official modules import at top level but SVG v1 never calls.
    for name in ["flashinfer", "cuvs", "cuvs.cluster", "cuvs.cluster.kmeans"]:
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["cuvs.cluster.kmeans"].KMeansParams = object
    sys.modules["cuvs.cluster.kmeans"].fit = None
    # attention.py imports three diffusers names only for type checks in code SVG's core never reaches.
    for name in ["diffusers", "diffusers.models", "diffusers.models.attention_processor",
                 "diffusers.models.embeddings", "diffusers.models.normalization"]:
        sys.modules[name] = types.ModuleType(name)
    sys.modules["diffusers.models.attention_processor"].Attention = object
    sys.modules["diffusers.models.embeddings"].apply_rotary_emb = None
    sys.modules["diffusers.models.normalization"].RMSNorm = type("RMSNorm", (), {})
    stub_logging_and_cuda()


def stub_logging_and_cuda():
    """loguru / termcolor when absent; CUDA moves and memory reports made no-ops (the official
    get_attention_mask moves its mask to CUDA): everything stays on the CPU."""
    if "loguru" not in sys.modules:
        try:
            import loguru  # noqa: F401
        except ImportError:
            m = types.ModuleType("loguru")
            import logging
            m.logger = logging.getLogger("svg")
            sys.modules["loguru"] = m
    try:
        import termcolor  # noqa: F401
    except ImportError:
        m = types.ModuleType("termcolor")
        m.colored = lambda s, *a, **k: s
        sys.modules["termcolor"] = m
    torch.cuda.memory_allocated = lambda *a, **k: 0
    torch.Tensor.cuda = lambda self, *a, **k: self


def save_golden(out_dir, name, t, meta, profile_masks=None, token_mask=None):
    """Writes name.safetensors; the masks (when given) as big-endian bit-packed bools (numpy.packbits)."""
    if profile_masks is not None:
        t["profile_mask_bits"] = torch.from_numpy(np.packbits(
            torch.stack([m.bool() for m in profile_masks]).numpy().reshape(-1)))  # [2, L, L]
        t["token_mask_bits"] = torch.from_numpy(np.packbits(token_mask.numpy().reshape(-1)))  # [L, L]
    path = os.path.join(out_dir, f"{name}.safetensors")
    save_file(t, path, metadata=meta)
    return path


def make_qkv(gen, heads, frames, frame_tokens, dim, kinds):
    """q/k/v [1, heads, frames*frame_tokens, dim]; 's' heads share a per-frame direction (spatial),
    't' heads a per-position direction across frames (temporal), 'r' heads are plain noise."""
    L = frames * frame_tokens
    q = torch.randn(1, heads, L, dim, generator=gen)
    k = torch.randn(1, heads, L, dim, generator=gen)
    v = torch.randn(1, heads, L, dim, generator=gen)
    f = torch.arange(L) // frame_tokens
    p = torch.arange(L) % frame_tokens
    for h, kind in enumerate(kinds):
        if kind == "s":
            d = torch.randn(frames, dim, generator=gen) * 3.0
            q[0, h] += d[f]
            k[0, h] += d[f]
        elif kind == "t":
            d = torch.randn(frame_tokens, dim, generator=gen) * 3.0
            q[0, h] += d[p]
            k[0, h] += d[p]
    return q, k, v


def run_case(attn_mod, utils_mod, name, out_dir, frames, frame_tokens, dim, kinds, sparsity, rows, seed,
             save_masks=True):
    from torch.nn.attention.flex_attention import create_block_mask

    torch._dynamo.reset()  # flex's eager path traces the mask_mod; a new float multiplier must not recompile

    P = attn_mod.WanAttn_SVGAttn_Processor2_0
    L = frames * frame_tokens
    heads = len(kinds)
    gen = torch.Generator().manual_seed(seed)
    q, k, v = make_qkv(gen, heads, frames, frame_tokens, dim, kinds)

    # As svg/models/wan/inference.py replace_wan_attention does for pattern SVG (context_length = 0).
    context_length = 0
    sample_mse_max_row = L  # official default 10000 exceeds these tiny sequences
    P.num_sampled_rows = rows
    P.sample_mse_max_row = sample_mse_max_row
    P.sparsity = sparsity
    P.attention_masks = [utils_mod.get_attention_mask(m, sample_mse_max_row, context_length, frames, frame_tokens)
                         for m in ["spatial", "temporal"]]
    multiplier = utils_mod.sparsity_to_width(sparsity, context_length, frames, frame_tokens)
    P.context_length, P.num_frame, P.frame_size = context_length, frames, frame_tokens
    P.first_layers_fp, P.first_times_fp = 0, 1000
    mask_mod = utils_mod.generate_temporal_head_mask_mod(context_length, context_length, frames, frame_tokens,
                                                         mul=multiplier)
    P.block_mask = create_block_mask(mask_mod, None, None, L, L, device="cpu", _compile=False)

    proc = P(layer_idx=1)
    torch.manual_seed(seed)
    n = min(rows, L)
    sampled_rows = torch.randint(low=0, high=sample_mse_max_row, size=(n,))
    torch.manual_seed(seed)
    mses = proc.sample_mse(q, k, v)  # [2, 1, heads]
    best = torch.argmin(mses, dim=0)  # [1, heads]
    torch.manual_seed(seed)
    out = proc.attention_core_logic(q, k, v, torch.tensor([999]))  # [1, heads, L, dim]

    # Placement permutation: push token indices through the official Triton placement.
    idx = torch.arange(L, dtype=torch.float32).view(1, 1, L, 1).expand(1, heads, L, 16).contiguous()
    oq, ok, ov = torch.zeros_like(idx), torch.zeros_like(idx), torch.zeros_like(idx)
    attn_mod.wan_sparse_head_placement(idx, idx, idx, oq, ok, ov, best, context_length, frames, frame_tokens)
    order = oq[0, :, :, 0].round().to(torch.int32)  # order[h, i] = original index at placed position i

    # Token-level mask the flex kernel applies in placed order, and its 128-block cover.
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
        "block_cover": block_cover.contiguous(),           # [q_blocks, k_blocks]
        "out": out[0].contiguous(),                        # [heads, L, dim]
        "grid": torch.tensor([frames, frame_tokens, rows, sample_mse_max_row], dtype=torch.int64),
    }
    meta = {"sparsity": repr(sparsity), "multiplier": repr(multiplier),
            "band_width": str(int(np.ceil(multiplier * frame_tokens / 128) * 128))}
    path = save_golden(out_dir, name, t, meta, P.attention_masks if save_masks else None, token_mask)
    print(f"{name}: L={L} best={best[0].tolist()} kinds={kinds} mse={mses[:, 0, :].tolist()} "
          f"mul={multiplier:.4f} cover_density={block_cover.float().mean():.3f} -> {path} "
          f"({os.path.getsize(path)} bytes)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--svg", required=True, help="folder holding the official svg/ package")
    ap.add_argument("--out", required=True, help="output folder, e.g. tests/data/svg/")
    args = ap.parse_args()
    install_stubs()
    sys.path.insert(0, os.path.abspath(args.svg))
    import svg.models.wan.attention as attn_mod
    import svg.models.wan.utils as utils_mod
    from torch.nn.attention.flex_attention import flex_attention
    attn_mod.flex_attention = flex_attention  # eager on CPU instead of the module's torch.compile wrapper
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    # 128-aligned frames: 3 frames x 128 tokens (3 blocks).
    run_case(attn_mod, utils_mod, "aligned", args.out, 3, 128, 4, "sttr", 0.5, 32, 1)
    # Ragged: 5 frames x 56 tokens = 280 (3 blocks, last one 24 rows), wider band.
    run_case(attn_mod, utils_mod, "ragged", args.out, 5, 56, 8, "tsr", 0.6, 24, 2)
    # Longer sequence for the layout: 8 frames x 96 = 768 tokens (6 blocks), official script sparsity.
    run_case(attn_mod, utils_mod, "wide", args.out, 8, 96, 4, "str", 0.3, 64, 3, save_masks=False)


if __name__ == "__main__":
    main()
