#!/usr/bin/env python3
"""transformers' LlamaModel and CLIPTextModel as the peers of HunyuanVideo's text encoders in
`jenga bench text-encoder --model hunyuan` / `jenga debug encode-text` (issue 21 points 5-6).

  write    random full-size weights, made on the device in fp16 and saved as the official folders:
           DIR/text_encoder/ (llava-llama-3-8b's LLM: "model.*" names, ~5 GB safetensors shards +
           index + config.json; the unused lm_head is left out) and DIR/text_encoder_2/ (CLIP-L
           text model, "text_model.*" names); DIR/ids_llm.safetensors (ids, mask [1, 351]: BOS,
           random tokens, right padding) and DIR/ids_clip.safetensors (ids, mask [1, 77]).
  run      the official precision (fp16 on the device: time, median of --iters, and peak memory
           including the weights), then the same weights in f32 (the reference): the LLM's
           hidden_states[-3] with the video template's first 95 rows cropped (256 x 4096), CLIP's
           pooled vector and last state. RoPE's inv_freq is rounded to fp16 as the official
           loader's .to(fp16) does, and kept so in f32. Writes REF; one JSON line.
  compare  rel L2 (all 256 rows, and the valid rows alone) of OURS_LLM and OURS_CLIP vs the f32
           run, next to the fp16 run's own distance from it. One JSON line.

--tiny (with --device cpu) swaps in small configs so the CPU paths can be tested here.
usage: hunyuan_text_peer.py [--device cuda] [--tiny] write --dir D [--layers 32] [--valid 150]
       hunyuan_text_peer.py [--device cuda] run --dir D --ref R [--iters 5]
       hunyuan_text_peer.py compare --ref R --ours-llm O1 [--ours-clip O2]
"""
import argparse
import json
import os
import sys
import time

import torch
from safetensors.torch import load_file, save_file

CROP = 95        # the video template's crop_start
L_LLM, L_CLIP = 351, 77


def llama_config(tiny, layers):
    from transformers import LlamaConfig
    if tiny:
        return LlamaConfig(vocab_size=1024, hidden_size=64, intermediate_size=128, num_hidden_layers=layers or 4,
                           num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5, rope_theta=500000.0,
                           max_position_embeddings=512, tie_word_embeddings=False)
    # llava-llama-3-8b-v1_1's language model (text_encoder/config.json)
    return LlamaConfig(vocab_size=128320, hidden_size=4096, intermediate_size=14336, num_hidden_layers=layers or 32,
                       num_attention_heads=32, num_key_value_heads=8, rms_norm_eps=1e-5, rope_theta=500000.0,
                       max_position_embeddings=8192, bos_token_id=128000, eos_token_id=128001,
                       tie_word_embeddings=False, hidden_act="silu")


def clip_config(tiny):
    from transformers import CLIPTextConfig
    if tiny:
        return CLIPTextConfig(vocab_size=49408, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                              num_attention_heads=2, max_position_embeddings=77, hidden_act="quick_gelu",
                              layer_norm_eps=1e-5, bos_token_id=49406, eos_token_id=49407, pad_token_id=49407)
    # openai/clip-vit-large-patch14's text model (text_encoder_2/config.json), but eos_token_id 49407
    # instead of its legacy 2: the same pooled position (the first 49407 = argmax of the ids) on
    # any transformers version, whether or not it keeps the legacy rule
    return CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                          num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu",
                          layer_norm_eps=1e-5, bos_token_id=49406, eos_token_id=49407, pad_token_id=49407, projection_dim=768)


def emit(d):
    print(json.dumps(d), flush=True)


def sync(dev):
    if dev.startswith("cuda"):
        torch.cuda.synchronize()


