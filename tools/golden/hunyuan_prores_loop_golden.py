#!/usr/bin/env python3
"""Golden for HunyuanVideo's Jenga ProRes loop with the fixed step reuse, by the official pieces:
the Jenga FlowMatchDiscreteScheduler (set_timesteps per shift, step, predict_x0_from_xt,
add_noise_to_step; dvlab-research/Jenga hyvideo/diffusion/schedulers) stepped as
HunyuanVideoPipelineProRes.__call__ does at a resolution switch (shift first, x0 with the new
table at step i, trilinear resize, re-noise to step i+1, _step_index = i + 1), and the official
HYVideoDiffusionTransformer, whose blocks are skipped on reused steps as jenga_hyvideo.py's
ra_forward does (cached residual of the image tokens added to this step's patch embedding;
computed iff the forward count modulo the steps is in non_skip_steps or a stage just started).
Attention is dense (drop rates 0: the official dense flash branch), so the curve order, which
only permutes tokens for dense attention, is left out. Our noise (both stages) is fed in.

usage: tools/golden/hunyuan_prores_loop_golden.py --official /work/peers-src/Tencent+HunyuanVideo \
           --jenga-official /work/peers-src/dvlab-research+Jenga --jenga build-cpu/bin/jenga \
           --out tests/data/hunyuan_t2v/
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
import diffusers.configuration_utils  # noqa: E402,F401
import hunyuan_dit_golden as H  # noqa: E402

NON_SKIP = [0, 1, 2, 3, 4, 7, 10, 13, 16, 19, 22, 25, 26, 29, 32, 35, 38, 41, 43, 45, 46, 47, 49]  # jenga_hyvideo.py


def run(model, Sched, rope_fn, cfg, noises, cond, steps, res, step_rates, shifts, flow_shift, emb):
    sched = Sched(shift=flow_shift, reverse=True, solver="euler")
    sched.set_timesteps(steps, device="cpu")
    timesteps = sched.timesteps
    split = [int(steps * q) for q in step_rates]
    p = cfg["patch_size"]
    cache = {"residual": None, "img_in": None, "reuse": False}

    def img_in_hook(mod, inp, out):
        cache["img_in"] = out.clone()

    def final_pre(mod, args):
        img = args[0]
        if cache["reuse"]:
            return (img + cache["residual"],) + args[1:]
        cache["residual"] = img - cache["img_in"]
        return None

    h1 = model.img_in.register_forward_hook(img_in_hook)
    h2 = model.final_layer.register_forward_pre_hook(final_pre)
    blocks = (model.double_blocks, model.single_blocks)
    x = noises[0].clone()
    stage, start_stage, cnt = 0, True, 0
    computed = []
    for i in range(steps):
        t = timesteps[i]
        T, Hh, W = x.shape[2:]
        cos, sin = rope_fn(cfg["rope_dim_list"], (T // p[0], Hh // p[1], W // p[2]), theta=256, use_real=True,
                           theta_rescale_factor=1)
        compute = cnt in NON_SKIP or start_stage
        start_stage = False
        cnt = (cnt + 1) % steps
        cache["reuse"] = not compute
        if not compute:
            model.double_blocks, model.single_blocks = torch.nn.ModuleList(), torch.nn.ModuleList()
        guidance = (torch.tensor([emb], dtype=torch.float32).to(torch.bfloat16) * 1000.0).float()  # the pipelines' value: tensor([s], fp32).to(bf16) * 1000.0 in bf16 (pipeline_hunyuan_video.py:976-985; 6.0 -> 6016)
        with torch.no_grad():
            v = model(x, t.repeat(1), text_states=cond[0], text_mask=cond[1], text_states_2=cond[2], freqs_cos=cos,
                      freqs_sin=sin, guidance=guidance, return_dict=False)
        model.double_blocks, model.single_blocks = blocks
        computed.append(1 if compute else 0)
        if i in split and stage + 1 < len(res):
            stage += 1
            if res[stage - 1] != 1.0:
                sched.config.shift = shifts[stage]
                sched.set_timesteps(steps, device="cpu")
                sched._step_index = i
                timesteps = sched.timesteps
                t = timesteps[i]
                x = sched.predict_x0_from_xt(v, t, x, return_dict=False)[0]
                full = noises[stage]
                x = torch.nn.functional.interpolate(x, size=list(full.shape[2:]), mode="trilinear")
                x = sched.add_noise_to_step(x, full, timesteps[i + 1])[0]
                start_stage = True
                sched._step_index += 1
            else:
                x = sched.step(v, t, x, return_dict=False)[0]
        else:
            x = sched.step(v, t, x, return_dict=False)[0]
    h1.remove()
    h2.remove()
    return x, computed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--official", required=True, help="folder holding hyvideo/ (Tencent HunyuanVideo)")
    ap.add_argument("--jenga-official", required=True, help="dvlab-research/Jenga checkout (its scheduler)")
    ap.add_argument("--jenga", required=True, help="the jenga binary (writes the test model)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    M, rope_fn = H.import_official(a.official)
    spec = importlib.util.spec_from_file_location(
        "jenga_scheduler", os.path.join(a.jenga_official, "hyvideo/diffusion/schedulers/scheduling_flow_match_discrete.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([a.jenga, "debug", "make-tiny", "--family", "hunyuan", "--dit-only", "--out", tmp, "--size",
                        "tiny", "--seed", "7", "--dtype", "f32"], check=True, stdout=subprocess.DEVNULL)
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
    gen = torch.Generator().manual_seed(4321)
    L = 10
    mask = torch.zeros(1, L, dtype=torch.long)
    mask[:, :6] = 1
    cond = (torch.randn(1, L, cfg["text_states_dim"], generator=gen), mask,
            torch.randn(1, cfg["text_states_dim_2"], generator=gen))
    out = {"cond_states": cond[0][0], "cond_mask": mask[0].float(), "cond_pooled": cond[2][0]}
    # (name, stage latents [T, H, W], steps, res, step rates, shifts)
    cases = [("turbo", [(2, 6, 6), (2, 8, 8)], 8, [0.75, 1.0], [0.5, 1.0], [7, 9]),
             ("3stage", [(2, 8, 8), (2, 12, 12), (2, 16, 16)], 10, [0.5, 0.75, 1.0], [0.3, 0.5, 1.0], [7, 9, 11]),
             ("base", [(2, 8, 8)], 8, [1.0, 1.0], [0.5, 1.0], [7, 7])]
    for name, lats, steps, res, rates, shifts in cases:
        noises = [torch.randn(1, cfg["in_channels"], *l, generator=gen) for l in lats]
        x, computed = run(model, mod.FlowMatchDiscreteScheduler, rope_fn, cfg, noises, cond, steps, res, rates,
                          shifts, 7.0, 6.0)
        for k, n in enumerate(noises):
            out[f"{name}.noise{k}"] = n[0]
        out[f"{name}.latents"] = x[0]
        out[f"{name}.computed"] = torch.tensor(computed, dtype=torch.float32)
        out[f"{name}.steps"] = torch.tensor([steps], dtype=torch.float32)
    os.makedirs(a.out, exist_ok=True)
    save_file({k: v.float().contiguous() for k, v in out.items()}, os.path.join(a.out, "prores_loop_golden.safetensors"),
              metadata={"source": "dvlab-research/Jenga FlowMatchDiscreteScheduler + ProRes switch, "
                                  "Tencent/HunyuanVideo HYVideoDiffusionTransformer, ra_forward reuse",
                        "model": "jenga debug make-tiny --family hunyuan --dit-only --seed 7 --dtype f32"})


if __name__ == "__main__":
    main()
