#!/usr/bin/env python3
"""The official Jenga HunyuanVideo loop on a `jenga debug denoise` inputs file, on the CPU in f32:
dvlab-research/Jenga's HunyuanVideoPipelineProRes.__call__ (ProRes switches, its scheduler) with
jenga_hyvideo.py's ra_forward (Gilbert order, the fixed step reuse list) on its own DiT blocks
(hyvideo/modules/models_mul_block_gc_ha_multigpu.py: AttenCarve mask builder, text amplifier,
dense flash branch at drop rate 0). Writes `latents` (after the last step), `step_<i>`,
`computed` (1 = blocks run) and the per-forward timesteps, drop rates and text_amp, to compare
with `jenga debug denoise --out` (same noise, same text states).

Stand-ins, and only these (CUDA-only pieces):
- flash_attn_varlen_func / flash_attn_func -> f32 SDPA per cu_seqlens segment / over all keys;
- the Triton kernel _triton_block_sparse_attention_onehot -> the same attention in f32 over the
  official block mask: keys of unselected blocks and at or past the batch entry's seqlen masked,
  text_amp added to the text key blocks in the kernel's log2 units. --seqlen kernel (default)
  reads seqlen as the kernel does, through a pointer into cu_seqlens_q[1:2] (the conditional
  branch of a true-CFG batch reads cu_seqlens_q[2] = image + all text rows); --seqlen own reads
  each entry's image + valid text rows;
- the mask builder gets q/k rounded to bf16 (what it sees under the official bf16 autocast), its
  math in f32;
- xfuser (world size 1; --world N recomputes top_k as the multi-GPU scripts' ranks do:
  N * int((1 - d) * ((image tokens / N) // 128))), get_cu_seqlens' "cuda" allocation;
- the text encoders and VAE (the pipeline gets the inputs' text states; output_type "latent");
  randn_tensor returns the inputs' noise in draw order (noise, noise_1.., noise_full; a draw of
  another size, as at Base's switch, is unused and returns zeros).
- The pipeline's get_rotary_pos_embed hard-codes the 13B DiT's head dim 128 and RoPE [16, 56, 56];
  a DiT with other RoPE dims gets the same function with its own list (the official
  get_nd_rotary_pos_embed).
guidance is the pipelines' tensor([s], f32).to(bf16) * 1000 (6.0 -> 6016), autocast off.

usage: hunyuan_jenga_official_loop.py --official DIR(dvlab-research/Jenga) --model DIT_DIR
           --inputs IN.safetensors --out OUT.safetensors --steps N [--shift 7] [--cfg 1]
           [--res 0.75 1.0 --step-rates 0.5 1.0 --shifts 7 9 --drops 0.7 0.8 --p 0.3 --amp 1.0]
           [--pad-text 256] [--world 8] [--seqlen kernel|own]
(no --res: the dense loop, one stage, every step computed, through the same __call__)
DIT_DIR: config.json (official field names) + diffusion_pytorch_model.safetensors (official keys).
"""
import argparse
import contextlib
import json
import math
import os
import sys
import types

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hunyuan_dit_golden import cpu_cu_seqlens  # noqa: E402  the official varlen offsets, on the CPU

A = None  # parsed arguments
DROP = {"d": 0.0}  # the drop rate of the forward in progress (--world)


def varlen_sdpa(q, k, v, cu_q, cu_k, max_q, max_k, *a, **kw):
    outs = []
    cu = cu_q.tolist()
    for s, e in zip(cu[:-1], cu[1:]):
        if e > s:
            qs, ks, vs = (x[s:e].transpose(0, 1).unsqueeze(0).float() for x in (q, k, v))
            outs.append(F.scaled_dot_product_attention(qs, ks, vs)[0].transpose(0, 1))
    return torch.cat(outs, 0)


def flash_attn_func(q, k, v, dropout_p=0.0, softmax_scale=None, causal=False, **kw):  # [B, S, H, D]
    o = F.scaled_dot_product_attention(q.transpose(1, 2).float(), k.transpose(1, 2).float(), v.transpose(1, 2).float(),
                                       scale=softmax_scale)
    return o.transpose(1, 2)


