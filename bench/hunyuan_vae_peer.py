#!/usr/bin/env python3
"""The official HunyuanVideo VAE (AutoencoderKLCausal3D, imported from --hv, never copied) as the
peer of `jenga bench vae --model hunyuan` / `jenga debug vae-decode` (issue 22 points 4-5).

  write    random weights of the published structure (official names and config.json, f32, as the
           official vae/ folder), made on the device, and random latents as the denoiser sees
           them (scaled by 0.476986): DIR/diffusion_pytorch_model.safetensors, DIR/config.json,
           LATENTS ("latents" [16, T, H, W] f32).
  run      the official decode of LATENTS with its tiling (enable_tiling), in fp16 (the official
           precision: time and peak memory, after a warm-up decode at a small size) and in f32
           (the reference); writes REF16 / REF32 ("frames" [3, F, H, W] f32, clamped to [-1, 1]
           as the official pipeline does). One JSON line.
  compare  PSNR (peak-to-peak 2 on [-1, 1]) of OURS vs REF16, REF16 vs REF32, OURS vs REF32, and
           the uint8 frames' max difference. One JSON line.

--tiny (with --device cpu) swaps in a small config so the CPU paths can be tested here.
usage: hunyuan_vae_peer.py --hv PEERS/hunyuanref [--device cuda] [--tiny] write --dir D --latents Z
           [--size 1280x720 --frames 125 --seed 0]
       hunyuan_vae_peer.py --hv ... run --dir D --latents Z [--ref16 R16] --ref32 R32 [--no-f32]
       hunyuan_vae_peer.py compare --ours O --ref16 R16 [--ref32 R32]
"""
import argparse
import importlib
import json
import math
import os
import sys
import time
import types

import torch
from safetensors.torch import load_file, save_file

SCALE = 0.476986
PUBLISHED = {  # the official ckpts/hunyuan-video-t2v-720p/vae/config.json
    "_class_name": "AutoencoderKLCausal3D",
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlockCausal3D"] * 4,
    "in_channels": 3,
    "latent_channels": 16,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 256,
    "sample_tsize": 64,
    "up_block_types": ["UpDecoderBlockCausal3D"] * 4,
    "scaling_factor": SCALE,
    "time_compression_ratio": 4,
    "mid_block_add_attention": True,
}
TINY = dict(PUBLISHED, block_out_channels=[8, 8, 16, 16], layers_per_block=1, latent_channels=4,
            norm_num_groups=4, sample_size=32, sample_tsize=16)
WEIGHTS = "diffusion_pytorch_model.safetensors"


def emit(d):
    print(json.dumps(d), flush=True)


def import_official(root):
    """hyvideo.vae.autoencoder_kl_causal_3d without running the packages' __init__ (they import
    the whole pipeline)."""
    vae_dir = os.path.join(root, "hyvideo", "vae")
    if not os.path.isfile(os.path.join(vae_dir, "autoencoder_kl_causal_3d.py")):
        sys.exit(f"error: --hv {root}: no hyvideo/vae/autoencoder_kl_causal_3d.py there "
                 "(lay out the official HunyuanVideo code: see bench/gpu_hunyuan_components.sh)")
    for name, path in [("hyvideo", os.path.join(root, "hyvideo")), ("hyvideo.vae", vae_dir)]:
        pkg = types.ModuleType(name)
        pkg.__path__ = [path]
        sys.modules[name] = pkg
    try:
        return importlib.import_module("hyvideo.vae.autoencoder_kl_causal_3d").AutoencoderKLCausal3D
    except ImportError as e:
        sys.exit(f"error: the official VAE needs {e.name or e} (diffusers, einops): carry their wheels in .whl")


def parse_size(s):
    w, h = (int(v) for v in s.lower().split("x"))
    if w % 8 or h % 8:
        sys.exit(f"error: --size {s}: width and height must be multiples of 8")
    return w, h


