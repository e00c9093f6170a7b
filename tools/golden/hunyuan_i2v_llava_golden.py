#!/usr/bin/env python3
"""Goldens for the image side of HunyuanVideo-I2V's LLaVA text encoder, produced by transformers'
LlavaForConditionalGeneration (4.46.3) and CLIPImageProcessor on a tiny random config.

Writes OUT/llava_tiny/ (config.json, model.safetensors, preprocessor_config.json: the layout of the
official text_encoder_i2v/ folder, with a tiny CLIP vision tower 42 px / patch 14 / width 32 /
3 layers, a tiny Llama, the published top-level fields vision_feature_layer -2, strategy
"default", projector "gelu") and OUT/llava_golden.safetensors with, for each test image
(PNG/JPEG under OUT/, as the official code opens them: PIL convert("RGB")):
  pixel_values_<name> [3, 42, 42]    CLIPImageProcessor(images=PIL image)
  features_<name>     [9, 32]        vision_tower(...).hidden_states[-2][:, 1:]
  projected_<name>    [9, 40]        model.get_image_features(pixel_values, -2, "default")

usage: tools/golden/hunyuan_i2v_llava_golden.py --out tests/data/hunyuan_i2v/
"""
import argparse
import os

import torch
from PIL import Image
from safetensors.torch import save_file
from transformers import CLIPImageProcessor, CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

IMAGES = ["photo_71x43.jpg", "rgba_29x61.png", "grey_50x50.png"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.manual_seed(25)
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=48, num_hidden_layers=3, num_attention_heads=4,
                              image_size=42, patch_size=14, projection_dim=32, hidden_act="quick_gelu", layer_norm_eps=1e-5)
    text = LlamaConfig(vocab_size=128, hidden_size=40, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                       num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-5, rope_theta=500000.0)
    cfg = LlavaConfig(vision_config=vision, text_config=text, image_token_index=120, pad_token_id=121,
                      projector_hidden_act="gelu", vision_feature_layer=-2, vision_feature_select_strategy="default")
    model = LlavaForConditionalGeneration(cfg).eval()
    with torch.no_grad():  # larger than the default init so every part matters
        for p in model.parameters():
            p.normal_(0, 0.2)
    folder = os.path.join(a.out, "llava_tiny")
    model.save_pretrained(folder, safe_serialization=True)
    proc = CLIPImageProcessor(size={"shortest_edge": 42}, crop_size={"height": 42, "width": 42})
    proc.save_pretrained(folder)

    out = {}
    with torch.no_grad():
        for name in IMAGES:
            key = name.replace(".", "_")
            img = Image.open(os.path.join(a.out, name)).convert("RGB")
            pv = proc(img, return_tensors="pt")["pixel_values"]
            hs = model.vision_tower(pv, output_hidden_states=True).hidden_states
            out[f"pixel_values_{key}"] = pv[0].contiguous()
            out[f"features_{key}"] = hs[-2][0, 1:].contiguous()
            out[f"projected_{key}"] = model.get_image_features(pv, -2, "default")[0].contiguous()
    save_file(out, os.path.join(a.out, "llava_golden.safetensors"))
    print(f"wrote {folder} and {len(out)} tensors")


if __name__ == "__main__":
    main()
