#!/usr/bin/env python3
"""Goldens for the HunyuanVideo causal 3D VAE, made by the official AutoencoderKLCausal3D
(hyvideo/vae/autoencoder_kl_causal_3d.py of Tencent/HunyuanVideo) on the CPU in f32.

A tiny random config keeps the official topology (4 stages, 4x time / 8x space, mid-block
attention) with small widths, GroupNorm(4), 4 latent channels, and tile sizes sample_size 32 /
sample_tsize 16, so the official tiling triggers at tiny sizes (spatial tiles of 4 latents at
stride 3 with an 8-pixel blend; temporal tiles of 4+1 latents at stride 3 with a 4-frame blend).
Weights are rounded to bf16 and saved as bf16 (official names, as ComfyUI's bf16 file), and the
model runs in f32 on those values. Saved under OUT (default tests/data/hunyuan_vae/):
  vae/config.json           official config fields (a folder like the official ckpts/.../vae/)
  vae/tiny_vae.safetensors  weights (bf16)
  golden.safetensors        for each case: latents (as the denoiser sees them, i.e. scaled) and
                            official decode(latents / scaling_factor) outputs, tiled and/or untiled;
                            encode of clamp(a decoded output, -1, 1): mode() * scaling_factor,
                            tiled and untiled; the official writer's uint8 frames of case a.

The official class is imported without running hyvideo/__init__.py or hyvideo/vae/__init__.py
(they import the whole pipeline); nothing of the official code is changed.

--flat writes flat_golden.safetensors instead (the weights already under OUT are loaded, nothing
else is rewritten): spatially constant inputs (latents of 1x1 pixels, a solid-colour frame). On
such inputs this model is ill-conditioned: every GroupNorm group then holds only the spread
between its channels, some groups end up with a variance near eps, and a spatial perturbation of
one ulp grows to O(1) at the output (torch keeps every pixel bit-identical, so its f32 and f64
runs agree; any evaluation whose rounding differs per pixel lands elsewhere). So each case's
official f32 spread is measured: the output moved by 1-ulp jitter on every conv's output, the
largest max-relative change over JITTER_RUNS runs; inputs are drawn until the spread is at most
FLAT_MAX_SPREAD, and the spread is stored next to the case (NAME.official_spread).

--check-diffusers also loads the weights into diffusers' AutoencoderKLHunyuanVideo (strict: the
names are the same) and checks its untiled decode against the official one (prints the max diff).

usage: tools/golden/hunyuan_vae_golden.py --official /path/to/Tencent+HunyuanVideo [--out tests/data/hunyuan_vae]
                                          [--check-diffusers | --flat]
"""
import argparse
import importlib
import json
import os
import sys
import types

import numpy as np
import torch
from safetensors.torch import load_file, save_file

CONFIG = {
    "_class_name": "AutoencoderKLCausal3D",
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlockCausal3D"] * 4,
    "up_block_types": ["UpDecoderBlockCausal3D"] * 4,
    "block_out_channels": [8, 8, 16, 16],
    "layers_per_block": 1,
    "act_fn": "silu",
    "latent_channels": 4,
    "norm_num_groups": 4,
    "sample_size": 32,
    "sample_tsize": 16,
    "scaling_factor": 0.476986,
    "time_compression_ratio": 4,
    "mid_block_add_attention": True,
}

# name: latent [T, H, W]; which decodes to keep (tiled, untiled); which encodes of its clamped
# decoded output to keep. Triggers: decode T > 4 (temporal) / H or W > 4 (spatial);
# encode F > 16 / H or W > 32 px.
CASES = [
    ("a", (4, 2, 3), ("tiled",), ("tiled",)),                    # no trigger: tiled == untiled
    ("b", (11, 1, 2), ("tiled", "untiled"), ("tiled", "untiled")),  # 4 temporal tiles; encode: 4 temporal
    ("c", (2, 5, 7), ("tiled",), ("tiled", "untiled")),          # 2 x 3 spatial tiles; encode: 2 x 2
    ("d", (5, 5, 2), ("tiled",), ("tiled", "untiled")),          # 2 temporal x 2 spatial; encode: both
]

# --flat: name, decode (latents [T, 1, 1] per channel) or encode (one colour over [F, H, W]).
FLAT_CASES = [
    ("pixel_decode", "decode", (3, 1, 1)),  # 1x1 latents: 9 frames of 8x8, each spatially flat
    ("solid_encode", "encode", (1, 8, 8)),  # a solid-colour frame -> one latent pixel
]
FLAT_MAX_SPREAD = 1e-4  # the test allows 10x the stored spread
JITTER_RUNS = 8


