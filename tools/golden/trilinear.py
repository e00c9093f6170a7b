#!/usr/bin/env python3
"""Golden for resize_trilinear: torch.nn.functional.interpolate(mode='trilinear',
align_corners=False) on [1, C, T, H, W], as jenga_wan.py upsamples x0 at the ProRes switch.
Writes tests/data/trilinear.safetensors (x, up: 6x8 -> 8x11 at T 3 (the Wan case, T unchanged),
and down3d: a resize along all three axes)."""
import sys
import torch
from safetensors.torch import save_file

out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/trilinear.safetensors"
g = torch.Generator().manual_seed(3)
x = torch.randn(2, 3, 6, 8, generator=g)
up = torch.nn.functional.interpolate(x[None], size=(3, 8, 11), mode="trilinear")[0]
any3d = torch.nn.functional.interpolate(x[None], size=(5, 4, 13), mode="trilinear")[0]
save_file({"x": x, "up": up.contiguous(), "any3d": any3d.contiguous()}, out)
print("wrote", out)
