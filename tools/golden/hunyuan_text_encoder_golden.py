#!/usr/bin/env python3
"""Goldens for the HunyuanVideo text encoders on tiny random models, produced through the official
loader and TextEncoder (hyvideo/text_encoder/__init__.py) with transformers 4.46.3:

  LLM:  load_text_encoder("llm", "fp16", dir) = AutoModel (LlamaModel) cast to fp16, which also
        rounds the RoPE inv_freq buffer to fp16; then .float() to compute in f32 (weights are fp16
        values, inv_freq the fp16-rounded values: the official numbers without fp16 arithmetic).
        TextEncoder.encode(..., data_type="video") with hidden_state_skip_layer=2 and the video
        template's crop_start 95 gives the cropped states and mask; the uncropped
        hidden_states[-3], hidden_states[-1] and a run with f32 inv_freq (diffusers) are saved too.
  CLIP: load_text_encoder("clipL", "fp16", dir) -> .float(); pooler_output and last_hidden_state.

Weights are saved with the published layouts:
  llm_official/   LlamaForCausalLM.save_pretrained (model.* names, lm_head, fp16 shards + index,
                  config.json), as the official text_encoder/ folder
                  (the test derives the diffusers LlamaModel layout, names without "model.", from it)
  llm_fp8/        ComfyUI-style scaled fp8: e4m3 linear weights with per-tensor scale_weight
                  and a scaled_fp8 marker; its reference uses the dequantised weights
  clip/           CLIPTextModel.save_pretrained (text_model.* names, fp16), as text_encoder_2/

usage: tools/golden/hunyuan_text_encoder_golden.py --hv /work/peers-src/Tencent+HunyuanVideo \
           --tokenizer build-test-tokenizers/llama3 [--out tests/data/hunyuan_text]
(--tokenizer: any Llama tokenizer folder; TextEncoder loads one but encode() does not use it)
"""
import argparse
import json
import os
import shutil
import sys

import torch
from safetensors.torch import load_file, save_file

SEED = 21
L_LLM, VALID_LLM = 351, 120
L_CLIP, VALID_CLIP = 77, 23


def llama_config():
    from transformers import LlamaConfig
    return LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                       num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5, rope_theta=500000.0,
                       max_position_embeddings=512, bos_token_id=250, eos_token_id=251, pad_token_id=252,
                       tie_word_embeddings=False, torch_dtype="float16")


def clip_config():
    from transformers import CLIPTextConfig
    return CLIPTextConfig(vocab_size=512, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                          num_attention_heads=2, max_position_embeddings=77, hidden_act="quick_gelu",
                          layer_norm_eps=1e-5, bos_token_id=510, eos_token_id=2, pad_token_id=1,
                          torch_dtype="float16")


