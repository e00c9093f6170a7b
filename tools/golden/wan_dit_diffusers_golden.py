#!/usr/bin/env python3
"""Golden for the diffusers layout, written by diffusers itself: a small random
WanTransformer3DModel saved with save_pretrained (so the file names, config.json and tensor
layout are exactly what diffusers produces), plus inputs and its forward output.

usage: PYTHONPATH=<folder with diffusers> tools/golden/wan_dit_diffusers_golden.py \
           --out tests/data/wan_dit/
writes OUT/diffusers_model/{config.json,diffusion_pytorch_model.safetensors} and
OUT/diffusers_case.safetensors (x [16,F,H,W], t [1], context [L,text_dim], out).
Like the Wan pipelines, the context is zero-padded to 512 tokens before the transformer.
"""
import argparse
import os

import torch
from diffusers import WanTransformer3DModel
from safetensors.torch import save_file

TEXT_LEN = 512


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(42)
    m = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=16,
                              in_channels=16, out_channels=16, text_dim=16, freq_dim=32, ffn_dim=64,
                              num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6)
    # Random, nonzero everywhere (diffusers zero-inits some biases): activations stay O(1).
    with torch.no_grad():
        for name, p in m.named_parameters():
            r = torch.randn(p.shape, generator=gen)
            if "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * r)
            elif "scale_shift_table" in name:
                p.copy_(r / p.shape[-1] ** 0.5)
            elif name.endswith("weight"):
                p.copy_(r / (p[0].numel() ** 0.5))
            else:
                p.copy_(0.02 * r)
    m = m.float().eval()
    model_dir = os.path.join(a.out, "diffusers_model")
    m.save_pretrained(model_dir, safe_serialization=True)

    x = torch.randn(16, 3, 6, 10, generator=gen)  # 3x3x5 tokens
    t = torch.tensor([421.0])
    ctx = torch.randn(13, 16, generator=gen)
    padded = torch.cat([ctx, ctx.new_zeros(TEXT_LEN - ctx.shape[0], ctx.shape[1])])
    with torch.no_grad():
        out = m(x[None], t, padded[None], return_dict=False)[0][0]
    save_file({"x": x, "t": t, "context": ctx, "out": out.float().contiguous()},
              os.path.join(a.out, "diffusers_case.safetensors"),
              metadata={"source": "diffusers WanTransformer3DModel, f32 CPU"})
    print("out", list(out.shape), "max|out|", out.abs().max().item())


if __name__ == "__main__":
    main()
