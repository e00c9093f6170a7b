#!/usr/bin/env python3
"""Goldens for the HunyuanVideo-I2V reference-image preparation, produced by the official code.

Small images are generated here (odd sizes, portrait/landscape/square/extreme ratios; PNG in
RGB, RGBA, grey, grey+alpha, palette, 1-bit, 16-bit grey, 16-bit RGB; JPEG 4:2:0, 4:4:4
progressive and grey) and saved under OUT/. For each one the script records, using PIL,
torchvision and the official functions `generate_crop_size_list` / `get_closest_ratio`
(hyvideo/utils/data_utils.py of Tencent/HunyuanVideo-I2V, imported from --official):
  decoded_<name>   [h, w, 3] u8   Image.open(f).convert("RGB")
  bilinear_<name>_<W>x<H>, bicubic_<name>_<W>x<H>   [H, W, 3] u8   PIL Image.resize
  prep_<name>_b<base>  [3, H, W] u8    the official transform of inference.py (Resize(min(H, W)) ->
                       CenterCrop((H, W)) -> ToTensor -> Normalize(0.5, 0.5)) with the bucket list of
                       a small base size, so the file stays small; stored as the u8 value v with
                       (v / 255 - 0.5) / 0.5 == the official f32 output exactly (asserted here)
and, in buckets.json, the official bucket for many image sizes at 720p/540p/360p and, for each
image at 720p and 540p, the bucket plus two checksums of the prepared u8 crop (too large to store).

With --webp it writes only the WebP fixtures (a lossless RGBA and a lossy RGB still image, an
animated one) and webp_golden.safetensors: decoded_<name> [h, w, 3] u8 = Image.open(f).convert("RGB").

usage: tools/golden/hunyuan_i2v_image_golden.py --official /path/to/HunyuanVideo-I2V --out tests/data/hunyuan_i2v/
       tools/golden/hunyuan_i2v_image_golden.py --webp --out tests/data/hunyuan_i2v/
"""
import argparse
import json
import os
import struct
import sys
import zlib

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

SMALL_BASES = [64, 128]
BUCKET_BASES = {"720p": 960, "540p": 720, "360p": 480}


def smooth_rgb(rng, h, w):
    """A smooth colour field plus noise: resampling differences show up, JPEG stays small."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    ch = []
    for c in range(3):
        a, b, p = rng.uniform(0.05, 0.4, 3)
        ch.append(127.5 + 100 * np.sin(a * x + p * 7) * np.cos(b * y + c) + rng.normal(0, 12, (h, w)))
    return np.clip(np.stack(ch, -1), 0, 255).astype(np.uint8)


def png_chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def write_png16_rgb(path, a16):
    """PIL cannot write 16-bit RGB PNGs: write one by hand (colour type 2, depth 16)."""
    h, w, _ = a16.shape
    raw = b"".join(b"\x00" + a16[y].astype(">u2").tobytes() for y in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                + png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b""))


def make_images(out, rng):
    files = {}
    def save(name, img, **kw):
        path = os.path.join(out, name)
        img.save(path, **kw)
        files[name] = path
    save("rgb_53x37.png", Image.fromarray(smooth_rgb(rng, 37, 53)))
    rgba = np.concatenate([smooth_rgb(rng, 61, 29), rng.integers(0, 256, (61, 29, 1), dtype=np.uint8)], -1)
    save("rgba_29x61.png", Image.fromarray(rgba, "RGBA"))
    save("grey_50x50.png", Image.fromarray(smooth_rgb(rng, 50, 50)[..., 0], "L"))
    la = np.stack([smooth_rgb(rng, 23, 41)[..., 1], rng.integers(0, 256, (23, 41), dtype=np.uint8)], -1)
    save("greyalpha_41x23.png", Image.fromarray(la, "LA"))
    save("palette_101x17.png", Image.fromarray(smooth_rgb(rng, 17, 101)).convert("P", palette=Image.ADAPTIVE, colors=37))
    save("bits1_33x45.png", Image.fromarray(smooth_rgb(rng, 45, 33)[..., 2] > 128))
    save("grey16_30x40.png", Image.fromarray((rng.integers(0, 400, (40, 30))).astype(np.uint16)))
    p16 = os.path.join(out, "rgb16_27x19.png")
    write_png16_rgb(p16, rng.integers(0, 65536, (19, 27, 3)))
    files["rgb16_27x19.png"] = p16
    save("photo_71x43.jpg", Image.fromarray(smooth_rgb(rng, 43, 71)), quality=90)
    save("prog444_25x57.jpg", Image.fromarray(smooth_rgb(rng, 57, 25)), quality=85, subsampling=0, progressive=True)
    save("grey_64x21.jpg", Image.fromarray(smooth_rgb(rng, 21, 64)[..., 0], "L"), quality=80)
    return files


def official_transform(img, base, data_utils):
    """inference.py's I2V image path (lines 806-848), single GPU."""
    from torchvision import transforms  # here, so --webp runs without torchvision
    crop_size_list = data_utils.generate_crop_size_list(base, 32)
    aspect_ratios = np.array([round(float(h) / float(w), 5) for h, w in crop_size_list])
    closest_size, _ = data_utils.get_closest_ratio(img.size[1], img.size[0], aspect_ratios, crop_size_list)
    t = transforms.Compose([transforms.Resize(min(closest_size)), transforms.CenterCrop(closest_size),
                            transforms.ToTensor(), transforms.Normalize([0.5], [0.5])])
    return [int(v) for v in closest_size], t(img)


