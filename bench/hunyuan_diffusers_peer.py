#!/usr/bin/env python3
"""diffusers' HunyuanVideoTransformer3DModel as a timing peer of `jenga bench dit --config hunyuan`:
one dense DiT forward at the same shape (published config, random bf16 weights drawn on the device,
as diffusers runs the model with torch_dtype=bfloat16), the same text split (256 rows of which
--text-valid real, encoder_attention_mask as the diffusers pipeline passes it) and guidance 6.0 x 1000.
Timing needs no checkpoint: the weights' values do not change the kernels' speed.

usage: python3 bench/hunyuan_diffusers_peer.py --size 1280x720 --frames 125 [--iters 1] [--warmup 1]
       python3 bench/hunyuan_diffusers_peer.py --config tiny --device cpu --size 64x64 --frames 5   # rehearsal
Prints one JSON line (kind hunyuan_diffusers_dit): median ms, peak GiB, tokens, versions, finite.
"""
import argparse
import json
import sys
import time

import torch


def published():
    return dict(in_channels=16, out_channels=16, num_attention_heads=24, attention_head_dim=128, num_layers=20,
                num_single_layers=40, num_refiner_layers=2, mlp_ratio=4.0, patch_size=2, patch_size_t=1,
                qk_norm="rms_norm", guidance_embeds=True, text_embed_dim=4096, pooled_projection_dim=768,
                rope_theta=256.0, rope_axes_dim=(16, 56, 56))


def tiny():
    c = published()
    c.update(num_attention_heads=2, attention_head_dim=32, num_layers=1, num_single_layers=1, num_refiner_layers=1,
             text_embed_dim=48, pooled_projection_dim=24, rope_axes_dim=(8, 12, 12))
    return c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", choices=["published", "tiny"], default="published")
    ap.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT in pixels")
    ap.add_argument("--frames", type=int, default=125, help="4k+1")
    ap.add_argument("--text-valid", type=int, default=40, help="real text rows of the 256")
    ap.add_argument("--iters", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--warmup-small", action="store_true",
                    help="warm up on a 128x128x5 latent (library and kernel start-up) instead of the full shape")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    try:
        w, h = (int(v) for v in a.size.lower().split("x"))
    except ValueError:
        sys.exit(f"error: --size {a.size}: give WIDTHxHEIGHT, e.g. 1280x720")
    if (a.frames - 1) % 4 or w % 16 or h % 16:
        sys.exit("error: --frames must be 4k+1 and the size a multiple of 16")
    if a.iters < 1 or a.warmup < 0 or not 0 < a.text_valid <= 256:
        sys.exit("error: --iters >= 1, --warmup >= 0, 1 <= --text-valid <= 256")
    from diffusers import HunyuanVideoTransformer3DModel
    import diffusers

    cfg = published() if a.config == "published" else tiny()
    dev = torch.device(a.device)
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    torch.manual_seed(a.seed)
    t0 = time.perf_counter()
    torch.set_default_dtype(dtype)  # parameters made in the run dtype, on the device: no f32 copy of 13 B
    with dev:
        model = HunyuanVideoTransformer3DModel(**cfg).eval()
    torch.set_default_dtype(torch.float32)
    make_s = time.perf_counter() - t0
    params = sum(p.numel() for p in model.parameters())

    lat = [1, 16, (a.frames - 1) // 4 + 1, h // 8, w // 8]
    g = torch.Generator(device=dev).manual_seed(a.seed + 1)
    x = torch.randn(lat, generator=g, device=dev, dtype=dtype)
    txt = torch.randn(1, 256, cfg["text_embed_dim"], generator=g, device=dev, dtype=dtype)
    mask = torch.zeros(1, 256, device=dev, dtype=torch.long)
    mask[:, : a.text_valid] = 1
    pooled = torch.randn(1, cfg["pooled_projection_dim"], generator=g, device=dev, dtype=dtype)
    t = torch.tensor([900], device=dev)
    guidance = torch.tensor([6.0], device=dev, dtype=dtype) * 1000.0  # the diffusers pipeline's embedded guidance
    tokens = lat[2] * (lat[3] // 2) * (lat[4] // 2)

    x_small = torch.randn([1, 16, 2, 16, 16], generator=g, device=dev, dtype=dtype)

    def fwd(lat=None):
        with torch.no_grad():
            return model(hidden_states=x if lat is None else lat, timestep=t, encoder_hidden_states=txt,
                         encoder_attention_mask=mask, pooled_projections=pooled, guidance=guidance,
                         return_dict=False)[0]

    cuda = dev.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    for _ in range(a.warmup):
        fwd(x_small if a.warmup_small else None)
    sync()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    ms = []
    out = None
    for _ in range(a.iters):
        s = time.perf_counter()
        out = fwd()
        sync()
        ms.append((time.perf_counter() - s) * 1e3)
    ms.sort()
    res = {"kind": "hunyuan_diffusers_dit", "config": a.config, "size": a.size, "frames": a.frames,
           "tokens": tokens, "text_valid": a.text_valid, "ms_median": round(ms[len(ms) // 2], 1),
           "ms_all": [round(v, 1) for v in ms], "warmup": a.warmup, "warmup_small": a.warmup_small, "params_b": round(params / 1e9, 3),
           "make_s": round(make_s, 1), "dtype": str(dtype).replace("torch.", ""), "out": list(out.shape),
           "finite": bool(torch.isfinite(out).all()), "diffusers": diffusers.__version__, "torch": torch.__version__,
           "attention": "diffusers default (native SDPA with the text mask)"}
    if cuda:
        res["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        res["gpu"] = torch.cuda.get_device_name()
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