def import_official(root):
    vae_dir = os.path.join(root, "hyvideo", "vae")
    if not os.path.isfile(os.path.join(vae_dir, "autoencoder_kl_causal_3d.py")):
        sys.exit(f"--official {root}: no hyvideo/vae/autoencoder_kl_causal_3d.py there")
    for name, path in [("hyvideo", os.path.join(root, "hyvideo")), ("hyvideo.vae", vae_dir)]:
        pkg = types.ModuleType(name)
        pkg.__path__ = [path]  # a namespace without running its __init__.py
        sys.modules[name] = pkg
    return importlib.import_module("hyvideo.vae.autoencoder_kl_causal_3d").AutoencoderKLCausal3D


def build(cls, seed):
    torch.manual_seed(seed)
    vae = cls.from_config(CONFIG).float().eval()
    with torch.no_grad():
        for name, p in vae.named_parameters():
            if "norm" in name and name.endswith("weight"):  # GroupNorm affine: not the identity
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif "norm" in name and name.endswith("bias"):
                p.copy_(0.2 * torch.randn_like(p))
            p.copy_(p.to(torch.bfloat16).float())  # what the bf16 file holds
    return vae


def decode(vae, z, tiled):
    vae.enable_tiling() if tiled else vae.disable_tiling()
    with torch.no_grad():
        return vae.decode(z.unsqueeze(0) / CONFIG["scaling_factor"]).sample[0]


def encode(vae, x, tiled):
    vae.enable_tiling() if tiled else vae.disable_tiling()
    with torch.no_grad():
        return vae.encode(x.unsqueeze(0)).latent_dist.mode()[0] * CONFIG["scaling_factor"]


def writer_uint8(frames):
    """pipeline_hunyuan_video.py: (image / 2 + 0.5).clamp(0, 1); file_utils.save_videos_grid:
    (x * 255).numpy().astype(np.uint8), frames as [T, H, W, C]."""
    x = (frames / 2 + 0.5).clamp(0, 1)
    x = x.permute(1, 2, 3, 0)
    return torch.from_numpy((x * 255).numpy().astype(np.uint8))


def check_diffusers(weights, golden):
    """diffusers' AutoencoderKLHunyuanVideo, imported by file (its package __init__ pulls in models that
    need a newer transformers), strict-loads the official names and decodes as the official class."""
    import diffusers.models
    d = os.path.join(os.path.dirname(diffusers.models.__file__), "autoencoders")
    pkg = types.ModuleType("diffusers.models.autoencoders")
    pkg.__path__ = [d]
    sys.modules["diffusers.models.autoencoders"] = pkg
    m = importlib.import_module("diffusers.models.autoencoders.autoencoder_kl_hunyuan_video")
    n = len(CONFIG["block_out_channels"])
    vae = m.AutoencoderKLHunyuanVideo(
        in_channels=3, out_channels=3, latent_channels=CONFIG["latent_channels"],
        block_out_channels=tuple(CONFIG["block_out_channels"]), layers_per_block=CONFIG["layers_per_block"],
        norm_num_groups=CONFIG["norm_num_groups"], down_block_types=("HunyuanVideoDownBlock3D",) * n,
        up_block_types=("HunyuanVideoUpBlock3D",) * n).float().eval()
    vae.load_state_dict({k: v.float() for k, v in weights.items()}, strict=True)
    vae.disable_tiling()
    vae.use_framewise_decoding = False
    with torch.no_grad():
        out = vae.decode(golden["b.latents"][None] / CONFIG["scaling_factor"]).sample[0]
    print("diffusers AutoencoderKLHunyuanVideo: strict load ok; untiled decode vs official max diff",
          (out - golden["b.decode_untiled"]).abs().max().item())


def official_spread(vae, run, x, gen):
    """Largest max-relative change of run(x) when every Conv3d output is moved by one ulp (f32) at
    random elements: how far from torch's own f32 output an f32 evaluation can land whose rounding
    differs from pixel to pixel."""
    ref = run(x)

    def jitter(module, inputs, out):
        ulp = out.abs() * 2.0 ** -24
        return out + torch.sign(torch.randn(out.shape, generator=gen)) * ulp * (torch.rand(out.shape, generator=gen) < 0.5)

    hooks = [m.register_forward_hook(jitter) for m in vae.modules() if isinstance(m, torch.nn.Conv3d)]
    try:
        return max(((run(x) - ref).abs().max() / ref.abs().max()).item() for _ in range(JITTER_RUNS))
    finally:
        for h in hooks:
            h.remove()