def build(cls, cfg, dev, dtype):
    """The model built straight on the device in `dtype` (no f32 detour for 8B weights)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(dev):
            return cls(cfg).eval()
    finally:
        torch.set_default_dtype(old)


def randomise(model, seed, dev):
    g = torch.Generator(device=dev).manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g, device=dev, dtype=torch.float32))
            elif "norm" in name and name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g, device=dev, dtype=torch.float32))
            else:
                p.copy_(0.02 * torch.randn(p.shape, generator=g, device=dev, dtype=torch.float32))


def save_sharded(sd, folder, prefix, cfg, shard_bytes=5 << 30):
    """safetensors shards + model.safetensors.index.json + config.json, as save_pretrained lays
    them out (written directly so any transformers version gives the same files)."""
    os.makedirs(folder, exist_ok=True)
    shards, cur, size = [], {}, 0
    for k, v in sd.items():
        if cur and size + v.numel() * v.element_size() > shard_bytes:
            shards.append(cur)
            cur, size = {}, 0
        cur[prefix + k] = v
        size += v.numel() * v.element_size()
    shards.append(cur)
    index, total = {}, 0
    for i, s in enumerate(shards):
        name = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file({k: v.detach().cpu().contiguous() for k, v in s.items()}, os.path.join(folder, name),
                  metadata={"format": "pt"})
        for k, v in s.items():
            index[k] = name
            total += v.numel() * v.element_size()
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": index}, f, indent=1)
    d = cfg.to_dict()
    d["torch_dtype"] = "float16"
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(d, f, indent=1)


def load_sharded(model, folder, prefix):
    sd = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".safetensors"):
            for k, v in load_file(os.path.join(folder, name)).items():
                sd[k[len(prefix):] if k.startswith(prefix) else k] = v
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [m for m in missing if "rotary_emb" not in m]
    if missing or unexpected:
        sys.exit(f"error: {folder}: missing {missing[:3]} unexpected {unexpected[:3]}")


def cmd_write(a, dev):
    from transformers import CLIPTextModel, LlamaModel
    t0 = time.time()
    lcfg, ccfg = llama_config(a.tiny, a.layers), clip_config(a.tiny)
    llm = build(LlamaModel, lcfg, dev, torch.float16)
    randomise(llm, a.seed, dev)
    save_sharded(llm.state_dict(), os.path.join(a.dir, "text_encoder"), "model.", lcfg)
    t_llm = time.time() - t0
    del llm
    clip = build(CLIPTextModel, ccfg, dev, torch.float16)
    randomise(clip, a.seed + 1, dev)
    save_sharded(clip.state_dict(), os.path.join(a.dir, "text_encoder_2"), "", ccfg)
    g = torch.Generator().manual_seed(a.seed + 2)
    valid = min(a.valid, L_LLM)
    ids = torch.randint(0, min(lcfg.vocab_size, 128000), (1, L_LLM), generator=g)
    ids[0, 0] = min(128000, lcfg.vocab_size - 1)  # BOS
    mask = torch.zeros(1, L_LLM, dtype=torch.int64)
    mask[0, :valid] = 1
    save_file({"ids": ids, "mask": mask}, os.path.join(a.dir, "ids_llm.safetensors"))
    cvalid = 40
    cids = torch.full((1, L_CLIP), 49407, dtype=torch.int64)  # pad = <|endoftext|>
    cids[0, 0] = 49406
    cids[0, 1:cvalid - 1] = torch.randint(0, 49406, (cvalid - 2,), generator=g)
    cmask = torch.zeros(1, L_CLIP, dtype=torch.int64)
    cmask[0, :cvalid] = 1
    save_file({"ids": cids, "mask": cmask}, os.path.join(a.dir, "ids_clip.safetensors"))
    emit({"peer": "hunyuan-text", "step": "write", "dir": a.dir, "llm_layers": lcfg.num_hidden_layers,
          "llm_write_s": round(t_llm, 1), "s": round(time.time() - t0, 1), "valid": valid})


def timed(fn, iters, dev):
    fn()  # warm-up
    sync(dev)
    ms = []
    for _ in range(iters):
        t0 = time.perf_counter()
        out = fn()
        sync(dev)
        ms.append((time.perf_counter() - t0) * 1e3)
    ms.sort()
    return out, ms[len(ms) // 2]


def cmd_run(a, dev):
    from transformers import CLIPTextConfig, CLIPTextModel, LlamaConfig, LlamaModel
    cuda = dev.startswith("cuda")
    te, te2 = os.path.join(a.dir, "text_encoder"), os.path.join(a.dir, "text_encoder_2")
    for f in (te, te2):
        if not os.path.isfile(os.path.join(f, "config.json")):
            sys.exit(f"error: {f}: no config.json (run 'write' first)")
    ids = load_file(os.path.join(a.dir, "ids_llm.safetensors"))
    cids = load_file(os.path.join(a.dir, "ids_clip.safetensors"))
    res = {"peer": "hunyuan-text", "step": "run", "device": dev, "iters": a.iters}
    out = {"mask": ids["mask"][0, CROP:].contiguous()}

    def with_attn(cfg):
        try:
            cfg._attn_implementation = "sdpa"  # what transformers picks by default on CUDA
        except Exception:  # a version where it is read-only: its default
            pass
        return cfg

    # LLM, fp16 (the official load_text_encoder: from_pretrained then .to(fp16), which also
    # rounds the RoPE inv_freq buffer), peak memory counted from before the load.
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.time()
    lcfg = with_attn(LlamaConfig.from_json_file(os.path.join(te, "config.json")))
    llm = build(LlamaModel, lcfg, dev, torch.float16)
    load_sharded(llm, te, "model.")
    llm = llm.to(torch.float16)
    sync(dev)
    res["llm_load_s"] = round(time.time() - t0, 1)
    i, m = ids["ids"].to(dev), ids["mask"].to(dev)

    def enc():
        with torch.no_grad():
            return llm(input_ids=i, attention_mask=m, output_hidden_states=True).hidden_states[-3][0, CROP:]
    h16, res["llm_fp16_ms"] = timed(enc, a.iters, dev)
    if cuda:
        res["llm_fp16_peak_alloc_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
    out["llm_fp16"] = h16.float().cpu().contiguous()
    llm = llm.float()  # f32 arithmetic on the same (fp16-valued) weights, inv_freq as rounded
    with torch.no_grad():
        out["llm_f32"] = enc().float().cpu().contiguous()
    del llm
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()

    ccfg = with_attn(CLIPTextConfig.from_json_file(os.path.join(te2, "config.json")))
    clip = build(CLIPTextModel, ccfg, dev, torch.float16)
    load_sharded(clip, te2, "")
    ci, cm = cids["ids"].to(dev), cids["mask"].to(dev)

    def cenc():
        with torch.no_grad():
            return clip(input_ids=ci, attention_mask=cm)
    o16, res["clip_fp16_ms"] = timed(cenc, a.iters, dev)
    if cuda:
        res["clip_fp16_peak_alloc_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
    out["clip_pooled_fp16"] = o16.pooler_output[0].float().cpu().contiguous()
    out["clip_last_fp16"] = o16.last_hidden_state[0].float().cpu().contiguous()
    clip = clip.float()
    o32 = cenc()
    out["clip_pooled_f32"] = o32.pooler_output[0].float().cpu().contiguous()
    out["clip_last_f32"] = o32.last_hidden_state[0].float().cpu().contiguous()
    save_file(out, a.ref)
    valid = out["mask"].bool()
    res["rel_llm_fp16_vs_f32"] = rel(out["llm_fp16"], out["llm_f32"])
    res["rel_llm_fp16_vs_f32_valid"] = rel(out["llm_fp16"][valid], out["llm_f32"][valid])
    res["rel_clip_pooled_fp16_vs_f32"] = rel(out["clip_pooled_fp16"], out["clip_pooled_f32"])
    res["finite"] = all(bool(torch.isfinite(v.float()).all()) for v in out.values())
    if cuda:
        res["gpu"] = torch.cuda.get_device_name()
    import transformers
    res["torch"], res["transformers"] = torch.__version__, transformers.__version__
    emit(res)


def rel(a, b):
    a, b = a.double(), b.double()
    return (torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b).clamp_min(1e-30)).item()


def cmd_compare(a):
    ref = load_file(a.ref)
    res = {"peer": "hunyuan-text", "step": "compare"}
    valid = ref["mask"].bool()
    if not os.path.isfile(a.ours_llm):  # still compare CLIP: report the LLM as missing
        res["llm"] = f"missing: {a.ours_llm}"
        ours = None
    else:
        ours = load_file(a.ours_llm)
    if ours is None:
        pass
    elif "hidden_states" not in ours or ours["hidden_states"].shape != ref["llm_f32"].shape:
        sys.exit(f"error: {a.ours_llm}: expected hidden_states {tuple(ref['llm_f32'].shape)} "
                 "(jenga debug encode-text --crop-start 95)")
    res["rel_llm_fp16_vs_f32"] = rel(ref["llm_fp16"], ref["llm_f32"])
    res["rel_llm_fp16_vs_f32_valid"] = rel(ref["llm_fp16"][valid], ref["llm_f32"][valid])
    if ours is not None:
        h = ours["hidden_states"].float()
        res["ours_finite"] = bool(torch.isfinite(h).all())
        res["rel_llm_ours_vs_f32"] = rel(h, ref["llm_f32"])
        res["rel_llm_ours_vs_f32_valid"] = rel(h[valid], ref["llm_f32"][valid])
        res["rel_llm_ours_vs_fp16"] = rel(h, ref["llm_fp16"])
        res["llm_ours_no_farther_from_f32"] = res["rel_llm_ours_vs_f32"] <= res["rel_llm_fp16_vs_f32"]
    if a.ours_clip:
        c = load_file(a.ours_clip)
        res["rel_clip_pooled_ours_vs_f32"] = rel(c["pooled"], ref["clip_pooled_f32"])
        res["rel_clip_pooled_fp16_vs_f32"] = rel(ref["clip_pooled_fp16"], ref["clip_pooled_f32"])
        res["rel_clip_last_ours_vs_f32"] = rel(c["last_hidden_state"], ref["clip_last_f32"])
        res["clip_ours_no_farther_from_f32"] = res["rel_clip_pooled_ours_vs_f32"] <= res["rel_clip_pooled_fp16_vs_f32"]
    emit(res)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tiny", action="store_true", help="small configs (CPU tests of this script)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("--dir", required=True)
    w.add_argument("--layers", type=int, default=0, help="LLM layers (default: 32, the published model)")
    w.add_argument("--valid", type=int, default=150, help="real LLM tokens before right padding (of 351)")
    w.add_argument("--seed", type=int, default=0)
    r = sub.add_parser("run")
    r.add_argument("--dir", required=True)
    r.add_argument("--ref", required=True)
    r.add_argument("--iters", type=int, default=5)
    c = sub.add_parser("compare")
    c.add_argument("--ref", required=True)
    c.add_argument("--ours-llm", required=True)
    c.add_argument("--ours-clip", default="")
    a = ap.parse_args()
    if a.cmd == "compare":
        return cmd_compare(a)
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("error: --device cuda: no CUDA device visible to torch (use --device cpu --tiny for a CPU check)")
    (cmd_write if a.cmd == "write" else cmd_run)(a, a.device)


if __name__ == "__main__":
    main()
