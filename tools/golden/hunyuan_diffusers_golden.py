#!/usr/bin/env python3
"""A diffusers-layout HunyuanVideo DiT and its output, for the diffusers key map of our loader.

Builds diffusers' HunyuanVideoTransformer3DModel (the installed `diffusers` package) with a tiny
config (hidden 32, 2 heads of 16, RoPE [4, 6, 6], 1 double + 1 single block, 2 refiner blocks,
guidance embed), random weights from a fixed seed, saves it with save_pretrained (config.json +
safetensors, ~0.4 MB) to OUT/diffusers_tiny/ and runs it in f32 on the CPU on small random inputs
with a padded text mask; inputs and output go to OUT/diffusers_golden.safetensors.

Our loader maps these names back to the official tensors and our forward (verified against the
official HYVideoDiffusionTransformer, hunyuan_dit_golden.py) must give diffusers' output for the
image tokens (diffusers masks padding keys for every query, the official code lets padding text
attend to itself: only text rows differ, and they do not reach the output).

usage: tools/golden/hunyuan_diffusers_golden.py --out tests/data/hunyuan_dit/
"""
import argparse
import os

import torch
from safetensors.torch import save_file


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    from diffusers import HunyuanVideoTransformer3DModel
    torch.manual_seed(11)
    model = HunyuanVideoTransformer3DModel(
        in_channels=16, out_channels=16, num_attention_heads=2, attention_head_dim=16, num_layers=1,
        num_single_layers=1, num_refiner_layers=2, mlp_ratio=2.0, patch_size=2, patch_size_t=1, qk_norm="rms_norm",
        guidance_embeds=True, text_embed_dim=16, pooled_projection_dim=8, rope_theta=256.0, rope_axes_dim=(4, 6, 6))
    with torch.no_grad():  # weights that make every path matter (norm scales away from 1)
        for name, p in model.named_parameters():
            if name.endswith("weight") and p.dim() == 1:
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn_like(p))
    model = model.float().eval()
    model.save_pretrained(os.path.join(a.out, "diffusers_tiny"), safe_serialization=True)

    gen = torch.Generator().manual_seed(99)
    T, H, W, L, valid = 2, 4, 6, 7, 4  # tokens 2 x 2 x 3
    x = torch.randn(1, 16, T, H, W, generator=gen)
    txt = torch.randn(1, L, 16, generator=gen)
    mask = torch.zeros(1, L, dtype=torch.long)
    mask[:, :valid] = 1
    pooled = torch.randn(1, 8, generator=gen)
    t = torch.tensor([421.0])
    guidance = torch.tensor([5000.0])
    with torch.no_grad():
        out = model(hidden_states=x, timestep=t, encoder_hidden_states=txt, encoder_attention_mask=mask,
                    pooled_projections=pooled, guidance=guidance, return_dict=False)[0]
    d = {"x": x[0], "text_states": txt[0], "text_mask": mask[0].float(), "text_states_2": pooled[0], "t": t,
         "guidance": guidance, "out": out[0]}
    save_file({k: v.float().contiguous() for k, v in d.items()}, os.path.join(a.out, "diffusers_golden.safetensors"))
    print("out std", out.std().item(), "params", sum(p.numel() for p in model.parameters()))


if __name__ == "__main__":
    main()