def flat_goldens(cls, out):
    """flat_golden.safetensors: FLAT_CASES through the official untiled decode / encode, on the
    weights already in OUT (bf16 values in f32), with each case's official_spread."""
    vae = cls.from_config(CONFIG).float().eval()
    vae.load_state_dict({k: v.float() for k, v in load_file(os.path.join(out, "vae", "tiny_vae.safetensors")).items()})
    gen, jitter_gen = torch.Generator().manual_seed(2023), torch.Generator().manual_seed(7)
    d = {}
    for name, kind, (T, H, W) in FLAT_CASES:
        run = (lambda x: decode(vae, x, False)) if kind == "decode" else (lambda x: encode(vae, x, False))
        for attempt in range(32):
            if kind == "decode":
                x = torch.randn(CONFIG["latent_channels"], T, 1, 1, generator=gen).expand(-1, T, H, W).contiguous()
            else:
                x = (torch.rand(CONFIG["in_channels"], 1, 1, 1, generator=gen) * 2 - 1).expand(-1, T, H, W).contiguous()
            spread = official_spread(vae, run, x, jitter_gen)
            print(f"{name}: draw {attempt}, official f32 spread under 1-ulp jitter {spread:.2e}")
            if spread <= FLAT_MAX_SPREAD:
                break
        else:
            sys.exit(f"{name}: no draw with a spread <= {FLAT_MAX_SPREAD} in 32")
        d[f"{name}.{'latents' if kind == 'decode' else 'frames'}"] = x
        d[f"{name}.{kind}"] = run(x)
        d[f"{name}.official_spread"] = torch.tensor([spread], dtype=torch.float32)
    path = os.path.join(out, "flat_golden.safetensors")
    save_file({k: v.contiguous() for k, v in d.items()}, path,
              metadata={"source": "official AutoencoderKLCausal3D (Tencent/HunyuanVideo hyvideo/vae), f32 CPU, untiled",
                        "cases": json.dumps(FLAT_CASES), "jitter_runs": str(JITTER_RUNS)})
    print(path, os.path.getsize(path), "bytes")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--official", required=True, help="folder holding hyvideo/vae/ (Tencent HunyuanVideo)")
    ap.add_argument("--out", default="tests/data/hunyuan_vae")
    ap.add_argument("--check-diffusers", action="store_true")
    ap.add_argument("--flat", action="store_true", help="only flat_golden.safetensors (spatially constant inputs)")
    a = ap.parse_args()
    cls = import_official(a.official)
    if a.flat:
        return flat_goldens(cls, a.out)
    vae = build(cls, seed=22)
    os.makedirs(os.path.join(a.out, "vae"), exist_ok=True)

    gen = torch.Generator().manual_seed(2022)
    d = {}
    for name, (T, H, W), decodes, encodes in CASES:
        z = torch.randn(CONFIG["latent_channels"], T, H, W, generator=gen)
        d[f"{name}.latents"] = z
        tiled = decode(vae, z, True)
        untiled = decode(vae, z, False)
        delta = (tiled - untiled).abs().max().item() if tiled.shape == untiled.shape else float("inf")
        print(f"case {name}: latents {tuple(z.shape)} -> frames {tuple(tiled.shape)}, "
              f"range [{tiled.min().item():.3f}, {tiled.max().item():.3f}], tiled vs untiled max diff {delta:.3g}")
        if "untiled" not in decodes:
            assert delta == 0 or "tiled" in decodes
        for kind in decodes:
            d[f"{name}.decode_{kind}"] = tiled if kind == "tiled" else untiled
        x = d[f"{name}.decode_{decodes[0]}"].clamp(-1, 1)
        for kind in encodes:
            mu = encode(vae, x, kind == "tiled")
            d[f"{name}.encode_{kind}"] = mu
            print(f"  encode {kind}: frames {tuple(x.shape)} -> latents {tuple(mu.shape)}")
        if len(encodes) == 2:
            print(f"  encode tiled vs untiled max diff "
                  f"{(d[f'{name}.encode_tiled'] - d[f'{name}.encode_untiled']).abs().max().item():.3g}")
    d["a.rgb"] = writer_uint8(d["a.decode_tiled"])

    weights = {k: v.to(torch.bfloat16).contiguous() for k, v in vae.state_dict().items()}
    save_file(weights, os.path.join(a.out, "vae", "tiny_vae.safetensors"))
    save_file({k: v.contiguous() for k, v in d.items()}, os.path.join(a.out, "golden.safetensors"),
              metadata={"source": "official AutoencoderKLCausal3D (Tencent/HunyuanVideo hyvideo/vae), f32 CPU",
                        "cases": json.dumps([[n, list(s), list(dk), list(ek)] for n, s, dk, ek in CASES])})
    with open(os.path.join(a.out, "vae", "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
        f.write("\n")
    for fn in ("vae/tiny_vae.safetensors", "golden.safetensors", "vae/config.json"):
        print(fn, os.path.getsize(os.path.join(a.out, fn)), "bytes")
    if a.check_diffusers:
        check_diffusers(weights, d)


if __name__ == "__main__":
    main()
