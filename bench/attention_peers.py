#!/usr/bin/env python3
"""Times the attention peers next to `jenga bench attention`, on the same kind of inputs:
torch SDPA with the cuDNN backend (dense, bf16, [B,H,N,D]) and the official Jenga Triton
block-sparse kernel (`_triton_block_sparse_attention_onehot`) at the same density, plus the
official mask builder (`_build_block_index_with_importance_optimized`). Prints JSON lines.

The official module is imported from the folder given by --jenga (e.g. peers/jengaref, laid
out by shared/peer-bench/make_peers.sh); nothing official is part of this script.

Layouts are drawn as `jenga bench attention` draws them: each query block keeps
max(1, round(d * k_blocks)) key blocks, its diagonal block always, the rest uniformly at random.
The Triton kernel reads whole 128-key tiles unmasked, so (as the official Wan path does) N is
zero-padded to a multiple of 128 and seqlens=[N] masks the padded keys.
"""
import argparse
import json
import sys

import torch

SHAPES = {"hunyuan720": (24, 115456, 128), "wan14b720": (40, 75600, 128), "wan1.3b480": (12, 32760, 128)}


def parse_shape(s):
    if s in SHAPES:
        return SHAPES[s]
    h, n, d = (int(x) for x in s.split(","))
    return h, n, d


def time_ms(fn, iters, warmup):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    n = len(times)
    return times[n // 2] if n % 2 else 0.5 * (times[n // 2 - 1] + times[n // 2]), times[0]


def draw_mask(h, nb, density, gen):
    """bool [1, h, nb, nb]: diagonal + uniform random others, keep = max(1, round(d*nb))."""
    keep = max(1, min(nb, round(density * nb)))
    scores = torch.rand(h, nb, nb, generator=gen, device="cuda")
    idx = torch.arange(nb, device="cuda")
    scores[:, idx, idx] = 2.0  # the diagonal always wins
    top = scores.topk(keep, dim=-1).indices
    mask = torch.zeros(h, nb, nb, dtype=torch.bool, device="cuda")
    mask.scatter_(-1, top, True)
    return mask.unsqueeze(0)


def computed_flops(n, d, mask):
    """4*D*sum(rows x kept key tokens) over the unpadded N."""
    nb = mask.shape[-1]
    tokens = torch.full((nb,), 128.0, device="cuda")
    tokens[-1] = n - 128 * (nb - 1)
    rows = tokens  # query blocks have the same sizes
    kept_keys = (mask.float() * tokens).sum(-1)  # [1, h, nb]
    return float(4 * d * (kept_keys * rows).sum())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jenga", required=True, help="folder holding the official jenga_attn.py")
    ap.add_argument("--shape", action="append", required=True, help="hunyuan720|wan14b720|wan1.3b480|H,N,D")
    ap.add_argument("--density", action="append", type=float, default=None)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--no-cudnn", action="store_true")
    ap.add_argument("--mask-p", type=float, default=0.0, help="prob_threshold for the mask builder timing")
    args = ap.parse_args()
    sys.path.insert(0, args.jenga)
    import jenga_attn  # the official module (peers/jengaref/jenga_attn.py)
    from torch.nn.attention import SDPBackend, sdpa_kernel

    dev = torch.cuda.get_device_name(0)
    gen = torch.Generator(device="cuda")
    gen.manual_seed(0)
    for s in args.shape:
        h, n, d = parse_shape(s)
        nb = (n + 127) // 128
        npad = nb * 128
        q, k, v = (torch.randn(1, h, npad, d, device="cuda", dtype=torch.bfloat16, generator=gen) for _ in range(3))
        for t in (q, k, v):
            t[:, :, n:] = 0
        scale = d ** -0.5
        if not args.no_cudnn:
            qs, ks, vs = q[:, :, :n], k[:, :, :n], v[:, :, :n]
            qs, ks, vs = qs.contiguous(), ks.contiguous(), vs.contiguous()

            def sdpa():
                with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
                    return torch.nn.functional.scaled_dot_product_attention(qs, ks, vs, scale=scale)

            ms, ms_min = time_ms(sdpa, args.iters, args.warmup)
            fl = 4.0 * h * d * n * n
            print(json.dumps({"peer": "cudnn_sdpa", "shape": s, "heads": h, "tokens": n, "head_dim": d,
                              "density": 1.0, "ms": round(ms, 4), "ms_min": round(ms_min, 4),
                              "tflops": round(fl / ms / 1e9, 2), "device": dev,
                              "torch": torch.__version__, "cudnn": torch.backends.cudnn.version()}), flush=True)
            del qs, ks, vs
        seqlens = torch.tensor([n], dtype=torch.int32, device="cuda")
        for dens in args.density or [1.0]:
            mask = draw_mask(h, nb, dens, gen)
            fn = lambda: jenga_attn._triton_block_sparse_attention_onehot(q, k, v, seqlens, mask, scale)  # noqa: E731
            ms, ms_min = time_ms(fn, args.iters, args.warmup)
            fl = computed_flops(n, d, mask)
            kept = float(mask.float().mean())
            # The official mask builder at this shape: top_k = the same kept count, text_blocks 0.
            top_k = max(1, round(dens * nb))
            build = lambda: jenga_attn._build_block_index_with_importance_optimized(  # noqa: E731
                q, k, top_k, text_start_block=nb, num_blocks=nb, prob_threshold=args.mask_p, text_blocks=0)
            mask_ms, mask_min = time_ms(build, args.iters, args.warmup)
            print(json.dumps({"peer": "jenga_triton", "shape": s, "heads": h, "tokens": n, "head_dim": d,
                              "density": dens, "kept": round(kept, 4), "ms": round(ms, 4),
                              "ms_min": round(ms_min, 4), "tflops": round(fl / ms / 1e9, 2),
                              "mask_build_ms": round(mask_ms, 4), "mask_p": args.mask_p,
                              "device": dev}), flush=True)
            del mask
        del q, k, v
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