def block_sparse_f32(q, k, v, seqlens, block_mask, sm_scale, block_size_M=128, block_size_N=128,
                     is_text_block=False, text_amp=0.0, text_block_start=0):
    """_triton_block_sparse_attn_fwd_kernel_onehot in f32."""
    B, H, Nq, D = q.shape
    Nk = k.shape[2]
    if A.seqlen == "kernel":  # tl.load(seqlens + batch): cu_seqlens_q[1 + b]
        sl = torch.as_strided(seqlens, (B,), (1,), seqlens.storage_offset()).tolist()
    else:
        cu = torch.as_strided(seqlens, (2 * B + 1,), (1,), seqlens.storage_offset() - 1).tolist()
        sl = [cu[2 * b + 1] - cu[2 * b] for b in range(B)]
    cols = torch.arange(Nk)
    colblk, rowblk = cols // block_size_N, torch.arange(Nq) // block_size_M
    bias = torch.where(colblk >= text_block_start, text_amp * math.log(2.0), 0.0)
    o = torch.zeros_like(q, dtype=torch.float32)
    for b in range(B):
        s = torch.einsum("hqd,hkd->hqk", q[b].float(), k[b].float()) * sm_scale + bias
        keep = block_mask[b][:, rowblk][:, :, colblk] & (cols < sl[b])
        o[b] = torch.softmax(s.masked_fill(~keep, float("-inf")), dim=-1) @ v[b].float()
    return o


