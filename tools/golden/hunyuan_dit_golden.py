#!/usr/bin/env python3
"""Goldens for the HunyuanVideo DiT forward, produced by the official HYVideoDiffusionTransformer
(hyvideo/modules, Tencent HunyuanVideo as vendored by dvlab-research/Jenga).

The test model is not stored: `jenga debug make-tiny --family hunyuan --dit-only --seed 7` writes it (Philox,
deterministic: hidden 64, 2 heads, 2 double + 2 single blocks, RoPE [8, 12, 12], guidance embed).
This script loads those weights into the official model (strict: the official state_dict must have
exactly our key list), runs it in f32 on the CPU on small random inputs with a padded text mask,
and saves inputs, the intermediate results (modulation vector, refined text, every block's
outputs) and the output to OUT/hunyuan_dit_golden.safetensors, with a weights fingerprint.

The official double/single blocks call flash_attn_varlen_func; it is replaced here by torch SDPA
per cu_seqlens segment (image + valid text | padding text), and get_cu_seqlens (which allocates on
"cuda") by the same function on the CPU. Nothing else is changed.

usage: tools/golden/hunyuan_dit_golden.py --official peers/hyref --jenga build/bin/jenga \
           --out tests/data/hunyuan_dit/
(--official: a folder holding hyvideo/modules/models.py)
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import types

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

SEED = 7


def stub_diffusers():
    """HYVideoDiffusionTransformer only needs ModelMixin/ConfigMixin/register_to_config as bases."""
    if "diffusers" in sys.modules:
        return
    d = types.ModuleType("diffusers")
    cu = types.ModuleType("diffusers.configuration_utils")
    dm = types.ModuleType("diffusers.models")

    class ConfigMixin:
        pass

    def register_to_config(f):
        return f

    cu.ConfigMixin, cu.register_to_config = ConfigMixin, register_to_config
    dm.ModelMixin = torch.nn.Module
    d.models = dm
    for name, mod in [("diffusers", d), ("diffusers.configuration_utils", cu), ("diffusers.models", dm)]:
        sys.modules[name] = mod


def varlen_sdpa(q, k, v, cu_q, cu_k, max_q, max_k):
    """q, k, v: [total, heads, d]; each cu_seqlens segment attends within itself (f32)."""
    outs = []
    cu = cu_q.tolist()
    for a, b in zip(cu[:-1], cu[1:]):
        if b <= a:
            continue
        qs, ks, vs = (x[a:b].transpose(0, 1).unsqueeze(0).float() for x in (q, k, v))
        outs.append(F.scaled_dot_product_attention(qs, ks, vs)[0].transpose(0, 1))
    return torch.cat(outs, 0)


def cpu_cu_seqlens(text_mask, img_len):
    b = text_mask.shape[0]
    text_len = text_mask.sum(dim=1)
    max_len = text_mask.shape[1] + img_len
    cu = torch.zeros([2 * b + 1], dtype=torch.int32)
    for i in range(b):
        cu[2 * i + 1] = i * max_len + text_len[i] + img_len
        cu[2 * i + 2] = (i + 1) * max_len
    return cu


def import_official(root):
    stub_diffusers()
    sys.path.insert(0, root)
    import hyvideo.modules.attenion as A
    import hyvideo.modules.models as M
    from hyvideo.modules.posemb_layers import get_nd_rotary_pos_embed
    A.flash_attn_varlen_func = varlen_sdpa
    M.get_cu_seqlens = cpu_cu_seqlens
    return M, get_nd_rotary_pos_embed


def run_case(model, rope_fn, cfg, gen, T, H, W, L, valid, t_value, g_value, keep_all):
    C = cfg["in_channels"]
    x = torch.randn(1, C, T, H, W, generator=gen)
    t = torch.tensor([t_value])
    txt = torch.randn(1, L, cfg["text_states_dim"], generator=gen)
    mask = torch.zeros(1, L, dtype=torch.long)
    mask[:, :valid] = 1
    txt2 = torch.randn(1, cfg["text_states_dim_2"], generator=gen)
    guidance = torch.tensor([g_value])
    p = cfg["patch_size"]
    grid = (T // p[0], H // p[1], W // p[2])
    cos, sin = rope_fn(cfg["rope_dim_list"], grid, theta=256, use_real=True, theta_rescale_factor=1)

    rec = {}
    hooks = []

    def keep(name):
        def hook(mod, inp, out):
            if isinstance(out, tuple):
                rec[name + ".img"], rec[name + ".txt"] = out[0].clone(), out[1].clone()
            else:
                rec[name] = out.clone()
        return hook

    if keep_all:
        for name in ["time_in", "vector_in", "guidance_in", "img_in", "txt_in"]:
            hooks.append(getattr(model, name).register_forward_hook(keep(name)))
        for i, blk in enumerate(model.double_blocks):
            hooks.append(blk.register_forward_hook(keep(f"double_{i}")))
        for i, blk in enumerate(model.single_blocks):
            hooks.append(blk.register_forward_hook(keep(f"single_{i}")))
    with torch.no_grad():
        out = model(x, t, text_states=txt, text_mask=mask, text_states_2=txt2, freqs_cos=cos, freqs_sin=sin,
                    guidance=guidance, return_dict=False)
    for h in hooks:
        h.remove()

    d = {"x": x[0], "t": t, "text_states": txt[0], "text_mask": mask[0].float(), "text_states_2": txt2[0],
         "guidance": guidance, "freqs_cos": cos, "freqs_sin": sin, "out": out[0]}
    if keep_all:
        d["vec"] = rec["time_in"][0] + rec["vector_in"][0] + rec["guidance_in"][0]
        for k, v in rec.items():
            d[k] = v[0] if v.dim() > 1 and v.shape[0] == 1 else v
    return {k: v.float().contiguous() for k, v in d.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--official", required=True, help="folder holding hyvideo/modules/models.py")
    ap.add_argument("--jenga", required=True, help="the jenga binary (writes the test model)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    M, rope_fn = import_official(a.official)
    os.makedirs(a.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([a.jenga, "debug", "make-tiny", "--family", "hunyuan", "--dit-only", "--out", tmp, "--size", "tiny",
                        "--seed", str(SEED), "--dtype", "f32"], check=True)
        weights = load_file(os.path.join(tmp, "diffusion_pytorch_model.safetensors"))
        cfg = json.load(open(os.path.join(tmp, "config.json")))

    args = types.SimpleNamespace(text_states_dim=cfg["text_states_dim"], text_states_dim_2=cfg["text_states_dim_2"])
    model = M.HYVideoDiffusionTransformer(
        args, patch_size=cfg["patch_size"], in_channels=cfg["in_channels"], out_channels=cfg["out_channels"],
        hidden_size=cfg["hidden_size"], heads_num=cfg["heads_num"], mlp_width_ratio=cfg["mlp_width_ratio"],
        mlp_act_type="gelu_tanh", mm_double_blocks_depth=cfg["mm_double_blocks_depth"],
        mm_single_blocks_depth=cfg["mm_single_blocks_depth"], rope_dim_list=cfg["rope_dim_list"],
        qkv_bias=cfg["qkv_bias"], qk_norm=True, qk_norm_type="rms", guidance_embed=cfg["guidance_embed"],
        text_projection="single_refiner", use_attention_mask=True)
    model.load_state_dict(weights, strict=True)  # our key list == the official state_dict
    model = model.float().eval()

    gen = torch.Generator().manual_seed(1234)
    # (prefix, latent T, H, W, text tokens, real text tokens, t, guidance, keep intermediates)
    cases = [
        ("", 3, 4, 6, 8, 5, 637.5, 6016.0, True),        # 3 x 2 x 3 tokens, 3 padding text tokens
        ("case2.", 2, 6, 4, 3, 3, 999.0, 1000.0, False),  # 2 x 3 x 2 tokens, no padding
        ("case3.", 1, 2, 8, 6, 1, 3.0, 4500.0, False),    # 1 x 1 x 4 tokens, one real text token
    ]
    d = {}
    for prefix, T, H, W, L, valid, tv, gv, keep_all in cases:
        d.update({prefix + k: v for k, v in run_case(model, rope_fn, cfg, gen, T, H, W, L, valid, tv, gv,
                                                     keep_all).items()})
    # The published RoPE split [16, 56, 56] (head dim 128) over the full 720p position ranges
    # (32 latent frames, 80 token columns; 2 token rows to keep it small), every 41st token.
    cos, sin = rope_fn([16, 56, 56], (32, 2, 80), theta=256, use_real=True, theta_rescale_factor=1)
    rows = torch.arange(0, cos.shape[0], 41)
    d["rope128.rows"] = rows.float()
    d["rope128.cos"] = cos[rows].float().contiguous()
    d["rope128.sin"] = sin[rows].float().contiguous()
    # The same tiny model with 33 input channels (the I2V latent concat: in != out channels), written
    # by make-tiny --in-channels 33 --seed 7, through the same official code.
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([a.jenga, "debug", "make-tiny", "--family", "hunyuan", "--dit-only", "--out", tmp, "--size", "tiny",
                        "--seed", str(SEED), "--dtype", "f32", "--in-channels", "33"], check=True)
        w33 = load_file(os.path.join(tmp, "diffusion_pytorch_model.safetensors"))
    m33 = M.HYVideoDiffusionTransformer(
        args, patch_size=cfg["patch_size"], in_channels=33, out_channels=cfg["out_channels"],
        hidden_size=cfg["hidden_size"], heads_num=cfg["heads_num"], mlp_width_ratio=cfg["mlp_width_ratio"],
        mlp_act_type="gelu_tanh", mm_double_blocks_depth=cfg["mm_double_blocks_depth"],
        mm_single_blocks_depth=cfg["mm_single_blocks_depth"], rope_dim_list=cfg["rope_dim_list"],
        qkv_bias=cfg["qkv_bias"], qk_norm=True, qk_norm_type="rms", guidance_embed=cfg["guidance_embed"],
        text_projection="single_refiner", use_attention_mask=True)
    m33.load_state_dict(w33, strict=True)
    m33 = m33.float().eval()
    cfg33 = dict(cfg, in_channels=33)
    d.update({"i2v." + k: v for k, v in run_case(m33, rope_fn, cfg33, gen, 2, 4, 4, 5, 2, 250.0, 3000.0,
                                                 False).items()})
    fp = {"fp." + k: torch.tensor([v.double().sum().item(), v.double().pow(2).sum().item()], dtype=torch.float32)
          for k, v in weights.items()}
    d.update(fp)
    save_file(d, os.path.join(a.out, "hunyuan_dit_golden.safetensors"),
              metadata={"seed": str(SEED), "cases": json.dumps([c[:8] for c in cases])})
    print("wrote", os.path.join(a.out, "hunyuan_dit_golden.safetensors"), "tensors:", len(d))


if __name__ == "__main__":
    main()
