#!/usr/bin/env python3
"""transformers' CLIPVisionModel + LLaVA's projector as the peer of HunyuanVideo-I2V's image side
(`jenga debug encode-image`, `jenga bench text-encoder --model hunyuan-i2v`; issue 25 point 2).

  run  DIR is a LLaVA folder (config.json with vision_config; model.safetensors with
       vision_tower.vision_model.* and multi_modal_projector.*), e.g. the random full-size one
       `jenga bench text-encoder --model hunyuan-i2v --llava DIR` writes. OURS is our encode-image
       output (pixel_values [3, S, S], features, projected); the same pixel_values go through
       transformers as LlavaForConditionalGeneration runs its image side (the vision tower with
       output_hidden_states, hidden_states[vision_feature_layer], CLS dropped, linear_1 -> GELU ->
       linear_2) in fp16 (timed: median of --iters, pixels already on the device, all 24 layers
       as transformers computes them) and in f32 (the reference). One JSON line: rel L2 vs f32 of
       ours (OURS, and OURS32 = our f32 mode if given) beside transformers' fp16.

usage: hunyuan_i2v_vision_peer.py [--device cuda] run --dir D --ours O [--ours32 O32] [--iters 10]
"""
import argparse
import json
import os
import sys
import time

import torch
from safetensors.torch import load_file


def emit(d):
    print(json.dumps(d), flush=True)


def rel_l2(a, b):
    a, b = a.double().flatten().cpu(), b.double().flatten().cpu()
    return float((a - b).norm() / b.norm())


def build(d, dev, dtype):
    from transformers import CLIPVisionConfig, CLIPVisionModel
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    vc = CLIPVisionConfig(**{k: v for k, v in cfg["vision_config"].items() if not k.startswith("_") and k != "model_type"})
    try:
        vc._attn_implementation = "sdpa"  # transformers' default on CUDA
    except Exception:
        pass
    sd = {}
    for name in sorted(os.listdir(d)):
        if name.endswith(".safetensors"):
            sd.update(load_file(os.path.join(d, name)))
    tower = CLIPVisionModel(vc).eval()
    vis = {k[len("vision_tower."):]: v for k, v in sd.items() if k.startswith("vision_tower.")}
    # transformers 4.x names the tower's parameters vision_model.*; later versions may not.
    if not any(k.startswith("vision_model.") for k in tower.state_dict()):
        vis = {k[len("vision_model."):] if k.startswith("vision_model.") else k: v for k, v in vis.items()}
    missing, unexpected = tower.load_state_dict(vis, strict=False)
    missing = [m for m in missing if "position_ids" not in m]
    if missing or unexpected:
        sys.exit(f"error: {d}: vision tower missing {missing[:3]} unexpected {unexpected[:3]}")
    w1, b1 = sd["multi_modal_projector.linear_1.weight"], sd["multi_modal_projector.linear_1.bias"]
    w2, b2 = sd["multi_modal_projector.linear_2.weight"], sd["multi_modal_projector.linear_2.bias"]
    proj = torch.nn.Sequential(torch.nn.Linear(w1.shape[1], w1.shape[0]), torch.nn.GELU(),
                               torch.nn.Linear(w2.shape[1], w2.shape[0])).eval()
    proj.load_state_dict({"0.weight": w1, "0.bias": b1, "2.weight": w2, "2.bias": b2})
    layer = cfg.get("vision_feature_layer", -2)
    drop = cfg.get("vision_feature_select_strategy", "default") == "default"
    return tower.to(dev, dtype), proj.to(dev, dtype), layer, drop


def image_side(tower, proj, layer, drop, px):
    with torch.no_grad():
        hs = tower(px, output_hidden_states=True).hidden_states[layer]
        feats = hs[:, 1:] if drop else hs
        return feats, proj(feats)


def timed(fn, iters, dev):
    fn()
    if dev.startswith("cuda"):
        torch.cuda.synchronize()
    ms = []
    for _ in range(iters):
        t0 = time.perf_counter()
        out = fn()
        if dev.startswith("cuda"):
            torch.cuda.synchronize()
        ms.append((time.perf_counter() - t0) * 1e3)
    ms.sort()
    return out, ms[len(ms) // 2]


def cmd_run(a, dev):
    ours = load_file(a.ours)
    px = ours["pixel_values"].float().unsqueeze(0)
    res = {"peer": "hunyuan-i2v-vision", "step": "run", "device": dev, "iters": a.iters,
           "torch": torch.__version__}
    try:
        import transformers
        res["transformers"] = transformers.__version__
    except Exception:
        pass
    tower, proj, layer, drop = build(a.dir, dev, torch.float16)
    px16 = px.to(dev, torch.float16)
    (f16, p16), ms = timed(lambda: image_side(tower, proj, layer, drop, px16), a.iters, dev)
    res["fp16_ms"] = round(ms, 3)
    if dev.startswith("cuda"):
        res["gpu"] = torch.cuda.get_device_name()
    del tower, proj
    tower, proj, layer, drop = build(a.dir, dev, torch.float32)
    if dev.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    px32 = px.to(dev)
    (f32, p32), ms32 = timed(lambda: image_side(tower, proj, layer, drop, px32), 1, dev)
    res["f32_ms"] = round(ms32, 3)
    f32, p32 = f32[0].float(), p32[0].float()
    res["rows"] = int(p32.shape[0])
    res["rel_features_fp16_vs_f32"] = rel_l2(f16[0].float(), f32)
    res["rel_projected_fp16_vs_f32"] = rel_l2(p16[0].float(), p32)
    res["rel_features_ours_vs_f32"] = rel_l2(ours["features"], f32)
    res["rel_projected_ours_vs_f32"] = rel_l2(ours["projected"], p32)
    if a.ours32:
        o32 = load_file(a.ours32)
        res["rel_features_ours32_vs_f32"] = rel_l2(o32["features"], f32)
        res["rel_projected_ours32_vs_f32"] = rel_l2(o32["projected"], p32)
    res["ours_no_farther_from_f32"] = res["rel_projected_ours_vs_f32"] <= res["rel_projected_fp16_vs_f32"]
    emit(res)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--dir", required=True)
    r.add_argument("--ours", required=True)
    r.add_argument("--ours32")
    r.add_argument("--iters", type=int, default=10)
    a = ap.parse_args()
    if not os.path.isfile(os.path.join(a.dir, "config.json")):
        sys.exit(f"error: {a.dir}: no config.json (a LLaVA folder, e.g. from jenga bench text-encoder --model hunyuan-i2v --llava DIR)")
    cmd_run(a, a.device)


if __name__ == "__main__":
    main()