def cmd_write(a, cls, dev):
    cfg = TINY if a.tiny else PUBLISHED
    w, h = parse_size(a.size)
    if a.frames < 1 or (a.frames - 1) % 4:
        sys.exit(f"error: --frames {a.frames}: must be 4k+1")
    torch.manual_seed(a.seed)
    t0 = time.time()
    with torch.device(dev):
        vae = cls.from_config(cfg).float().eval()  # default init: U(+-1/sqrt(fan_in)) convs
    with torch.no_grad():
        for name, p in vae.named_parameters():
            if "norm" in name and name.endswith("weight"):  # GroupNorm affine: not the identity
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif "norm" in name and name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
    os.makedirs(a.dir, exist_ok=True)
    sd = {k: v.detach().float().contiguous().cpu() for k, v in vae.state_dict().items()}
    save_file(sd, os.path.join(a.dir, WEIGHTS))
    with open(os.path.join(a.dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    f_lat = cfg["time_compression_ratio"]
    z = torch.randn(cfg["latent_channels"], (a.frames - 1) // f_lat + 1, h // 8, w // 8,
                    generator=torch.Generator().manual_seed(a.seed + 1))
    save_file({"latents": z.contiguous()}, a.latents)
    emit({"peer": "hunyuan-vae", "step": "write", "dir": a.dir, "params": sum(v.numel() for v in sd.values()),
          "latents": list(z.shape), "s": round(time.time() - t0, 2)})


def load_official(cls, d, dev):
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    vae = cls.from_config(cfg)
    vae.load_state_dict(load_file(os.path.join(d, WEIGHTS)), strict=True)
    vae.enable_tiling()  # the official pipeline's vae_tiling
    return vae.to(dev).eval()


def sync(dev):
    if dev.startswith("cuda"):
        torch.cuda.synchronize()


def decode(vae, z, dtype, dev):
    """pipeline_hunyuan_video.py: latents / scaling_factor, decode under autocast, then
    (image / 2 + 0.5).clamp(0, 1); returned here as clamp(-1, 1) f32."""
    with torch.no_grad(), torch.autocast(device_type=dev.split(":")[0], dtype=dtype, enabled=dtype != torch.float32):
        x = vae.decode(z.to(dev, dtype)[None] / SCALE).sample[0]
    return x.float().clamp(-1, 1)


def cmd_run(a, cls, dev):
    z = load_file(a.latents)["latents"]
    vae = load_official(cls, a.dir, dev)
    res = {"peer": "hunyuan-vae", "step": "run", "latents": list(z.shape), "device": dev}
    cuda = dev.startswith("cuda")
    vae16 = vae.half()
    # Warm-up on a small clip (kernels, cuDNN plans) so the timed decode is the steady state.
    decode(vae16, z[:, :2, :16, :16].contiguous(), torch.float16, dev)
    sync(dev)
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.time()
    x16 = decode(vae16, z, torch.float16, dev)
    sync(dev)
    res["fp16_s"] = round(time.time() - t0, 3)
    if cuda:
        res["fp16_peak_alloc_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
        res["fp16_peak_reserved_gib"] = round(torch.cuda.max_memory_reserved() / 2**30, 3)
    res["frames"] = list(x16.shape)
    res["fp16_finite"] = bool(torch.isfinite(x16).all())
    if a.ref16:
        save_file({"frames": x16.cpu().contiguous()}, a.ref16)
    del x16
    if not a.no_f32:
        vae32 = vae16.float()  # the f32 weights were exact before .half(): reload them
        vae32.load_state_dict(load_file(os.path.join(a.dir, WEIGHTS)), strict=True)
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.time()
        x32 = decode(vae32, z, torch.float32, dev)
        sync(dev)
        res["f32_s"] = round(time.time() - t0, 3)
        if cuda:
            res["f32_peak_alloc_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
        save_file({"frames": x32.cpu().contiguous()}, a.ref32)
    if cuda:
        res["gpu"] = torch.cuda.get_device_name()
    res["torch"] = torch.__version__
    emit(res)


def psnr(a, b):
    mse = torch.mean((a.double() - b.double()) ** 2).item()
    return float("inf") if mse == 0 else 10 * math.log10(4.0 / mse)


def to_u8(x):  # the official writer: (x / 2 + 0.5).clamp(0, 1) * 255 -> uint8 (truncation)
    return ((x / 2 + 0.5).clamp(0, 1) * 255).to(torch.uint8)


def cmd_compare(a):
    def frames(p):
        t = load_file(p)
        if "frames" not in t:
            sys.exit(f"error: {p}: no tensor named 'frames'")
        return t["frames"].float().clamp(-1, 1)
    ours, r16 = frames(a.ours), frames(a.ref16)
    if ours.shape != r16.shape:
        sys.exit(f"error: shapes differ: ours {tuple(ours.shape)} vs official {tuple(r16.shape)}")
    res = {"peer": "hunyuan-vae", "step": "compare", "frames": list(ours.shape),
           "ours_finite": bool(torch.isfinite(ours).all()),
           "psnr_ours_vs_official_fp16": psnr(ours, r16),
           "u8_maxdiff_ours_vs_official_fp16": int((to_u8(ours).int() - to_u8(r16).int()).abs().max())}
    if a.ref32 and os.path.exists(a.ref32):
        r32 = frames(a.ref32)
        res["psnr_official_fp16_vs_f32"] = psnr(r16, r32)
        res["psnr_ours_vs_f32"] = psnr(ours, r32)
        res["ours_no_farther_from_f32"] = res["psnr_ours_vs_f32"] >= res["psnr_official_fp16_vs_f32"]
    emit(res)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hv", help="a folder holding the official hyvideo/vae/ (write, run)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tiny", action="store_true", help="a small config (CPU tests of this script)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("--dir", required=True)
    w.add_argument("--latents", required=True)
    w.add_argument("--size", default="1280x720")
    w.add_argument("--frames", type=int, default=125)
    w.add_argument("--seed", type=int, default=0)
    r = sub.add_parser("run")
    r.add_argument("--dir", required=True)
    r.add_argument("--latents", required=True)
    r.add_argument("--ref16", default="", help="where the fp16 frames go (none: timing only)")
    r.add_argument("--ref32", default="")
    r.add_argument("--no-f32", action="store_true")
    c = sub.add_parser("compare")
    c.add_argument("--ours", required=True)
    c.add_argument("--ref16", required=True)
    c.add_argument("--ref32", default="")
    a = ap.parse_args()
    if a.cmd == "compare":
        return cmd_compare(a)
    if not a.hv:
        sys.exit("error: --hv PATH (the official HunyuanVideo code) is needed for write and run")
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("error: --device cuda: no CUDA device visible to torch (use --device cpu --tiny for a CPU check)")
    if a.cmd == "run" and not a.no_f32 and not a.ref32:
        sys.exit("error: run needs --ref32 PATH (or --no-f32)")
    cls = import_official(a.hv)
    (cmd_write if a.cmd == "write" else cmd_run)(a, cls, a.device)


if __name__ == "__main__":
    main()