def import_official(root):
    # diffusers probes flash_attn when imported: import it before the stand-in exists.
    import diffusers.pipelines.pipeline_utils  # noqa: F401
    for n in ("torchvision", "imageio", "matplotlib", "matplotlib.pyplot", "mpl_toolkits", "mpl_toolkits.mplot3d"):
        try:
            __import__(n)
        except ImportError:
            sys.modules[n] = types.ModuleType(n)  # the video writer and gilbert.py's plots only
    sys.modules["mpl_toolkits.mplot3d"].Axes3D = getattr(sys.modules["mpl_toolkits.mplot3d"], "Axes3D", None)
    fa, fai = types.ModuleType("flash_attn"), types.ModuleType("flash_attn.flash_attn_interface")
    fa.flash_attn_func, fa.flash_attn_varlen_func, fa.flash_attn_interface = flash_attn_func, varlen_sdpa, fai
    fai.flash_attn_varlen_func, fai._flash_attn_forward = varlen_sdpa, None
    xd = types.ModuleType("xfuser.core.distributed")
    xd.get_sequence_parallel_world_size, xd.get_sequence_parallel_rank, xd.get_sp_group = (lambda: 1), (lambda: 0), None
    xc, xf = types.ModuleType("xfuser.core"), types.ModuleType("xfuser")
    xc.distributed, xf.core = xd, xc
    for n, m in (("flash_attn", fa), ("flash_attn.flash_attn_interface", fai), ("xfuser", xf), ("xfuser.core", xc),
                 ("xfuser.core.distributed", xd)):
        sys.modules[n] = m
    sys.path.insert(0, root)
    import hyvideo.modules.attenion as att
    import hyvideo.modules.attention_block_triton_diffres as bs
    import hyvideo.modules.models_mul_block_gc_ha_multigpu as M
    att.flash_attn_varlen_func, att.get_cu_seqlens, M.get_cu_seqlens = varlen_sdpa, cpu_cu_seqlens, cpu_cu_seqlens
    bs.flash_attn_func, bs._triton_block_sparse_attention_onehot = flash_attn_func, block_sparse_f32
    build = bs._build_block_index_with_importance_optimized
    bs._build_block_index_with_importance_optimized = lambda q, k, *a, **kw: build(
        q.to(torch.bfloat16).float(), k.to(torch.bfloat16).float(), *a, **kw)
    if A.world > 1:
        sparse = M.block_sparse_attention

        def per_rank_top_k(q, k, v, top_k, **kw):
            img = q.shape[1] - A.pad_text
            return sparse(q, k, v, top_k=A.world * int((1 - DROP["d"]) * ((img // A.world) // 128)), **kw)

        M.block_sparse_attention = per_rank_top_k
    import jenga_hyvideo as J
    import hyvideo.diffusion.pipelines.pipeline_hunyuan_video_prores as PP
    from hyvideo.diffusion.pipelines.pipeline_hunyuan_video import HunyuanVideoPipeline
    from hyvideo.diffusion.schedulers import FlowMatchDiscreteScheduler
    from hyvideo.modules.posemb_layers import get_nd_rotary_pos_embed
    J.get_cu_seqlens = cpu_cu_seqlens
    return types.SimpleNamespace(M=M, J=J, PP=PP, Pipe=HunyuanVideoPipeline, Sched=FlowMatchDiscreteScheduler,
                                 rope=get_nd_rotary_pos_embed)


class Pipe:
    """What HunyuanVideoPipelineProRes.__call__ reads from self, without text encoders and VAE."""

    def __init__(self, o, transformer, scheduler, branches, rope_dims):
        self.transformer, self.scheduler, self.branches = transformer, scheduler, branches
        self.args = types.SimpleNamespace(precision="bf16", vae_precision="fp32", disable_autocast=True)
        self.text_encoder_2 = object()
        self._execution_device = torch.device("cpu")
        self.prepare_extra_func_kwargs = types.MethodType(o.Pipe.prepare_extra_func_kwargs, self)
        if rope_dims == [16, 56, 56]:
            self.get_rotary_pos_embed = types.MethodType(o.PP.HunyuanVideoPipelineProRes.get_rotary_pos_embed, self)
        else:
            self.get_rotary_pos_embed = lambda size: o.rope(rope_dims, size, theta=256, use_real=True,
                                                            theta_rescale_factor=1)

    do_classifier_free_guidance = property(lambda s: s._guidance_scale > 1)
    guidance_scale = property(lambda s: s._guidance_scale)
    guidance_rescale = property(lambda s: s._guidance_rescale)
    clip_skip = property(lambda s: s._clip_skip)
    cross_attention_kwargs = property(lambda s: s._cross_attention_kwargs)
    interrupt = property(lambda s: s._interrupt)

    def check_inputs(self, *a, **k):
        pass

    def encode_prompt(self, prompt, device, n, cfg, neg, text_encoder=None, **kw):
        c, u = self.branches
        if text_encoder is None:
            return c["states"], (u["states"] if cfg else None), c["mask"], (u["mask"] if cfg else None)
        return c["pooled"], (u["pooled"] if cfg else None), None, None

    def progress_bar(self, total):
        return contextlib.nullcontext(types.SimpleNamespace(update=lambda: None))

    def maybe_free_model_hooks(self):
        pass


def branch(inp, name, pooled, rows):
    s = inp[name].float().reshape(-1, inp[name].shape[-1])
    valid = int(inp[name + "_valid"].reshape(-1)[0].item()) if name + "_valid" in inp else s.shape[0]
    if rows and s.shape[0] < rows:  # zero rows up to the official text length
        s = torch.cat([s, torch.zeros(rows - s.shape[0], s.shape[1])])
    mask = torch.zeros(1, s.shape[0], dtype=torch.long)
    mask[:, :valid] = 1
    return {"states": s[None], "mask": mask, "pooled": inp[pooled].float().reshape(1, -1)}


def main():
    global A
    ap = argparse.ArgumentParser()
    ap.add_argument("--official", required=True, help="dvlab-research/Jenga checkout (hyvideo/, jenga_hyvideo.py)")
    ap.add_argument("--model", required=True)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--shift", type=float, default=7.0)
    ap.add_argument("--cfg", type=float, default=1.0)
    ap.add_argument("--emb", type=float, default=6.0)
    ap.add_argument("--res", type=float, nargs="*")
    ap.add_argument("--step-rates", type=float, nargs="*")
    ap.add_argument("--shifts", type=float, nargs="*")
    ap.add_argument("--drops", type=float, nargs="*")
    ap.add_argument("--p", type=float, default=0.3)
    ap.add_argument("--amp", type=float, default=1.0)
    ap.add_argument("--pad-text", type=int, default=256)
    ap.add_argument("--world", type=int, default=1)
    ap.add_argument("--seqlen", choices=["kernel", "own"], default="kernel")
    A = ap.parse_args()
    o = import_official(A.official)
    cfg = json.load(open(os.path.join(A.model, "config.json")))
    m = o.M.HYVideoDiffusionTransformer(
        types.SimpleNamespace(text_states_dim=cfg["text_states_dim"], text_states_dim_2=cfg["text_states_dim_2"]),
        patch_size=cfg["patch_size"], in_channels=cfg["in_channels"], out_channels=cfg["out_channels"],
        hidden_size=cfg["hidden_size"], heads_num=cfg["heads_num"], mlp_width_ratio=cfg["mlp_width_ratio"],
        mlp_act_type="gelu_tanh", mm_double_blocks_depth=cfg["mm_double_blocks_depth"],
        mm_single_blocks_depth=cfg["mm_single_blocks_depth"], rope_dim_list=cfg["rope_dim_list"],
        qkv_bias=cfg["qkv_bias"], qk_norm=True, qk_norm_type="rms", guidance_embed=cfg["guidance_embed"],
        text_projection="single_refiner", use_attention_mask=True)
    m.load_state_dict(load_file(os.path.join(A.model, "diffusion_pytorch_model.safetensors")), strict=True)
    m = m.float().eval()
    inp = load_file(A.inputs)
    noises = [inp["noise"].float()] + [inp[f"noise_{k}"].float() for k in range(1, 8) if f"noise_{k}" in inp]
    if "noise_full" in inp:
        noises.append(inp["noise_full"].float())
    T, Hl, Wl = noises[-1].shape[1:]
    height, width, frames = Hl * 8, Wl * 8, (T - 1) * 4 + 1
    dense = not A.res
    res = A.res or [1.0]
    cls, J = m.__class__, o.J
    if dense:  # the pipeline's own gilbert_mapping order; the blocks read curve_sel only for the mask
        cls.curve_sel = [[None, None, None]]
    else:
        cls.curve_sels = J.build_multi_curve((frames + 3) // 4, height // 16, width // 16, res)
        cls.curve_sel = None
    # jenga_hyvideo.py main()'s class attributes
    cls.enable_skip, cls.cnt, cls.num_steps, cls.previous_residual, cls.start_stage = not dense, 0, A.steps, None, True
    cls.sa_drop_rates, cls.scale_txt_amp, cls.p_remain_rates = A.drops or [0.0], A.amp, A.p
    m.sa_drop_rate = 0.0
    queue = list(noises)

    def randn(shape, generator=None, device=None, dtype=None, layout=None):
        if queue and list(queue[0].shape) == list(shape)[1:]:
            return queue.pop(0)[None].clone()
        return torch.zeros(list(shape))  # a draw the loop does not use (Base's switch)

    o.PP.randn_tensor = randn
    rec = {"t": [], "drop": [], "amp": [], "computed": []}

    def forward(self, x, t, **kw):
        before = self.previous_residual
        DROP["d"] = float(self.sa_drop_rate)
        rec["t"].append(float(t[0]))
        rec["drop"].append(DROP["d"])
        rec["amp"].append(float(self.text_amp))
        out = J.ra_forward(self, x, t, **kw)
        rec["computed"].append(int(dense or self.previous_residual is not before))
        return out

    cls.forward = forward
    steps_x = {}
    cond = branch(inp, "context", "pooled", A.pad_text)
    uncond = branch(inp, "context_null", "pooled_null", A.pad_text) if A.cfg > 1 else None
    pipe = Pipe(o, m, o.Sched(shift=A.shift, reverse=True, solver="euler"), (cond, uncond), cfg["rope_dim_list"])
    o.PP.HunyuanVideoPipelineProRes.__call__(
        pipe, prompt="p", height=height, width=width, video_length=frames, num_inference_steps=A.steps,
        guidance_scale=A.cfg, negative_prompt="n", output_type="latent", embedded_guidance_scale=A.emb,
        vae_ver="884-16c-hy", res_rate_list=res, step_rate_list=A.step_rates or [1.0],
        scheduler_shift_list=A.shifts or [A.shift],
        callback_on_step_end=lambda p, i, t, kw: steps_x.__setitem__(i, kw["latents"][0].clone()) or {},
        callback_on_step_end_tensor_inputs=["latents"])
    out = {f"step_{i}": x.float().contiguous() for i, x in steps_x.items()}
    out["latents"] = steps_x[A.steps - 1].float().clone()
    out["computed"] = torch.tensor(rec["computed"], dtype=torch.int32)
    for k in ("t", "drop", "amp"):
        out[{"t": "timesteps", "drop": "sa_drop_rate", "amp": "text_amp"}[k]] = torch.tensor(rec[k], dtype=torch.float64)
    save_file(out, A.out, metadata={"source": "dvlab-research/Jenga HunyuanVideoPipelineProRes + ra_forward, CPU f32",
                                    "seqlen": A.seqlen})
    print(json.dumps({"computed": rec["computed"]}))


if __name__ == "__main__":
    main()
