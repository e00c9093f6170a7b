#!/usr/bin/env python3
"""Golden for HunyuanVideo's text-to-video sampling loop, run by the official code: the official
FlowMatchDiscreteScheduler (flow-reverse, shift 7, Euler) and HYVideoDiffusionTransformer with
embedded guidance, stepped as hyvideo/diffusion/pipelines/pipeline_hunyuan_video.py does
(one forward per step at cfg 1; with cfg > 1 the negative branch and
noise_pred_uncond + g * (noise_pred_text - noise_pred_uncond)).

The DiT is the tiny random model `jenga debug make-tiny --family hunyuan --dit-only --seed 7`
writes (not stored); the noise and text states are drawn here and saved, so the C++ test feeds
the same inputs to its loop (our noise into the official loop, as the issue asks). Everything
runs in f32 on the CPU; flash attention is replaced by SDPA per cu_seqlens segment exactly as
tools/golden/hunyuan_dit_golden.py does.

usage: tools/golden/hunyuan_t2v_loop_golden.py --official /work/peers-src/Tencent+HunyuanVideo \
           --jenga build-cpu/bin/jenga --out tests/data/hunyuan_t2v/
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import diffusers.configuration_utils  # noqa: E402,F401  (the scheduler needs the real ConfigMixin)
import hunyuan_dit_golden as H  # noqa: E402

SEED = 7


def official_loop(model, sched_cls, rope_fn, cfg, noise, cond, uncond, steps, shift, emb, cfg_scale):
    sched = sched_cls(shift=shift, reverse=True, solver="euler")
    sched.set_timesteps(steps, device="cpu")
    p = cfg["patch_size"]
    T, Hh, W = noise.shape[2:]
    cos, sin = rope_fn(cfg["rope_dim_list"], (T // p[0], Hh // p[1], W // p[2]), theta=256, use_real=True,
                       theta_rescale_factor=1)
    x = noise.clone()
    two = cfg_scale > 1.0
    for t in sched.timesteps:
        xin = torch.cat([x] * 2) if two else x
        br = [uncond, cond] if two else [cond]
        txt = torch.cat([b[0] for b in br])
        mask = torch.cat([b[1] for b in br])
        txt2 = torch.cat([b[2] for b in br])
        guidance = (torch.tensor([emb] * xin.shape[0], dtype=torch.float32).to(torch.bfloat16) * 1000.0).float()  # the pipelines' value: tensor([s], fp32).to(bf16) * 1000.0 in bf16 (pipeline_hunyuan_video.py:976-985; 6.0 -> 6016)
        with torch.no_grad():
            v = model(xin, t.repeat(xin.shape[0]), text_states=txt, text_mask=mask, text_states_2=txt2,
                      freqs_cos=cos, freqs_sin=sin, guidance=guidance, return_dict=False)
        if two:
            vu, vt = v.chunk(2)
            v = vu + cfg_scale * (vt - vu)
        x = sched.step(v, t, x, return_dict=False)[0]
    return x, sched.sigmas, sched.timesteps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--official", required=True, help="folder holding hyvideo/ (Tencent HunyuanVideo)")
    ap.add_argument("--jenga", required=True, help="the jenga binary (writes the test model)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    M, rope_fn = H.import_official(a.official)
    # The scheduler file alone: hyvideo/diffusion/__init__ imports the whole pipeline (VAE, diffusers models).
    spec = importlib.util.spec_from_file_location(
        "scheduling_flow_match_discrete",
        os.path.join(a.official, "hyvideo/diffusion/schedulers/scheduling_flow_match_discrete.py"))
    sched_mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sched_mod)
    FlowMatchDiscreteScheduler = sched_mod.FlowMatchDiscreteScheduler
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([a.jenga, "debug", "make-tiny", "--family", "hunyuan", "--dit-only", "--out", tmp, "--size",
                        "tiny", "--seed", str(SEED), "--dtype", "f32"], check=True, stdout=subprocess.DEVNULL)
        cfg = json.load(open(os.path.join(tmp, "config.json")))
        sd = load_file(os.path.join(tmp, "diffusion_pytorch_model.safetensors"))
    args = types.SimpleNamespace(text_states_dim=cfg["text_states_dim"], text_states_dim_2=cfg["text_states_dim_2"])
    model = M.HYVideoDiffusionTransformer(
        args, patch_size=cfg["patch_size"], in_channels=cfg["in_channels"], out_channels=cfg["out_channels"],
        hidden_size=cfg["hidden_size"], heads_num=cfg["heads_num"], mlp_width_ratio=cfg["mlp_width_ratio"],
        mlp_act_type="gelu_tanh", mm_double_blocks_depth=cfg["mm_double_blocks_depth"],
        mm_single_blocks_depth=cfg["mm_single_blocks_depth"], rope_dim_list=cfg["rope_dim_list"],
        qkv_bias=cfg["qkv_bias"], qk_norm=True, qk_norm_type="rms", guidance_embed=cfg["guidance_embed"],
        text_projection="single_refiner", use_attention_mask=True)
    model.load_state_dict(sd, strict=True)
    model = model.float().eval()

    gen = torch.Generator().manual_seed(1234)
    L = 12
    out = {}

    def text(valid):
        mask = torch.zeros(1, L, dtype=torch.long)
        mask[:, :valid] = 1
        return (torch.randn(1, L, cfg["text_states_dim"], generator=gen), mask,
                torch.randn(1, cfg["text_states_dim_2"], generator=gen))

    cond, uncond = text(7), text(5)
    for k, v in (("cond", cond), ("uncond", uncond)):
        out[f"{k}_states"], out[f"{k}_mask"], out[f"{k}_pooled"] = v[0][0], v[1][0].float(), v[2][0]
    # (name, latent [T, H, W], steps, shift, embedded guidance, cfg scale)
    cases = [("dense", (2, 4, 6), 4, 7.0, 6.0, 1.0), ("cfg", (2, 4, 4), 3, 7.0, 6.0, 2.5),
             ("accvideo", (3, 4, 4), 5, 7.0, 6.0, 1.0)]
    for name, lat, steps, shift, emb, g in cases:
        noise = torch.randn(1, cfg["in_channels"], *lat, generator=gen)
        x, sig, ts = official_loop(model, FlowMatchDiscreteScheduler, rope_fn, cfg, noise, cond, uncond, steps, shift,
                                   emb, g)
        out[f"{name}.noise"], out[f"{name}.latents"] = noise[0], x[0]
        out[f"{name}.sigmas"], out[f"{name}.timesteps"] = sig, ts
        out[f"{name}.params"] = torch.tensor([steps, shift, emb, g], dtype=torch.float32)
    os.makedirs(a.out, exist_ok=True)
    save_file({k: v.float().contiguous() for k, v in out.items()}, os.path.join(a.out, "t2v_loop_golden.safetensors"),
              metadata={"source": "Tencent/HunyuanVideo FlowMatchDiscreteScheduler + HYVideoDiffusionTransformer",
                        "model": f"jenga debug make-tiny --family hunyuan --dit-only --seed {SEED} --dtype f32"})


if __name__ == "__main__":
    main()
