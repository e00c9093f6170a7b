#!/usr/bin/env python3
"""Goldens for the HunyuanVideo-I2V DiT forward, produced by the official I2V
HYVideoDiffusionTransformer (Tencent HunyuanVideo-I2V, hyvideo/modules/models.py) in f32 on the CPU.

The test models are not stored: `jenga debug make-tiny --family hunyuan --seed 7` (16 channels,
i2v_condition_type token_replace: the first latent frame's th*tw tokens modulated from
time_in(0) + vector_in(text_states_2), no guidance term) and the same with `--in-channels 33`
(latent_concat: the plain forward on [latents | image latent | mask]). Loaded strictly into the
official class; flash_attn_varlen_func and get_cu_seqlens are replaced by CPU equivalents
(tools/golden/hunyuan_dit_golden.py), nothing else is changed.

Writes OUT/hunyuan_i2v_dit_golden.safetensors: per case the inputs (x, t, text_states, text_mask,
text_states_2, guidance) and out; the token_replace case also keeps token_replace_vec and the
output of every block.

usage: tools/golden/hunyuan_i2v_dit_golden.py --official /path/to/HunyuanVideo-I2V --jenga build-cpu/bin/jenga \
           --out tests/data/hunyuan_dit/
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import types

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hunyuan_dit_golden import cpu_cu_seqlens, stub_diffusers, varlen_sdpa  # noqa: E402

SEED = 7


def stub_training_imports():
    """hyvideo/utils/helpers.py (to_2tuple) imports deepspeed and tensorboard for training only."""
    if "deepspeed" not in sys.modules:
        sys.modules["deepspeed"] = types.ModuleType("deepspeed")
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        tb = types.ModuleType("torch.utils.tensorboard")
        tb.SummaryWriter = object
        sys.modules["torch.utils.tensorboard"] = tb


def import_official(root):
    stub_diffusers()
    stub_training_imports()
    sys.path.insert(0, root)
    import hyvideo.modules.attenion as A
    import hyvideo.modules.models as M
    from hyvideo.modules.posemb_layers import get_nd_rotary_pos_embed
    A.flash_attn_varlen_func = varlen_sdpa
    M.get_cu_seqlens = cpu_cu_seqlens
    return M, get_nd_rotary_pos_embed


def official_scheduler(root, shift, steps):
    """The official FlowMatchDiscreteScheduler (flow-reverse, euler), loaded from its file with the
    diffusers stubs; register_to_config is a no-op there, so its config is set by hand."""
    import importlib.util
    for name, attrs in [("diffusers.utils", {"BaseOutput": type("BaseOutput", (), {})}),
                        ("diffusers.schedulers", {}),
                        ("diffusers.schedulers.scheduling_utils", {"SchedulerMixin": type("SchedulerMixin", (), {})})]:
        mod = sys.modules.setdefault(name, types.ModuleType(name))
        for k, v in attrs.items():
            setattr(mod, k, v)
    sys.modules["diffusers.utils"].logging = types.SimpleNamespace(get_logger=lambda n: None)
    spec = importlib.util.spec_from_file_location(
        "official_flow_scheduler", os.path.join(root, "hyvideo/diffusion/schedulers/scheduling_flow_match_discrete.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sched = mod.FlowMatchDiscreteScheduler(shift=shift, reverse=True, solver="euler")
    sched.config = types.SimpleNamespace(num_train_timesteps=1000, shift=shift, reverse=True, solver="euler")
    sched.set_timesteps(steps)
    return sched


def i2v_loop(model, rope_fn, cfg, gen, sched, T, H, W, L, valid, guidance_scale):
    """Two steps of the official token_replace loop with --i2v-stability (pipeline_hunyuan_video.py:
    prepare_latents' blend, then per step cat(img_latents, x[:, :, 1:]), the DiT, and the scheduler
    step on frames 1.. followed by cat(img_latents, ...)), all f32."""
    noise = torch.randn(1, 16, T, H, W, generator=gen)
    img_latents = torch.randn(1, 16, 1, H, W, generator=gen)
    txt = torch.randn(1, L, cfg["text_states_dim"], generator=gen)
    mask = torch.zeros(1, L, dtype=torch.long)
    mask[:, :valid] = 1
    txt2 = torch.randn(1, cfg["text_states_dim_2"], generator=gen)
    p = cfg["patch_size"]
    cos, sin = rope_fn(cfg["rope_dim_list"], (T // p[0], H // p[1], W // p[2]), theta=256, use_real=True,
                       theta_rescale_factor=1)
    x0, x1 = noise, img_latents.repeat(1, 1, T, 1, 1)
    t = torch.tensor([0.999])
    latents = x0 * t + x1 * (1 - t)
    d = {"noise": noise[0], "image_latent": img_latents[0], "text_states": txt[0], "text_mask": mask[0].float(),
         "text_states_2": txt2[0], "sigmas": sched.sigmas.float(), "timesteps": sched.timesteps.float(),
         "blended": latents[0].clone()}
    with torch.no_grad():
        for i, tt in enumerate(sched.timesteps):
            latents = torch.concat([img_latents, latents[:, :, 1:, :, :]], dim=2)
            guidance = torch.tensor([guidance_scale], dtype=torch.float32) * 1000.0
            v = model(latents, tt.repeat(1), text_states=txt, text_mask=mask, text_states_2=txt2, freqs_cos=cos,
                      freqs_sin=sin, guidance=guidance, return_dict=True)["x"]
            d[f"v{i}"] = v[0].clone()
            latents = sched.step(v[:, :, 1:, :, :], tt, latents[:, :, 1:, :, :], return_dict=False)[0]
            latents = torch.concat([img_latents, latents], dim=2)
    d["final"] = latents[0]
    return {k: v.float().contiguous() for k, v in d.items()}


def tiny(jenga, in_channels):
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([jenga, "debug", "make-tiny", "--family", "hunyuan", "--out", tmp, "--size", "tiny", "--seed",
                        str(SEED), "--dtype", "f32", "--in-channels", str(in_channels)], check=True,
                       stdout=subprocess.DEVNULL)
        return load_file(os.path.join(tmp, "diffusion_pytorch_model.safetensors")), \
            json.load(open(os.path.join(tmp, "config.json")))


def build(M, weights, cfg, in_channels, condition):
    args = types.SimpleNamespace(text_states_dim=cfg["text_states_dim"], text_states_dim_2=cfg["text_states_dim_2"],
                                 i2v_condition_type=condition, gradient_checkpoint=False,
                                 gradient_checkpoint_layers=-1)
    model = M.HYVideoDiffusionTransformer(
        args, patch_size=cfg["patch_size"], in_channels=in_channels, out_channels=cfg["out_channels"],
        hidden_size=cfg["hidden_size"], heads_num=cfg["heads_num"], mlp_width_ratio=cfg["mlp_width_ratio"],
        mlp_act_type="gelu_tanh", mm_double_blocks_depth=cfg["mm_double_blocks_depth"],
        mm_single_blocks_depth=cfg["mm_single_blocks_depth"], rope_dim_list=cfg["rope_dim_list"],
        qkv_bias=cfg["qkv_bias"], qk_norm=True, qk_norm_type="rms", guidance_embed=cfg["guidance_embed"],
        text_projection="single_refiner", use_attention_mask=True)
    model.load_state_dict(weights, strict=True)
    return model.float().eval()


def run_case(model, rope_fn, cfg, gen, C, T, H, W, L, valid, t_value, g_value, keep_all):
    x = torch.randn(1, C, T, H, W, generator=gen)
    t = torch.tensor([t_value])
    txt = torch.randn(1, L, cfg["text_states_dim"], generator=gen)
    mask = torch.zeros(1, L, dtype=torch.long)
    mask[:, :valid] = 1
    txt2 = torch.randn(1, cfg["text_states_dim_2"], generator=gen)
    guidance = torch.tensor([g_value])
    p = cfg["patch_size"]
    cos, sin = rope_fn(cfg["rope_dim_list"], (T // p[0], H // p[1], W // p[2]), theta=256, use_real=True,
                       theta_rescale_factor=1)
    rec, hooks = {}, []

    def keep(name):
        def hook(mod, inp, out):
            if isinstance(out, tuple):
                rec[name + ".img"], rec[name + ".txt"] = out[0].clone(), out[1].clone()
            else:
                rec[name] = out.clone()
        return hook

    if keep_all:
        hooks.append(model.time_in.register_forward_hook(keep("time_in")))  # called twice: t, then 0
        hooks.append(model.vector_in.register_forward_hook(keep("vector_in")))
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
         "guidance": guidance, "out": out[0]}
    if keep_all:
        d["token_replace_vec"] = rec.pop("time_in")[0] + rec.pop("vector_in")[0]  # the last time_in call is t = 0
        for k, v in rec.items():
            d[k] = v[0]
    return {k: v.float().contiguous() for k, v in d.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--official", required=True, help="HunyuanVideo-I2V checkout (holds hyvideo/modules/models.py)")
    ap.add_argument("--jenga", required=True, help="the jenga binary (writes the test models)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    M, rope_fn = import_official(a.official)
    gen = torch.Generator().manual_seed(2525)
    d = {}
    w16, cfg = tiny(a.jenga, 16)
    m = build(M, w16, cfg, 16, "token_replace")
    # (prefix, C, latent T, H, W, text tokens, real text tokens, t, guidance, keep intermediates)
    for prefix, T, H, W, L, valid, tv, gv, keep_all in [
        ("tr.", 3, 4, 6, 8, 5, 637.5, 6016.0, True),    # 3 x 2 x 3 tokens: 6 of 18 in frame 0
        ("tr2.", 2, 6, 4, 4, 4, 999.0, 1000.0, False),  # 2 x 3 x 2 tokens, no padding
    ]:
        d.update({prefix + k: v for k, v in run_case(m, rope_fn, cfg, gen, 16, T, H, W, L, valid, tv, gv,
                                                     keep_all).items()})
    sched = official_scheduler(a.official, 7.0, 2)
    d.update({"loop." + k: v for k, v in i2v_loop(m, rope_fn, cfg, gen, sched, 3, 4, 6, 6, 4, 6.0).items()})
    w33, _ = tiny(a.jenga, 33)
    m33 = build(M, w33, cfg, 33, "latent_concat")
    d.update({"lc." + k: v for k, v in run_case(m33, rope_fn, cfg, gen, 33, 2, 4, 4, 5, 2, 250.0, 3000.0,
                                                False).items()})
    os.makedirs(a.out, exist_ok=True)
    save_file(d, os.path.join(a.out, "hunyuan_i2v_dit_golden.safetensors"), metadata={"seed": str(SEED)})
    print("wrote", os.path.join(a.out, "hunyuan_i2v_dit_golden.safetensors"), "tensors:", len(d))


if __name__ == "__main__":
    main()
