#!/usr/bin/env python3
"""Golden for HunyuanVideo's Jenga Turbo loop with its sparse attention, by the official code:
tools/golden/hunyuan_jenga_official_loop.py runs dvlab-research/Jenga's HunyuanVideoPipelineProRes
+ ra_forward + its DiT blocks (AttenCarve mask, text amplifier; the Triton kernel as the same
attention in f32) on inputs drawn here, for the tiny DiT `jenga debug make-tiny --family hunyuan
--dit-only --seed 7 --dtype f32` writes (not stored).

Case: hyvideo_jenga_turbo.sh's flags (drops 0.7 0.8, p 0.3, res 0.75 1.0, step rates 0.5 1.0,
shifts 7 9, text amplifier 1.0) at 8 steps on latents [2, 32, 48] -> [2, 44, 64] (352x512 px, 5
frames: 768 and 1408 image tokens, whole 128-token blocks; stage 0's 32 rows are
int(352 * 0.75) // 16 * 2, not 0.75 * 44), 256 text rows of which 37 real. The file is also the
`jenga debug denoise` inputs file (noise, noise_full, context, context_valid, pooled: bf16-exact
values stored as bf16); `official_latents` (f32) and `official_computed` are the official run's.

usage: tools/golden/hunyuan_jenga_sparse_golden.py --official /path/dvlab-research+Jenga \
           --jenga build/bin/jenga --out tests/data/hunyuan_t2v/
"""
import argparse
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file

FLAGS = ["--steps", "8", "--res", "0.75", "1.0", "--step-rates", "0.5", "1.0", "--shifts", "7", "9", "--drops", "0.7",
         "0.8", "--p", "0.3", "--amp", "1.0"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--official", required=True, help="dvlab-research/Jenga checkout")
    ap.add_argument("--jenga", required=True, help="the jenga binary (writes the test model)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    g = torch.Generator().manual_seed(2025)
    bf = lambda *s: torch.randn(*s, generator=g).to(torch.bfloat16)  # noqa: E731
    d = {"noise": bf(16, 2, 32, 48), "noise_full": bf(16, 2, 44, 64), "context": bf(256, 48),
         "context_valid": torch.tensor([37], dtype=torch.int64), "pooled": bf(40)}
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "dit")
        subprocess.run([a.jenga, "debug", "make-tiny", "--family", "hunyuan", "--dit-only", "--out", model, "--size",
                        "tiny", "--seed", "7", "--dtype", "f32"], check=True, stdout=subprocess.DEVNULL)
        inputs, out = os.path.join(tmp, "in.safetensors"), os.path.join(tmp, "out.safetensors")
        save_file(d, inputs)
        tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hunyuan_jenga_official_loop.py")
        subprocess.run([sys.executable, tool, "--official", a.official, "--model", model, "--inputs", inputs, "--out", out]
                       + FLAGS, check=True)
        r = load_file(out)
    d["official_latents"] = r["latents"].float().contiguous()
    d["official_computed"] = r["computed"].to(torch.int32)
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "jenga_turbo_sparse_golden.safetensors")
    save_file(d, path, metadata={"source": "dvlab-research/Jenga HunyuanVideoPipelineProRes + ra_forward + its DiT "
                                           "blocks, CPU f32 (tools/golden/hunyuan_jenga_official_loop.py)",
                                 "model": "jenga debug make-tiny --family hunyuan --dit-only --seed 7 --dtype f32",
                                 "flags": " ".join(FLAGS)})
    print(path, os.path.getsize(path), "bytes; computed", d["official_computed"].tolist())


if __name__ == "__main__":
    main()
