#!/usr/bin/env python3
"""Golden for HunyuanVideo-I2V's image latent: the official AutoencoderKLCausal3D (Tencent
HunyuanVideo-I2V's hyvideo/vae) encoding the reference image as one frame, as the official sampler
does (vae.enable_tiling(); vae.encode(image[1, 3, 1, H, W]).latent_dist.mode() * scaling_factor),
with the tiny VAE of tests/data/hunyuan_vae/vae (written by tools/golden/hunyuan_vae_golden.py).

Writes OUT/i2v_image_latent_golden.safetensors: per case pixels_<n> [3, H, W] in [-1, 1] and
latent_<n> [4, 1, H/8, W/8]; case "a" is one tile, case "b" (48 x 72 px) needs 2 x 3 spatial tiles
of the config's 32 px sample size.

usage: tools/golden/hunyuan_i2v_image_latent_golden.py --official /path/to/HunyuanVideo-I2V \
           --out tests/data/hunyuan_vae/
"""
import argparse
import os
import sys

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hunyuan_vae_golden import CONFIG, encode, import_official  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--official", required=True, help="folder holding hyvideo/vae/ (HunyuanVideo-I2V)")
    ap.add_argument("--out", default="tests/data/hunyuan_vae")
    a = ap.parse_args()
    cls = import_official(a.official)
    vae = cls.from_config(CONFIG).float().eval()
    vae.load_state_dict(load_file(os.path.join(a.out, "vae", "tiny_vae.safetensors")), strict=True)
    gen = torch.Generator().manual_seed(2525)
    d = {}
    for name, (H, W) in [("a", (16, 24)), ("b", (48, 72))]:
        px = torch.rand(3, H, W, generator=gen) * 2 - 1
        d[f"pixels_{name}"] = px
        d[f"latent_{name}"] = encode(vae, px.unsqueeze(1), True).contiguous()  # [C, 1, H, W] frames
    save_file(d, os.path.join(a.out, "i2v_image_latent_golden.safetensors"))
    print("wrote", os.path.join(a.out, "i2v_image_latent_golden.safetensors"), {k: tuple(v.shape) for k, v in d.items()})


if __name__ == "__main__":
    main()
