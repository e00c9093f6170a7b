#!/usr/bin/env python3
"""Random inputs for `jenga debug denoise` (docs/debug-denoise.md): noise at the first stage's
latent size, full-size noise for presets that start smaller, and two text contexts.

  python3 bench/wan_denoise_inputs.py --size 832x480 --frames 81 --res-rate 0.75 --out in.safetensors
"""
import argparse

import torch
from safetensors.torch import save_file

ap = argparse.ArgumentParser()
ap.add_argument("--size", default="832x480", help="WIDTHxHEIGHT in pixels")
ap.add_argument("--frames", type=int, default=81)
ap.add_argument("--res-rate", type=float, default=1.0, help="first-stage resolution rate (turbo: 0.75)")
ap.add_argument("--text-dim", type=int, default=4096)
ap.add_argument("--context-len", type=int, default=24, help="prompt rows (negative prompt: 2x)")
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--out", required=True)
a = ap.parse_args()
w, h = (int(v) for v in a.size.lower().split("x"))
t, lh, lw = (a.frames - 1) // 4 + 1, h // 8, w // 8
g = torch.Generator().manual_seed(a.seed)
# jenga_wan.py: int(latent * res_rate) // 2 * 2 per side, drawn before the full-size noise.
h0, w0 = int(lh * a.res_rate) // 2 * 2, int(lw * a.res_rate) // 2 * 2
out = {"noise": torch.randn(16, t, h0, w0, generator=g)}
if a.res_rate != 1.0:
    out["noise_full"] = torch.randn(16, t, lh, lw, generator=g)
out["context"] = torch.randn(a.context_len, a.text_dim, generator=g) * 0.1
out["context_null"] = torch.randn(2 * a.context_len, a.text_dim, generator=g) * 0.1
save_file(out, a.out)
print("wrote", a.out, {k: list(v.shape) for k, v in out.items()})
