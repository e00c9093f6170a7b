#!/usr/bin/env python3
"""Goldens for the Wan2.1 DiT forward, produced by the official WanModel (Wan-Video/Wan2.1).

The test model is not stored: `jenga debug make-tiny --size tiny --seed 7` writes it (Philox,
deterministic), this script loads those weights into the official model (strict: the official
state_dict must have exactly our key list), runs it in f32 on the CPU on small random inputs,
and saves per case x, t, context, out (and per-block outputs for case 1) to OUT/<case>.safetensors.
A fingerprint of the weights (sum, sum of squares per tensor) is saved too, so the C++ test can
tell "the test model changed" apart from "the forward is wrong".

usage: tools/golden/wan_dit_golden.py --wan third_party_ref/Wan2.1 --jenga build/src/jenga \
           --out tests/data/wan_dit/
(--wan: a folder holding the official wan/modules/model.py and wan/modules/attention.py)
"""
import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import types

import torch
from safetensors.torch import load_file, save_file

SEED = 7


def stub_diffusers():
    """WanModel only needs ModelMixin/ConfigMixin/register_to_config as plain base classes."""
    if "diffusers" in sys.modules:
        return
    d = types.ModuleType("diffusers")
    cu = types.ModuleType("diffusers.configuration_utils")
    mu = types.ModuleType("diffusers.models.modeling_utils")
    dm = types.ModuleType("diffusers.models")

    class ConfigMixin:
        pass

    def register_to_config(f):
        return f

    cu.ConfigMixin, cu.register_to_config = ConfigMixin, register_to_config
    mu.ModelMixin = torch.nn.Module
    for name, mod in [("diffusers", d), ("diffusers.configuration_utils", cu),
                      ("diffusers.models", dm), ("diffusers.models.modeling_utils", mu)]:
        sys.modules[name] = mod


def sdpa_attention(q, k, v, q_lens=None, k_lens=None, dropout_p=0.0, softmax_scale=None,
                   q_scale=None, causal=False, window_size=(-1, -1), deterministic=False,
                   dtype=None, version=None):
    """f32 stand-in for flash_attention: q [B, Lq, N, D], k/v [B, Lk, N, D], keys >= k_lens masked."""
    assert q_lens is None and not causal and tuple(window_size) == (-1, -1)
    b, lk = k.shape[0], k.shape[1]
    mask = None
    if k_lens is not None:
        mask = (torch.arange(lk)[None, :] < k_lens[:, None]).view(b, 1, 1, lk)
    out = torch.nn.functional.scaled_dot_product_attention(
        q.transpose(1, 2).float(), k.transpose(1, 2).float(), v.transpose(1, 2).float(),
        attn_mask=mask, scale=softmax_scale)
    return out.transpose(1, 2).contiguous()


def import_official_model(wan_root):
    """Imports wan/modules/model.py without running wan/__init__.py (which needs the whole stack)."""
    stub_diffusers()
    for pkg, sub in [("wan", "wan"), ("wan.modules", "wan/modules")]:
        m = types.ModuleType(pkg)
        m.__path__ = [os.path.join(wan_root, sub)]
        sys.modules[pkg] = m
    mods = {}
    for name in ["attention", "model"]:
        full = "wan.modules." + name
        spec = importlib.util.spec_from_file_location(full, os.path.join(wan_root, "wan/modules", name + ".py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[full] = mod
        spec.loader.exec_module(mod)
        mods[name] = mod
    mods["model"].flash_attention = sdpa_attention
    return mods["model"]


def build_model(model_mod, cfg, num_heads, weights):
    m = model_mod.WanModel(model_type="t2v", patch_size=tuple(cfg["patch_size"]), text_len=cfg["text_len"],
                           in_dim=cfg["in_dim"], dim=cfg["dim"], ffn_dim=cfg["ffn_dim"],
                           freq_dim=cfg["freq_dim"], text_dim=cfg["text_dim"], out_dim=cfg["out_dim"],
                           num_heads=num_heads, num_layers=cfg["num_layers"], window_size=(-1, -1),
                           qk_norm=True, cross_attn_norm=True, eps=cfg["eps"])
    m.load_state_dict(weights, strict=True)  # our key list == the official state_dict
    return m.float().eval()


def run_case(model, gen, shape, t, ctx_len, text_dim, keep_blocks):
    x = torch.randn(shape, generator=gen, dtype=torch.float32)
    context = torch.randn(ctx_len, text_dim, generator=gen, dtype=torch.float32)
    tt = torch.tensor([t], dtype=torch.float32)
    blocks = []
    hooks = []
    if keep_blocks:
        for blk in model.blocks:
            hooks.append(blk.register_forward_hook(lambda mod, inp, out: blocks.append(out[0].clone())))
    p = model.patch_size
    seq_len = (shape[1] // p[0]) * (shape[2] // p[1]) * (shape[3] // p[2])
    with torch.no_grad():
        out = model([x], tt, [context], seq_len)[0]
    for h in hooks:
        h.remove()
    d = {"x": x, "t": tt, "context": context, "out": out.float().contiguous()}
    for i, b in enumerate(blocks):
        d[f"block_{i}"] = b.float().contiguous()  # [tokens, dim], raster order
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wan", required=True, help="folder with the official wan/modules/{model,attention}.py")
    ap.add_argument("--jenga", required=True, help="the jenga binary (writes the test model)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    model_mod = import_official_model(a.wan)
    os.makedirs(a.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([a.jenga, "debug", "make-tiny", "--out", tmp, "--size", "tiny", "--seed", str(SEED),
                        "--dtype", "f32"], check=True)
        weights = load_file(os.path.join(tmp, "diffusion_pytorch_model.safetensors"))
        cfg = json.load(open(os.path.join(tmp, "config.json")))
    fp = {k: torch.tensor([v.double().sum().item(), v.double().pow(2).sum().item()], dtype=torch.float32)
          for k, v in weights.items()}
    save_file(fp, os.path.join(a.out, "weights_fingerprint.safetensors"), metadata={"seed": str(SEED)})

    gen = torch.Generator().manual_seed(1234)
    # (name, num_heads, x shape [C, F, H, W], t, context length, keep per-block outputs)
    cases = [
        ("case1_heads4", cfg["num_heads"], (16, 3, 6, 10), 637.5, 11, True),  # 3x3x5 tokens
        ("case2_heads4_ctx1", cfg["num_heads"], (16, 2, 8, 4), 999.0, 1, False),  # 2x4x2 tokens
        ("case3_headdim128", 1, (16, 5, 4, 6), 250.0, 17, False),  # head dim 128: RoPE split 22/21/21
        # H 5, W 7: the patch embedding (Conv3d, stride = kernel) drops the last row and column;
        # out is [16, 2, 4, 6]. Drawn last, so the cases above keep their inputs.
        ("case4_odd_hw", cfg["num_heads"], (16, 2, 5, 7), 421.0, 9, False),
    ]
    for name, heads, shape, t, lctx, keep in cases:
        model = build_model(model_mod, cfg, heads, weights)
        d = run_case(model, gen, shape, t, lctx, cfg["text_dim"], keep)
        save_file(d, os.path.join(a.out, name + ".safetensors"),
                  metadata={"num_heads": str(heads), "seed": str(SEED),
                            "source": "Wan-Video/Wan2.1 wan/modules/model.py WanModel, f32 CPU"})
        print(name, {k: list(v.shape) for k, v in d.items()}, "max|out|", d["out"].abs().max().item())


if __name__ == "__main__":
    main()