def randomise(model, gen):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or "layer_norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.08 * torch.randn(p.shape, generator=gen))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hv", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", default="tests/data/hunyuan_text")
    a = ap.parse_args()
    import transformers
    assert transformers.__version__ == "4.46.3", transformers.__version__
    from transformers import CLIPTextModel, LlamaForCausalLM
    sys.path.insert(0, a.hv)
    from hyvideo.constants import PROMPT_TEMPLATE
    from hyvideo.text_encoder import TextEncoder, load_text_encoder

    gen = torch.Generator().manual_seed(SEED)
    out = a.out
    os.makedirs(out, exist_ok=True)
    res = {}

    # ---- LLM ----
    lm = LlamaForCausalLM(llama_config())
    randomise(lm, gen)
    lm = lm.half()
    d = os.path.join(out, "llm_official")
    shutil.rmtree(d, ignore_errors=True)
    lm.save_pretrained(d, safe_serialization=True, max_shard_size="160KB")
    for f in os.listdir(d):
        if f == "generation_config.json":
            os.remove(os.path.join(d, f))
    ids = torch.randint(0, 250, (1, L_LLM), generator=gen)
    ids[0, 0] = 250
    ids[0, VALID_LLM:] = 252
    mask = torch.zeros(1, L_LLM, dtype=torch.int64)
    mask[0, :VALID_LLM] = 1
    res["llm_ids"], res["llm_mask"] = ids, mask

    te = TextEncoder(text_encoder_type="llm", max_length=L_LLM, text_encoder_precision="fp16", text_encoder_path=d,
                     tokenizer_type="llm", tokenizer_path=a.tokenizer, prompt_template=PROMPT_TEMPLATE["dit-llm-encode"],
                     prompt_template_video=PROMPT_TEMPLATE["dit-llm-encode-video"], hidden_state_skip_layer=2,
                     apply_final_norm=False)
    assert te.model.rotary_emb.inv_freq.dtype == torch.float16
    te.model = te.model.float()
    with torch.no_grad():
        o = te.encode({"input_ids": ids, "attention_mask": mask}, data_type="video")
        res["llm_text_states"], res["llm_text_mask"] = o.hidden_state[0].contiguous(), o.attention_mask[0].contiguous()
        full = te.model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        res["llm_hidden_m3"] = full.hidden_states[-3][0].contiguous()
        res["llm_hidden_m1"] = full.hidden_states[-1][0].contiguous()
        assert torch.equal(res["llm_hidden_m3"][95:], res["llm_text_states"])
        # diffusers keeps an f32 inv_freq.
        m32, _ = load_text_encoder("llm", "fp32", d)
        m32.load_state_dict({k: v.float() for k, v in te.model.state_dict().items()})
        assert m32.rotary_emb.inv_freq.dtype == torch.float32
        res["llm_hidden_m3_f32rope"] = m32(input_ids=ids, attention_mask=mask,
                                           output_hidden_states=True).hidden_states[-3][0].contiguous()

    sd = {k: v for k, v in lm.state_dict().items()}
    cfg = json.load(open(os.path.join(d, "config.json")))

    # fp8 scaled (ComfyUI): linear weights e4m3 / scale, norms and embedding fp16.
    df = os.path.join(out, "llm_fp8")
    shutil.rmtree(df, ignore_errors=True)
    os.makedirs(df)
    f8 = {"scaled_fp8": torch.empty(0, dtype=torch.float8_e4m3fn)}
    deq = {}
    for k, v in sd.items():
        if k.startswith("lm_head"):
            continue
        if k.endswith("proj.weight"):
            scale = v.float().abs().max() / 448.0
            q = (v.float() / scale).to(torch.float8_e4m3fn)
            f8[k] = q
            f8[k[:-len("weight")] + "scale_weight"] = scale.reshape(())
            deq[k] = q.float() * scale
        else:
            f8[k] = v
            deq[k] = v.float()
    save_file(f8, os.path.join(df, "model.safetensors"))
    json.dump(cfg, open(os.path.join(df, "config.json"), "w"), indent=1)
    with torch.no_grad():
        missing, unexpected = te.model.load_state_dict({k[len("model."):]: v for k, v in deq.items()}, strict=False)
        assert missing == ["final_layer_norm.weight"] and not unexpected, (missing, unexpected)  # the loader's alias of norm
        res["llm_fp8_hidden_m3"] = te.model(input_ids=ids, attention_mask=mask,
                                            output_hidden_states=True).hidden_states[-3][0].contiguous()

    # ---- CLIP ----
    cm = CLIPTextModel(clip_config())
    randomise(cm, gen)
    cm = cm.half()
    dc = os.path.join(out, "clip")
    shutil.rmtree(dc, ignore_errors=True)
    cm.save_pretrained(dc, safe_serialization=True)
    cids = torch.randint(0, 509, (1, L_CLIP), generator=gen)
    cids[0, 0] = 510
    cids[0, VALID_CLIP - 1] = 511  # EOS = the largest id (argmax pooling)
    cids[0, VALID_CLIP:] = 511     # padding with the EOS id, as CLIP-L's pad
    cmask = torch.zeros(1, L_CLIP, dtype=torch.int64)
    cmask[0, :VALID_CLIP] = 1
    clip, _ = load_text_encoder("clipL", "fp16", dc)
    clip = clip.float()
    with torch.no_grad():
        co = clip(input_ids=cids, attention_mask=cmask)
    res["clip_ids"], res["clip_mask"] = cids, cmask
    res["clip_pooled"] = co.pooler_output[0].contiguous()
    res["clip_last_hidden"] = co.last_hidden_state[0].contiguous()

    res = {k: (v.float() if v.is_floating_point() else v.to(torch.int64)).clone().contiguous() for k, v in res.items()}
    save_file(res, os.path.join(out, "text_encoder_golden.safetensors"))
    total = 0
    for root, _, files in os.walk(out):
        for f in files:
            if "golden" in f or root != out:
                total += os.path.getsize(os.path.join(root, f))
    print(f"wrote {out}: {total} bytes; llm hs[-3] rel change from f32 inv_freq: "
          f"{((res['llm_hidden_m3'] - res['llm_hidden_m3_f32rope']).norm() / res['llm_hidden_m3'].norm()).item():.2e}")


if __name__ == "__main__":
    main()
