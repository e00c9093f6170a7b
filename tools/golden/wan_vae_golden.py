#!/usr/bin/env python3
"""Goldens for the Wan VAE: runs the official WanVAE_ (wan/modules/vae.py) at a tiny width on CPU
in f32 and saves weights (official key names), inputs and outputs to tests/data/wan_vae/.

usage: tools/golden/wan_vae_golden.py --wan third_party_ref [--out tests/data/wan_vae]
(--wan is a folder holding wan/modules/vae.py exported from Wan-Video/Wan2.1.)
"""
import argparse
import importlib.util
import json
import os
import re
import sys

import torch
from safetensors.torch import save_file

# Latent statistics from WanVAE.__init__ (official); applied here exactly as WanVAE.decode/encode do.
MEAN = [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
        0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921]
STD = [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
       3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160]


RES_PARTS = {'0': 'norm1', '2': 'conv1', '3': 'norm2', '6': 'conv2'}


def _res(rest):
    m = re.match(r'residual\.(\d)\.(.*)', rest)
    return RES_PARTS[m[1]] + '.' + m[2] if m else rest.replace('shortcut.', 'conv_shortcut.')


def diffusers_name(k, num_res_blocks=2):
    """Official WanVAE_ key -> diffusers AutoencoderKLWan key (checked below by loading and decoding)."""
    for a, b in {'conv1.': 'quant_conv.', 'conv2.': 'post_quant_conv.'}.items():
        if k.startswith(a):
            return b + k[len(a):]
    for pat, rep in [(r'(encoder|decoder)\.conv1\.(.*)', r'\1.conv_in.\2'),
                     (r'(encoder|decoder)\.head\.0\.(.*)', r'\1.norm_out.\2'),
                     (r'(encoder|decoder)\.head\.2\.(.*)', r'\1.conv_out.\2')]:
        if re.match(pat, k):
            return re.sub(pat, rep, k)
    m = re.match(r'(encoder|decoder)\.middle\.(\d+)\.(.*)', k)
    if m:
        i = int(m[2])
        return (f'{m[1]}.mid_block.resnets.{i // 2}.{_res(m[3])}' if i % 2 == 0
                else f'{m[1]}.mid_block.attentions.{i // 2}.{m[3]}')
    m = re.match(r'encoder\.downsamples\.(\d+)\.(.*)', k)
    if m:
        return f'encoder.down_blocks.{m[1]}.{_res(m[2])}'
    m = re.match(r'decoder\.upsamples\.(\d+)\.(.*)', k)
    if m:
        s, j = divmod(int(m[1]), num_res_blocks + 2)
        return (f'decoder.up_blocks.{s}.resnets.{j}.{_res(m[2])}' if j <= num_res_blocks
                else f'decoder.up_blocks.{s}.upsamplers.0.{m[2]}')
    raise KeyError(k)


def check_diffusers_layout(model, dim, z, want, out_dir):
    """Loads the weights under diffusers names into AutoencoderKLWan (strict) and checks it decodes as
    the official model; saves the name map for the C++ test of the diffusers layout."""
    try:
        from diffusers import AutoencoderKLWan
    except ImportError:
        print('diffusers not installed: diffusers layout not checked, name map not written')
        return
    d = AutoencoderKLWan(base_dim=dim, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                         temperal_downsample=[False, True, True]).eval()
    names = {k: diffusers_name(k) for k in model.state_dict()}
    target = d.state_dict()
    d.load_state_dict({names[k]: v.reshape(target[names[k]].shape) for k, v in model.state_dict().items()}, strict=True)
    zz = z * torch.tensor(STD).view(16, 1, 1, 1) + torch.tensor(MEAN).view(16, 1, 1, 1)
    with torch.no_grad():
        out = d.decode(zz.unsqueeze(0), return_dict=False)[0][0]
    err = float((out - want.clamp(-1, 1)).abs().max() / want.abs().max())
    assert err < 1e-4, err
    print('diffusers AutoencoderKLWan with the mapped names decodes as the official code (rel %.1e)' % err)
    with open(os.path.join(out_dir, 'tiny_vae_diffusers_names.json'), 'w') as f:
        json.dump(names, f, indent=0)


def load_official(wan_root):
    path = os.path.join(wan_root, 'wan', 'modules', 'vae.py')
    spec = importlib.util.spec_from_file_location('official_wan_vae', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--wan', required=True)
    ap.add_argument('--out', default=os.path.join(os.path.dirname(__file__), '..', '..', 'tests', 'data', 'wan_vae'))
    ap.add_argument('--dim', type=int, default=3)
    args = ap.parse_args()
    vae = load_official(args.wan)
    torch.manual_seed(1234)
    # The official cfg of _video_vae except the base width (96 -> --dim).
    model = vae.WanVAE_(dim=args.dim, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2,
                        attn_scales=[], temperal_downsample=[False, True, True], dropout=0.0).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('gamma'):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif name.endswith('bias'):
                p.copy_(0.05 * torch.randn_like(p))
            elif 'proj.weight' in name:  # zero-initialised officially; make attention visible
                p.copy_(torch.randn_like(p) / p[0].numel() ** 0.5)
            # Weights are stored as bf16 to keep the file small; the model computes in f32 on the
            # bf16-rounded values, exactly what the C++ side loads.
            p.copy_(p.to(torch.bfloat16).float())
    sd = {k: v.to(torch.bfloat16).contiguous() for k, v in model.state_dict().items()}
    os.makedirs(args.out, exist_ok=True)
    save_file(sd, os.path.join(args.out, 'tiny_vae.safetensors'), metadata={'dim': str(args.dim)})

    mean = torch.tensor(MEAN)
    inv_std = 1.0 / torch.tensor(STD)
    scale = [mean, inv_std]
    with torch.no_grad():
        for case, (t, h, w) in {'decode_a': (3, 4, 6), 'decode_b': (5, 2, 2), 'decode_c': (1, 3, 2)}.items():
            z = torch.randn(16, t, h, w)
            raw = model.decode(z.unsqueeze(0), scale).float().squeeze(0)
            # Unclamped output (the C++ side clamps to [-1, 1] as WanVAE.decode does).
            save_file({'latents': z.contiguous(), 'frames_raw': raw.contiguous()},
                      os.path.join(args.out, case + '.safetensors'))
            print(case, tuple(z.shape), '->', tuple(raw.shape), 'raw range', float(raw.min()), float(raw.max()))
            if case == 'decode_a':
                check_a = (z, raw)
        # encode_c: 6 frames, not 1 + 4k: the official encoder reads frame 0 and one chunk of 4 (the
        # last frame is not encoded). Drawn last, so the cases above keep their inputs.
        for case, (f, h, w) in {'encode_a': (9, 16, 24), 'encode_b': (5, 16, 8), 'encode_c': (6, 8, 16)}.items():
            x = torch.rand(3, f, h, w) * 2 - 1
            mu = model.encode(x.unsqueeze(0), scale).float().squeeze(0)
            save_file({'frames': x.contiguous(), 'latents': mu.contiguous()}, os.path.join(args.out, case + '.safetensors'))
            print(case, tuple(x.shape), '->', tuple(mu.shape))
    check_diffusers_layout(model, args.dim, check_a[0], check_a[1], args.out)


if __name__ == '__main__':
    sys.exit(main())
