#!/usr/bin/env python3
"""Golden for HunyuanVideo-I2V's whole sampling loop (token_replace), run by the official code:
the official FlowMatchDiscreteScheduler (flow-reverse, Euler) and the official I2V
HYVideoDiffusionTransformer (i2v_condition_type token_replace, embedded guidance), stepped as
hyvideo/diffusion/pipelines/pipeline_hunyuan_video.py does in i2v_mode:
  prepare_latents: with --i2v-stability  x = x * 0.999 + repeat(img_latents) * (1 - 0.999)
  every step:      x = cat(img_latents, x[:, :, 1:]); v = DiT(x, t, ...)
                   x = cat(img_latents, scheduler.step(v[:, :, 1:], t, x[:, :, 1:]))
The DiT is the tiny random model `jenga debug make-tiny --family hunyuan --dit-only --seed 7`
(the released token_replace DiT has T2V's shapes; not stored). The noise, image latent and text
states are drawn here and saved, so the C++ test feeds the same inputs to its loop (pipeline
denoise() with the first-frame condition; our noise into the official loop). f32 on the CPU;
flash attention replaced by SDPA per cu_seqlens segment (tools/golden/hunyuan_dit_golden.py).

usage: tools/golden/hunyuan_i2v_loop_golden.py --official /work/peers-src/Tencent+HunyuanVideo-I2V \
           --jenga build-cpu/bin/jenga --out tests/data/hunyuan_i2v/
"""
import argparse
import os
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hunyuan_i2v_dit_golden as I  # noqa: E402

SEED = 7


def official_i2v_loop(model, rope_fn, cfg, sched, noise, img_latents, txt, mask, txt2, guidance_scale, stability):
    p = cfg["patch_size"]
    T, H, W = noise.shape[2:]
    cos, sin = rope_fn(cfg["rope_dim_list"], (T // p[0], H // p[1], W // p[2]), theta=256, use_real=True,
                       theta_rescale_factor=1)
    latents = noise.clone()
    if stability:
        t = torch.tensor([0.999])
        latents = latents * t + img_latents.repeat(1, 1, T, 1, 1) * (1 - t)
    with torch.no_grad():
        for tt in sched.timesteps:
            latents = torch.concat([img_latents, latents[:, :, 1:, :, :]], dim=2)
            guidance = (torch.tensor([guidance_scale], dtype=torch.float32).to(torch.bfloat16) * 1000.0).float()  # the pipelines' value: tensor([s], fp32).to(bf16) * 1000.0 in bf16 (pipeline_hunyuan_video.py:976-985; 6.0 -> 6016)
            v = model(latents, tt.repeat(1), text_states=txt, text_mask=mask, text_states_2=txt2, freqs_cos=cos,
                      freqs_sin=sin, guidance=guidance, return_dict=True)["x"]
            latents = sched.step(v[:, :, 1:, :, :], tt, latents[:, :, 1:, :, :], return_dict=False)[0]
            latents = torch.concat([img_latents, latents], dim=2)
    return latents


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--official", required=True, help="folder holding hyvideo/ (Tencent HunyuanVideo-I2V)")
    ap.add_argument("--jenga", required=True, help="the jenga binary (writes the test model)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    M, rope_fn = I.import_official(a.official)
    weights, cfg = I.tiny(a.jenga, 16)
    model = I.build(M, weights, cfg, 16, "token_replace")
    gen = torch.Generator().manual_seed(4321)
    L, valid = 10, 6  # text rows (the I2V encoder's image rows + text rows), valid first
    txt = torch.randn(1, L, cfg["text_states_dim"], generator=gen)
    mask = torch.zeros(1, L, dtype=torch.long)
    mask[:, :valid] = 1
    txt2 = torch.randn(1, cfg["text_states_dim_2"], generator=gen)
    out = {"text_states": txt[0], "text_mask": mask[0].float(), "text_states_2": txt2[0]}
    # (name, latent [T, H, W], steps, shift, embedded guidance, --i2v-stability)
    cases = [("dynamic", (3, 4, 6), 4, 17.0, 6.0, False), ("stable", (2, 4, 4), 3, 7.0, 6.0, True)]
    for name, (T, H, W), steps, shift, emb, stability in cases:
        sched = I.official_scheduler(a.official, shift, steps)
        noise = torch.randn(1, 16, T, H, W, generator=gen)
        img = torch.randn(1, 16, 1, H, W, generator=gen)
        x = official_i2v_loop(model, rope_fn, cfg, sched, noise, img, txt, mask, txt2, emb, stability)
        out[f"{name}.noise"], out[f"{name}.image_latent"], out[f"{name}.latents"] = noise[0], img[0], x[0]
        out[f"{name}.params"] = torch.tensor([steps, shift, emb, float(stability)], dtype=torch.float32)
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "i2v_loop_golden.safetensors")
    save_file({k: v.float().contiguous() for k, v in out.items()}, path,
              metadata={"source": "Tencent/HunyuanVideo-I2V FlowMatchDiscreteScheduler + HYVideoDiffusionTransformer "
                                  "(token_replace), pipeline_hunyuan_video.py i2v loop",
                        "model": f"jenga debug make-tiny --family hunyuan --dit-only --seed {SEED} --dtype f32"})
    print("wrote", path)


if __name__ == "__main__":
    main()
