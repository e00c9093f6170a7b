#!/usr/bin/env python3
"""Goldens for HunyuanVideo-I2V's text encoder as a whole (image + prompt -> text states), produced
by the official TextEncoder (hyvideo/text_encoder/__init__.py, i2v_mode) around transformers'
LlavaForConditionalGeneration (4.46.3; 4.39.3, the official pin, merges the image the same way) on a
tiny random config.

Writes OUT/llava_i2v_tiny/ (config.json, fp16 model.safetensors, preprocessor_config.json: a tiny
CLIP vision tower 42 px / patch 14 -> 9 image tokens, a 4-layer Llama, image token 120, pad 121;
loaded as the official loader does: fp16, then f32 here so the comparison is exact, with the fp16
RoPE inv_freq the official load leaves) and OUT/i2v_text_golden.safetensors with, per case:
  <case>_ids, <case>_mask   i64 [L]   the Llama input: <image> at 5, "\\n\\n" = id 27
  <case>_hidden             [L+8, 40] hidden_states[-3] of the merged sequence (skip 2)
  <case>_states, <case>_states_mask   what TextEncoder.encode returns (crop as the official
                                      template with crop_start 20, image rows 5..14 every 4th)
Cases: "padded" (4 "\\n\\n", right padding with the pad id), "truncated" (3 "\\n\\n": the prompt ran
to max_length), "extra" (a "\\n\\n" inside the prompt too). Image: photo_71x43.jpg.

usage: tools/golden/hunyuan_i2v_text_golden.py --official /path/to/HunyuanVideo-I2V --out tests/data/hunyuan_i2v/
"""
import argparse
import os
import shutil
import sys

import torch
from PIL import Image
from safetensors.torch import save_file
from transformers import CLIPImageProcessor, CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

IMAGE_TOKEN, PAD, DOUBLE_RETURN, BOS = 120, 121, 27, 1
L = 40          # input ids (the official: 256 + 103)
CROP_START = 20  # template ids before the prompt (the official: 103)
N_IMAGE = 9     # (42 / 14)^2 image tokens (the official: 576)
TEMPLATE = {"crop_start": CROP_START, "image_emb_start": 5, "image_emb_end": 5 + N_IMAGE, "image_emb_len": N_IMAGE,
            "double_return_token_id": DOUBLE_RETURN, "template": "{}"}


def case_ids(gen, kind):
    """A template-shaped id row: BOS, 4 ids, <image>, system text, "\\n\\n" x2 in the template
    prefix, the prompt, <|eot_id|>-like 4 ids, "\\n\\n" (the assistant header's), padding."""
    ids = torch.randint(30, 110, (L,), generator=gen)
    ids[0], ids[5] = BOS, IMAGE_TOKEN
    ids[3], ids[12], ids[CROP_START - 1] = DOUBLE_RETURN, DOUBLE_RETURN, DOUBLE_RETURN
    mask = torch.ones(L, dtype=torch.int64)
    if kind == "padded":
        end = 31  # the last "\n\n" at 30, then padding
        ids[end - 1] = DOUBLE_RETURN
        ids[end:] = PAD
        mask[end:] = 0
    elif kind == "extra":
        ids[CROP_START + 3] = DOUBLE_RETURN  # a "\n\n" inside the prompt
        ids[35] = DOUBLE_RETURN
        ids[36:] = PAD
        mask[36:] = 0
    # "truncated": no fourth "\n\n" and no padding
    return ids[None], mask[None]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--official", required=True, help="HunyuanVideo-I2V checkout (holds hyvideo/text_encoder)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    sys.path.insert(0, a.official)
    from hyvideo.text_encoder import TextEncoder, load_text_encoder

    torch.manual_seed(2525)
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=48, num_hidden_layers=3, num_attention_heads=4,
                              image_size=42, patch_size=14, projection_dim=32, hidden_act="quick_gelu", layer_norm_eps=1e-5)
    text = LlamaConfig(vocab_size=128, hidden_size=40, intermediate_size=64, num_hidden_layers=4, num_attention_heads=4,
                       num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-5, rope_theta=500000.0)
    cfg = LlavaConfig(vision_config=vision, text_config=text, image_token_index=IMAGE_TOKEN, pad_token_id=PAD,
                      projector_hidden_act="gelu", vision_feature_layer=-2, vision_feature_select_strategy="default")
    model = LlavaForConditionalGeneration(cfg).eval()
    with torch.no_grad():  # larger than the default init so every part matters
        for p in model.parameters():
            p.normal_(0, 0.2)
    folder = os.path.join(a.out, "llava_i2v_tiny")
    shutil.rmtree(folder, ignore_errors=True)
    model.half().save_pretrained(folder, safe_serialization=True)
    if os.path.exists(os.path.join(folder, "generation_config.json")):
        os.remove(os.path.join(folder, "generation_config.json"))
    CLIPImageProcessor(size={"shortest_edge": 42}, crop_size={"height": 42, "width": 42}).save_pretrained(folder)

    # The official encoder object without its tokenizer (the ids are given): every field encode() reads.
    te = TextEncoder.__new__(TextEncoder)
    torch.nn.Module.__init__(te)
    te.model, _ = load_text_encoder("llm-i2v", "fp16", folder)
    assert te.model.language_model.model.rotary_emb.inv_freq.dtype == torch.float16
    te.model = te.model.float()
    te.processor = CLIPImageProcessor.from_pretrained(folder)
    te.use_attention_mask, te.hidden_state_skip_layer, te.apply_final_norm = True, 2, False
    te.reproduce, te.i2v_mode, te.use_template = True, True, True
    te.prompt_template_video, te.image_embed_interleave = TEMPLATE, 4

    image = Image.open(os.path.join(a.out, "photo_71x43.jpg")).convert("RGB")
    gen = torch.Generator().manual_seed(25)
    res = {}
    with torch.no_grad():
        for kind in ["padded", "truncated", "extra"]:
            ids, mask = case_ids(gen, kind)
            o = te.encode({"input_ids": ids, "attention_mask": mask}, data_type="video", semantic_images=[image],
                          output_hidden_states=True)
            res[f"{kind}_ids"], res[f"{kind}_mask"] = ids[0], mask[0]
            res[f"{kind}_hidden"] = o.hidden_states_list[-3][0]
            res[f"{kind}_states"], res[f"{kind}_states_mask"] = o.hidden_state[0], o.attention_mask[0]
            assert o.hidden_state.shape[1] == 3 + (L - 4 - CROP_START), o.hidden_state.shape
    res = {k: (v.float() if v.is_floating_point() else v.to(torch.int64)).clone().contiguous() for k, v in res.items()}
    save_file(res, os.path.join(a.out, "i2v_text_golden.safetensors"))
    print(f"wrote {folder} and {len(res)} tensors")


if __name__ == "__main__":
    main()
