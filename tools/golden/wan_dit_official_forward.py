#!/usr/bin/env python3
"""Runs the official Wan2.1 WanModel (f32, CPU) on the same files as `jenga debug dit-forward`,
so the two outputs can be compared on any official-layout checkpoint (e.g. the 1.3B shape).

usage: tools/golden/wan_dit_official_forward.py --wan third_party_ref/Wan2.1 --model DIR \
           --inputs IN.safetensors --out REF.safetensors [--compare OURS.safetensors]
DIR: config.json (official format) + diffusion_pytorch_model*.safetensors (any float dtype).
"""
import argparse
import glob
import json
import os
import sys

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wan_dit_golden import build_model, import_official_model  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wan", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--compare", help="our output to compare with (prints max abs / rel error)")
    a = ap.parse_args()
    model_mod = import_official_model(a.wan)
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    weights = {}
    for f in sorted(glob.glob(os.path.join(a.model, "diffusion_pytorch_model*.safetensors"))):
        weights.update({k: v.float() for k, v in load_file(f).items()})
    model = build_model(model_mod, cfg, cfg["num_heads"], weights)
    del weights
    inp = load_file(a.inputs)
    x, t, ctx = inp["x"].float(), inp["t"].float().reshape(1), inp["context"].float()
    p = model.patch_size
    seq_len = (x.shape[1] // p[0]) * (x.shape[2] // p[1]) * (x.shape[3] // p[2])
    with torch.no_grad():
        out = model([x], t, [ctx], seq_len)[0].float().contiguous()
    save_file({"out": out}, a.out)
    if a.compare:
        ours = load_file(a.compare)["out"]
        d = (ours - out).abs().max().item()
        print(f"max|ours - official| {d:.3g}  max|official| {out.abs().max().item():.3g}  "
              f"rel {d / out.abs().max().item():.3g}")


if __name__ == "__main__":
    main()