def checksums(pixels):
    """pixels [3, H, W] in [-1, 1] -> u8 (exact inverse of ToTensor+Normalize) -> two integer sums."""
    u8 = torch.round((pixels * 0.5 + 0.5) * 255).to(torch.int64).flatten()
    weight = torch.arange(u8.numel(), dtype=torch.int64) % 65521 + 1
    return int(u8.sum()), int((u8 * weight).sum())


def make_webp(out):
    rng = np.random.default_rng(26)
    rgba = np.concatenate([smooth_rgb(rng, 11, 19), rng.integers(0, 256, (11, 19, 1), dtype=np.uint8)], -1)
    files = {"rgba_lossless_19x11.webp": (Image.fromarray(rgba, "RGBA"), {"lossless": True}),
             "photo_lossy_23x17.webp": (Image.fromarray(smooth_rgb(rng, 17, 23)), {"quality": 80})}
    tensors = {}
    for name, (img, kw) in files.items():
        path = os.path.join(out, name)
        img.save(path, **kw)
        tensors[f"decoded_{name.replace('.', '_')}"] = torch.from_numpy(np.array(Image.open(path).convert("RGB")))
    frames = [Image.fromarray(smooth_rgb(rng, 8, 8)) for _ in range(2)]
    frames[0].save(os.path.join(out, "refused_animated_8x8.webp"), save_all=True, append_images=frames[1:], duration=100)
    save_file(tensors, os.path.join(out, "webp_golden.safetensors"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--official", help="HunyuanVideo-I2V checkout (holds hyvideo/utils/data_utils.py)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--webp", action="store_true", help="write only the WebP fixtures and webp_golden.safetensors")
    a = ap.parse_args()
    if a.webp:
        os.makedirs(a.out, exist_ok=True)
        return make_webp(a.out)
    if not a.official:
        ap.error("--official is required (except with --webp)")
    sys.path.insert(0, a.official)
    from hyvideo.utils import data_utils

    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(25)
    files = make_images(a.out, rng)
    tensors, per_image = {}, {}
    for name, path in files.items():
        key = name.replace(".", "_")
        img = Image.open(path).convert("RGB")
        tensors[f"decoded_{key}"] = torch.from_numpy(np.array(img))
        w, h = img.size
        for (ow, oh) in [(max(1, w // 3), max(1, h // 2)), (w * 2 + 1, h + 3)]:
            for filt, fname in [(Image.BILINEAR, "bilinear"), (Image.BICUBIC, "bicubic")]:
                tensors[f"{fname}_{key}_{ow}x{oh}"] = torch.from_numpy(np.array(img.resize((ow, oh), filt)))
        for base in SMALL_BASES:
            size, px = official_transform(img, base, data_utils)
            u8 = torch.round((px * 0.5 + 0.5) * 255).to(torch.uint8)
            assert torch.equal((u8.float() / 255 - 0.5) / 0.5, px), "the u8 form must give back the f32 output exactly"
            tensors[f"prep_{key}_b{base}"] = u8.contiguous()
        per_image[name] = {}
        for res in ["720p", "540p"]:
            size, px = official_transform(img, BUCKET_BASES[res], data_utils)
            s, ws = checksums(px)
            per_image[name][res] = {"bucket": size, "sum": s, "weighted_sum": ws}

    sizes = [(720, 1280), (1280, 720), (768, 1024), (1024, 768), (1, 1), (1, 4000), (4000, 1), (333, 777),
             (999, 1000), (1000, 999), (1080, 1920), (1920, 1080), (512, 512), (600, 2400), (2400, 600),
             (481, 1919), (37, 53), (61, 29), (17, 101)]
    table = []
    for h, w in sizes:
        row = {"height": h, "width": w}
        for res, base in BUCKET_BASES.items():
            cl = data_utils.generate_crop_size_list(base, 32)
            ar = np.array([round(float(bh) / float(bw), 5) for bh, bw in cl])
            size, _ = data_utils.get_closest_ratio(h, w, ar, cl)
            new = transforms.functional._compute_resized_output_size if hasattr(transforms.functional, "_compute_resized_output_size") else None
            row[res] = [int(size[0]), int(size[1])]
            if new is not None:
                row[res + "_resized"] = [int(v) for v in new((h, w), [min(size)], None)]
        table.append(row)
    lists = {res: [[int(x), int(y)] for x, y in data_utils.generate_crop_size_list(base, 32)] for res, base in BUCKET_BASES.items()}
    # Refused by jenga (one-line error), so not part of the goldens above.
    Image.fromarray(smooth_rgb(rng, 9, 11)).convert("CMYK").save(os.path.join(a.out, "refused_cmyk_11x9.jpg"), quality=80)
    save_file(tensors, os.path.join(a.out, "image_golden.safetensors"))
    with open(os.path.join(a.out, "buckets.json"), "w") as f:
        json.dump({"crop_size_lists": lists, "closest": table, "images": per_image, "small_bases": SMALL_BASES}, f, indent=1)
    print(f"wrote {len(files)} images, {len(tensors)} tensors, {len(table)} bucket rows to {a.out}")


if __name__ == "__main__":
    main()
