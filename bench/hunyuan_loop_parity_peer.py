#!/usr/bin/env python3
"""Peer of bench/gpu_hunyuan_loop_parity.sh (issue #24 point 4): the OFFICIAL HunyuanVideo sampling
loops on one random checkpoint and our noise and text, to compare their final latents with
`jenga debug denoise` on the same files.

  dense        Tencent's HYVideoDiffusionTransformer (models.py) and FlowMatchDiscreteScheduler
               (flow-reverse, shift 7, Euler), stepped as pipeline_hunyuan_video.py's loop (cfg 1,
               embedded guidance 6.0); a reduced step count (--steps).
  base, turbo  Jenga's HYVideoDiffusionTransformer (models_mul_block_gc_ha_multigpu.py: the Triton
               block-sparse AttenCarve kernel and mask builder) with jenga_hyvideo.py's ra_forward
               (the fixed step-reuse list) and the class attributes its main() sets, Jenga's
               scheduler, stepped as HunyuanVideoPipelineProRes.__call__ (the stage switch: new
               shift, x0, trilinear resize, re-noise with our noise_full, start_stage); every flag
               from the official scripts/hyvideo_jenga_<preset>.sh, all their steps.

The official code is imported at run time (peers/hvofficial, peers/jengahy; never copied here). The
pipelines' own __call__ needs the whole sampler (VAE, text encoders, diffusers): its loop is
restated here line by line (the same restatement as tools/golden/hunyuan_*loop_golden.py, which CI
checks against ours on tiny models). On the GPU as the official pipeline runs: bf16 weights under
bf16 autocast, noise and text states in fp16 (the text encoders' dtype), guidance bf16(6.0)*1000.
The CPU rehearsal (--device cpu) runs everything in f32 (the Triton kernel through its interpreter,
operands kept f32; see cpu_kernel_in_f32).

Subcommands (each its own process: the official model is gone before ours loads):
  plan      the loop's stages, forwards and predicted seconds per step of the GPU script.
  official  WORK/dit.safetensors (drawn once, bench/hunyuan_parity_peer.py's with_checkpoint),
            WORK/loop_<L>_inputs.safetensors (what `jenga debug denoise --inputs` reads: noise,
            noise_full, context [256, 4096], context_valid, pooled) and the official loop ->
            WORK/loop_<L>_official.safetensors (latents, computed) + one JSON line.
  prepare   only the checkpoint and inputs of `official` (then ours may run first: `official`
            reuses both, the checkpoint by its metadata, the inputs drawn again from the same seed).
  compare   our WORK/loop_<L>_ours.safetensors against the official; one JSON line (rel L2, pass
            at --tol, both loop times, computed forwards, peak GPU memory); exit 1 on a fail.
"""
import argparse, contextlib, dataclasses, functools, importlib.util, inspect, json, math, os, signal, sys, time, types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hunyuan_parity_peer as HP  # noqa: E402  (the checkpoint, the Tencent model, rel_l2)
import hunyuan_jenga_peer as HJ   # noqa: E402  (the Jenga model, ra_forward, preset flags, curves)

rec, die = HP.rec, HP.die
LOOPS = ("dense", "base", "turbo")
TEXT_VALID = 57  # real rows of the 256 (bench/hunyuan_parity_peer.py's inputs)


# full: hunyuan_parity_peer's (720x1280x125, the published model). tiny: one head of 128 and one block
# of each kind on a token grid of 8x16x16 (the smallest that keeps L_img % 128 == 0 at rate 0.75 too):
# the Triton interpreter runs the official kernel at ~45 ms a key block on the CPU.
LOOP_SIZES = {"full": HP.SIZES["full"], "tiny": dict(HP.SIZES["tiny"], hidden=128, heads=1, double=1, single=1)}


def sizes(size):
    return LOOP_SIZES[size]


# ---------------------------------------------------------------------------------------------
# The loop plans (no torch): stages, latents, computed forwards
# ---------------------------------------------------------------------------------------------
def prores_flags(jenga, loop):
    fl = HJ.preset_flags(jenga, loop)
    raw = HJ.read_script_flags(os.path.join(jenga, HJ.PRESET_SCRIPTS[loop]))
    fl["flow_shift"] = float(raw.get("flow-shift", ["7.0"])[0])
    fl["embedded_cfg"] = float(raw.get("embedded-cfg-scale", ["6.0"])[0])
    return fl


def loop_plan(a):
    """Stages (latent [C,T,H,W], token grid, steps, computed) of --loop at --size."""
    cfg = sizes(a.size)
    C, T, H, W = cfg["latent"]
    if a.loop == "dense":
        return dict(loop="dense", steps=a.steps, shift=7.0, embedded_cfg=6.0,
                    stages=[dict(stage=0, latent=[C, T, H, W], grid=[T, H // 2, W // 2], drop=0.0,
                                 steps=list(range(a.steps)), computed=list(range(a.steps)), skipped=[])])
    fl = prores_flags(a.jenga, a.loop)
    grid = (T, H // 2, W // 2)
    if a.size == "full" and (list(grid) != [(fl["frames"] + 3) // 4, fl["size"][0] // 16, fl["size"][1] // 16]):
        die(f"{HJ.PRESET_SCRIPTS[a.loop]}: {fl['size']}x{fl['frames']} is not this size's grid {grid}")
    pl = HJ.stage_plan(fl, non_skip_steps(a.jenga), None if a.size == "full" else grid)
    for st in pl["stages"]:
        st["latent"] = [C, T, 2 * st["grid"][1], 2 * st["grid"][2]]
    return dict(loop=a.loop, steps=pl["N"], split=pl["split"], shift=fl["flow_shift"], embedded_cfg=fl["embedded_cfg"],
                flags=fl, stages=pl["stages"])


def non_skip_steps(jenga):
    import ast
    src = os.path.join(jenga, "jenga_hyvideo.py")
    if not os.path.isfile(src):
        die(f"{src}: missing (bench/hunyuan_loop_parity_prep.sh lays out peers/jengahy)")
    for n in ast.parse(open(src).read()).body:
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == "non_skip_steps":
            return ast.literal_eval(n.value)
    die(f"{src}: no non_skip_steps list")


# Predicted seconds on one H100 (docs/BENCHMARKS.md: official dense forward with SDPA flash 32.6 s,
# ours 17.9 s; official Triton kernel ~175-190 ms an attention call at 20% density and 115k tokens,
# ours ~55 ms; ours Turbo 38 s + 71 s a stage). Attention ~ tokens^2 x density, the rest ~ tokens.
FULL_TOKENS = 115_456  # 115,200 image + 256 text


def predict(plan, weights_exist):
    def fwd(stage, official):
        r = (stage["grid"][0] * stage["grid"][1] * stage["grid"][2] + 256) / FULL_TOKENS  # 1 at 720p
        if stage["drop"] == 0.0:
            return (32.6 if official else 17.9) * r * r
        dens = min(1.0, 1.0 - stage["drop"] + 0.03)  # top_k + neighbours (random weights: p 0.3 rarely binds)
        attn = 60 * (0.19 if official else 0.055) * dens / 0.2 * r * r
        return attn + (3.0 if official else 2.1) * r + 0.3
    out = {}
    for who in ("official", "ours"):
        loop = sum(len(st["computed"]) * fwd(st, who == "official") + len(st["skipped"]) * 0.3 for st in plan["stages"])
        load = 30.0 if weights_exist or who == "ours" else 95.0  # imports + model + load; draw + 25.6 GB save
        warm = 10.0 if who == "official" and plan["loop"] != "dense" else 0.0  # Triton compiles
        out[who] = dict(loop_s=round(loop), total_s=round(loop + load + warm))
    return out


def cmd_plan(a):
    plan = loop_plan(a)
    ckpt = os.path.join(a.work, "dit.safetensors") if a.work else ""
    pred = predict(plan, bool(ckpt) and os.path.isfile(ckpt))
    if a.size != "full":  # the CPU rehearsal: not predicted
        pred = {w: dict(total_s=None, loop_s=None) for w in pred}
    rec(kind="hyloop_plan", loop=a.loop, size=a.size, steps=plan["steps"], shift=plan["shift"],
        stages=[{"latent": st["latent"], "drop": st["drop"], "steps": f"{st['steps'][0]}..{st['steps'][-1]}",
                 "computed": len(st["computed"]), "skipped": len(st["skipped"])} for st in plan["stages"]],
        predicted_official_s=pred["official"]["total_s"], predicted_official_loop_s=pred["official"]["loop_s"],
        predicted_ours_s=pred["ours"]["total_s"], predicted_ours_loop_s=pred["ours"]["loop_s"],
        note="H100 estimates from docs/BENCHMARKS.md figures" if a.size == "full" else "tiny: not predicted")


# ---------------------------------------------------------------------------------------------
# Inputs: our noise and text, as `jenga debug denoise` reads them
# ---------------------------------------------------------------------------------------------
def make_loop_inputs(torch, cfg, plan, seed):
    """Noise per stage (fp16 values: the official pipeline draws it in fp16), text states and pooled
    vector (values exact in bf16 and fp16: the official text encoders give fp16, our GPU path reads
    bf16, so neither side rounds them), 256 text rows of which TEXT_VALID real. Stored f32."""
    g = torch.Generator().manual_seed(seed + 11)
    def text(*s):
        x = torch.randn(*s, generator=g).to(torch.bfloat16).float()
        x[x.abs() < 2.0 ** -14] = 0  # below fp16's normal range a bf16 value may not be fp16-exact
        return x
    out = {}
    st = plan["stages"]
    out["noise"] = torch.randn(*st[0]["latent"], generator=g).half().float()
    for k, s in enumerate(st[1:], start=1):
        if s["latent"] == st[k - 1]["latent"]:
            continue  # Base: same grid, no re-noise
        name = "noise_full" if k == len(st) - 1 else f"noise_{k}"
        out[name] = torch.randn(*s["latent"], generator=g).half().float()
    out["context"] = text(cfg["text_len"], cfg["text_dim"])
    out["context_valid"] = torch.tensor([float(TEXT_VALID)])
    out["pooled"] = text(cfg["text_dim_2"])
    return out


# ---------------------------------------------------------------------------------------------
# The official scheduler file (it imports diffusers, which the GPU machine lacks)
# ---------------------------------------------------------------------------------------------
def load_scheduler(path):
    """FlowMatchDiscreteScheduler of `path` with stand-ins for the four diffusers names it imports:
    ConfigMixin/register_to_config (records the constructor's arguments as self.config, which the
    ProRes switch assigns to), BaseOutput (indexable dataclass), logging, SchedulerMixin. The
    stand-ins live in sys.modules only while the file is imported."""
    if not os.path.isfile(path):
        die(f"{path}: missing (run bench/hunyuan_loop_parity_prep.sh and carry peers)")
    d, cu, ut, sc, su = (types.ModuleType(n) for n in ("diffusers", "diffusers.configuration_utils", "diffusers.utils",
                                                       "diffusers.schedulers", "diffusers.schedulers.scheduling_utils"))

    class ConfigMixin:
        pass

    def register_to_config(init):
        sig = inspect.signature(init)
        @functools.wraps(init)
        def inner(self, *args, **kw):
            b = sig.bind(self, *args, **kw)
            b.apply_defaults()
            self.config = types.SimpleNamespace(**dict(list(b.arguments.items())[1:]))
            init(self, *args, **kw)
        return inner

    class BaseOutput:
        def __getitem__(self, k):
            return getattr(self, k) if isinstance(k, str) else tuple(getattr(self, f.name) for f in dataclasses.fields(self))[k]

    class SchedulerMixin:
        pass

    import logging
    cu.ConfigMixin, cu.register_to_config = ConfigMixin, register_to_config
    ut.BaseOutput, ut.logging = BaseOutput, types.SimpleNamespace(get_logger=logging.getLogger)
    su.SchedulerMixin = SchedulerMixin
    d.configuration_utils, d.utils, d.schedulers, sc.scheduling_utils = cu, ut, sc, su
    names = [m.__name__ for m in (d, cu, ut, sc, su)]
    saved = {n: sys.modules.get(n) for n in names}
    sys.modules.update({m.__name__: m for m in (d, cu, ut, sc, su)})
    try:
        spec = importlib.util.spec_from_file_location(f"official_scheduler_{abs(hash(path))}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m
    return mod.FlowMatchDiscreteScheduler


def cpu_kernel_in_f32(BS):
    """CPU rehearsal only: the official launcher passes `dtype=tl.float16` for any non-bf16 operands,
    which on f32 CPU tensors would add fp16 rounding that the GPU run (bf16 in, bf16 out) never has.
    Under the Triton interpreter the launch gets tl.float32 instead, so the rehearsal compares f32
    with f32 as the CI goldens do; the kernel's code is unchanged."""
    import triton.language as tl
    kernel = BS._triton_block_sparse_attn_fwd_kernel_onehot

    class F32Launch:
        def __getitem__(self, grid):
            def launch(*args, **kw):
                if kw.get("dtype") == tl.float16:
                    kw["dtype"] = tl.float32
                return kernel[grid](*args, **kw)
            return launch
    BS._triton_block_sparse_attn_fwd_kernel_onehot = F32Launch()


# ---------------------------------------------------------------------------------------------
# The official loops
# ---------------------------------------------------------------------------------------------
class Interrupted(BaseException):  # not Exception: the Triton interpreter re-raises those wrapped
    pass


def cmd_official(a):
    if a.device == "cpu" and "TRITON_INTERPRET" not in os.environ:
        os.environ["TRITON_INTERPRET"] = "1"  # before triton is imported: the kernel runs on the CPU
    import torch
    import torch.nn.functional as F
    from safetensors.torch import save_file
    dev = a.device
    if dev == "cuda" and not torch.cuda.is_available():
        die("--device cuda but torch sees no GPU")
    cfg = sizes(a.size)
    plan = loop_plan(a)
    plan.update(size=a.size, curve_cache=a.curve_cache)
    os.makedirs(a.work, exist_ok=True)
    t0 = time.perf_counter()
    stop = []
    def on_term(*_):
        stop.append(time.perf_counter() - t0)
        raise Interrupted()
    signal.signal(signal.SIGTERM, on_term)

    inp = make_loop_inputs(torch, cfg, plan, a.seed)
    in_path = os.path.join(a.work, f"loop_{a.loop}_inputs.safetensors")
    save_file({k: v.contiguous() for k, v in inp.items()}, in_path)
    gpu = dev == "cuda"
    f32 = not gpu  # the CPU rehearsal: f32 throughout
    wdt = torch.float32 if f32 else torch.bfloat16
    tdt = torch.float32 if f32 else torch.float16  # noise and text states: fp16 as the official pipeline
    if a.loop == "dense":
        varlen = HP.Varlen(torch, [], dev, f32)
        M, rope_fn = HP.import_official(a.official, torch, varlen, dev)
        Sched = load_scheduler(os.path.join(a.official, "hyvideo/diffusion/schedulers/scheduling_flow_match_discrete.py"))
        J = None
    else:
        if dev == "cpu":  # the kernel launch sits in `with torch.cuda.device(q.device)`, which refuses the CPU
            torch.cuda.device = lambda d: contextlib.nullcontext()
        Sched = load_scheduler(os.path.join(a.jenga, "hyvideo/diffusion/schedulers/scheduling_flow_match_discrete.py"))
        J = HJ.load_official(a.jenga, torch, F, dev)
        if f32:
            cpu_kernel_in_f32(J.BS)
        M = J.M
        J.A.flash_attn_varlen_func = HJ.dense_varlen(torch, F, "flash" if gpu else "math")  # a drop of 0 only
        M.HYVideoDiffusionTransformer.forward = J.ra_forward  # as jenga_hyvideo.py main()
        M.HYVideoDiffusionTransformer.ra_forward = J.ra_forward
        rope_fn = J.P.get_nd_rotary_pos_embed
    model = HP.build_model(M, torch, cfg, dev)
    HP.with_checkpoint(model, torch, a.work, a.size if a.size == "full" else "looptiny", a.seed, dev)
    if f32:
        model = model.float()
    load_s = time.perf_counter() - t0
    if a.cmd == "prepare":  # the checkpoint and inputs only: ours can run before the official loop
        rec(kind="hyloop_prepared", loop=a.loop, size=a.size, load_s=round(load_s, 1), inputs=in_path)
        return

    txt = inp["context"].to(dev, tdt).unsqueeze(0)
    mask = torch.zeros(1, cfg["text_len"], dtype=torch.long, device=dev)
    mask[:, :TEXT_VALID] = 1
    txt2 = inp["pooled"].to(dev, tdt).unsqueeze(0)
    noises = [inp["noise"]] + [inp[k] for k in sorted(inp) if k.startswith("noise_") and k != "noise_full"]
    noises += [inp["noise_full"]] if "noise_full" in inp else []
    noises = [n.to(dev, tdt).unsqueeze(0) for n in noises]
    # pipeline: tensor([6.0], f32).to(target_dtype) * 1000 at its default bf16 precision: 6016, which
    # ours feeds too (hunyuan_guidance_value); also in the f32 CPU rehearsal
    guidance = (torch.tensor([plan["embedded_cfg"]], dtype=torch.float32, device=dev).to(torch.bfloat16) * 1000.0).to(wdt)
    ac = contextlib.nullcontext() if f32 else torch.autocast("cuda", dtype=torch.bfloat16)
    sync = torch.cuda.synchronize if gpu else (lambda: None)
    density = []
    if J is not None:  # kept blocks of every sparse call: (image key blocks, all key blocks incl. the 2 text blocks)
        orig_builder = J.BS._build_block_index_with_importance_optimized
        def probing_builder(*args, **kw):
            m = orig_builder(*args, **kw)  # [B, H, image query blocks, all key blocks]
            img = m[..., :kw.get("text_start_block")]
            density.append((img.sum(), img.numel(), m.sum(), m.numel()))  # sums stay on the device: no sync
            return m
        J.BS._build_block_index_with_importance_optimized = probing_builder
    if gpu:
        torch.cuda.reset_peak_memory_stats()
    computed, stage_s, saved = [], [], {}
    save_at = {int(v) for v in a.save_steps.split(",") if v != ""}
    def keep(i, x):  # latents after step i (0-based), as `jenga debug denoise --save-steps` writes them
        if i in save_at:
            saved[f"step_{i}"] = x[0].float().cpu().clone()  # its own memory (the CPU rehearsal)
    sync()
    t_loop = time.perf_counter()
    try:
        with torch.no_grad():
            if a.loop == "dense":
                x = dense_loop(torch, model, Sched, rope_fn, plan, noises[0], txt, mask, txt2, guidance, ac, computed,
                               keep)
            else:
                x = prores_loop(torch, model, Sched, rope_fn, J, plan, noises, txt, mask, txt2, guidance, ac, computed,
                                stage_s, sync, t_loop, keep)
        sync()
    except Interrupted:
        rec(kind="hyloop_official", loop=a.loop, interrupted_after_s=round(stop[0], 1), steps_started=len(computed),
            computed=sum(computed), loop_s_so_far=round(time.perf_counter() - t_loop, 1))
        sys.exit(3)
    loop_s = time.perf_counter() - t_loop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    lat = x[0].float().cpu()
    info = dict(kind="hyloop_official", loop=a.loop, size=a.size, device=torch.cuda.get_device_name() if gpu else "cpu",
                dtype="f32" if f32 else "bf16 weights, bf16 autocast, fp16 noise/text", steps=plan["steps"],
                shift=plan["shift"], loop_s=round(loop_s, 2), stage_s=[round(s, 2) for s in stage_s],
                forwards=len(computed), computed=sum(computed), reused=len(computed) - sum(computed),
                density=dens(torch, density, 0), density_all_keys=dens(torch, density, 2),
                peak_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2) if gpu else None,
                load_s=round(load_s, 1), finite=bool(torch.isfinite(lat).all()), latent=list(lat.shape))
    save_file({"latents": lat.contiguous(), "computed": torch.tensor(computed, dtype=torch.float32), **saved},
              os.path.join(a.work, f"loop_{a.loop}_official.safetensors"), metadata={"info": json.dumps(info)})
    rec(**info)


def dens(torch, counts, k):
    """Kept / all over every sparse call (counted, not averaged per call; ours counts so too)."""
    if not counts:
        return None
    return round(float(torch.stack([c[k] for c in counts]).double().sum()) / sum(c[k + 1] for c in counts), 4)


def dense_loop(torch, model, Sched, rope_fn, plan, noise, txt, mask, txt2, guidance, ac, computed, keep):
    """pipeline_hunyuan_video.py's loop at cfg 1 (tools/golden/hunyuan_t2v_loop_golden.py's official_loop)."""
    dev = noise.device
    sched = Sched(shift=plan["shift"], reverse=True, solver="euler")
    sched.set_timesteps(plan["steps"], device=dev)
    T, H, W = noise.shape[2:]
    cos, sin = rope_fn([16, 56, 56], (T, H // 2, W // 2), theta=256, use_real=True, theta_rescale_factor=1)
    cos, sin = cos.to(dev), sin.to(dev)
    x = noise
    t0 = time.perf_counter()
    for i, t in enumerate(sched.timesteps):
        print(f"official dense step {i + 1}/{plan['steps']} (t {float(t):.1f}), {time.perf_counter() - t0:.1f} s",
              file=sys.stderr, flush=True)
        with ac:
            v = model(x, t.repeat(x.shape[0]), text_states=txt, text_mask=mask, text_states_2=txt2, freqs_cos=cos,
                      freqs_sin=sin, guidance=guidance, return_dict=True)["x"]
        x = sched.step(v, t, x, return_dict=False)[0]
        computed.append(1)
        keep(i, x)
    return x


def prores_loop(torch, model, Sched, rope_fn, J, plan, noises, txt, mask, txt2, guidance, ac, computed, stage_s, sync,
                t_loop, keep):
    """HunyuanVideoPipelineProRes.__call__ (pipeline_hunyuan_video_prores.py) with the class attributes
    jenga_hyvideo.py main() sets; our noise for the first stage and each re-noise."""
    fl, dev = plan["flags"], noises[0].device
    N, split, res = plan["steps"], plan["split"], fl["res"]
    T, LH, LW = plan["stages"][-1]["grid"]
    by_rate = HJ.official_curves(types.SimpleNamespace(curve_cache=plan.get("curve_cache")),
                                 {plan["loop"]: (fl, None)}, [plan["loop"]],
                                 None if plan["size"] == "full" else (T, LH, LW), torch, J.build_multi_curve)
    curve_sels = [by_rate[r] for r in res]
    C = type(model)
    C.enable_skip, C.cnt, C.num_steps, C.previous_residual, C.start_stage = True, 0, N, None, True
    C.current_t, C.current_h, C.current_w = T, LH, LW
    C.curve_sels, C.curve_sel, C.sa_drop_rates = curve_sels, None, fl["drops"]
    C.scale_txt_amp, C.p_remain_rates = fl["scale_txt_amp"], fl["p"]

    sched = Sched(shift=plan["shift"], reverse=True, solver="euler")
    sched.set_timesteps(N, device=dev)
    timesteps = sched.timesteps
    grids = [st["grid"] for st in plan["stages"]]
    stage_grid = lambda s: grids[min(s, len(grids) - 1)]
    def use_tables(s):
        model.curve_sel = curve_sels[s]
        for im in range(len(model.curve_sel)):
            if model.curve_sel[im][-1] is not None and model.curve_sel[im][-1].device != dev:
                model.curve_sel[im][-1] = model.curve_sel[im][-1].to(dev)
        model.linear_to_hilbert, model.hilbert_order = model.curve_sel[0][0], model.curve_sel[0][1]
        model.sa_drop_rate = fl["drops"][s]
    latents = noises[0]
    cur = stage_grid(0)
    use_tables(0)
    model.text_amp = -1 * math.log(math.sqrt((cur[1] * cur[2]) / (LH * LW)), 2) * fl["scale_txt_amp"]
    freqs = rope_fn([16, 56, 56], cur, theta=256, use_real=True, theta_rescale_factor=1)  # CPU tables, as official
    stage_idx, renoise, t_stage = 0, 1, t_loop
    for i in range(len(timesteps)):
        t = timesteps[i]
        computed.append(1 if (model.cnt in J.non_skip_steps or model.start_stage) else 0)
        print(f"official {plan['loop']} step {i + 1}/{N} ({'computed' if computed[-1] else 'reused'}, t {float(t):.1f}), "
              f"{time.perf_counter() - t_loop:.1f} s", file=sys.stderr, flush=True)
        with ac:
            noise_pred = model(latents, t.repeat(latents.shape[0]), text_states=txt, text_mask=mask, text_states_2=txt2,
                               freqs_cos=freqs[0], freqs_sin=freqs[1], sa_drop_rate=0.0, guidance=guidance,
                               return_dict=True)["x"]
        if i in split:
            stage_idx += 1
            if res[stage_idx - 1] != 1.0:
                latents_noise = noises[renoise]
                renoise += 1
                sched.config.shift = fl["shifts"][stage_idx]
                sched.set_timesteps(N, device=dev)
                sched._step_index = i
                timesteps = sched.timesteps
                t = timesteps[i]
                latents = sched.predict_x0_from_xt(noise_pred, t, latents, return_dict=False)[0]
                cur = stage_grid(stage_idx)
                latents = torch.nn.functional.interpolate(latents, size=[cur[0], 2 * cur[1], 2 * cur[2]], mode="trilinear")
                latents = sched.add_noise_to_step(latents, latents_noise, timesteps[i + 1])[0]
                use_tables(stage_idx)
                model.text_amp = 0.0
                model.start_stage = True
                freqs = rope_fn([16, 56, 56], cur, theta=256, use_real=True, theta_rescale_factor=1)
                sched._step_index += 1
            else:
                latents = sched.step(noise_pred, t, latents, return_dict=False)[0]
                model.sa_drop_rate = fl["drops"][stage_idx]
            sync()
            stage_s.append(time.perf_counter() - t_stage)
            t_stage = time.perf_counter()
        else:
            latents = sched.step(noise_pred, t, latents, return_dict=False)[0]
        keep(i, latents)
    sync()
    stage_s.append(time.perf_counter() - t_stage)
    return latents


# ---------------------------------------------------------------------------------------------
def cmd_compare(a):
    import torch
    from safetensors import safe_open
    paths = {w: os.path.join(a.work, f"loop_{a.loop}_{w}.safetensors") for w in ("official", "ours")}
    miss = [p for p in paths.values() if not os.path.isfile(p)]
    if miss:
        rec(kind="hyloop_result", loop=a.loop, size=a.size, passed=False, missing=miss)
        sys.exit(1)
    with safe_open(paths["official"], "pt") as f:
        off = f.get_tensor("latents")
        off_computed = f.get_tensor("computed").int().tolist()
        info = json.loads(f.metadata()["info"])
    with safe_open(paths["ours"], "pt") as f:
        ours = f.get_tensor("latents")
        # two entries a step (cond, uncond): the cond branch's decisions
        ours_calls = f.get_tensor("teacache_computed").int().tolist()[0::2] if "teacache_computed" in f.keys() else None
        report = json.loads((f.metadata() or {}).get("report", "{}"))
    rel = HP.rel_l2(ours, off) if ours.shape == off.shape else None
    steps_rel = {}  # the latents after the steps both kept: where the gap grows
    with safe_open(paths["official"], "pt") as fo, safe_open(paths["ours"], "pt") as fu:
        for k in sorted(set(fo.keys()) & set(fu.keys()), key=lambda k: (len(k), k)):
            if k.startswith("step_"):
                x, y = fu.get_tensor(k), fo.get_tensor(k)
                steps_rel[k[5:]] = float(f"{HP.rel_l2(x, y):.3g}") if x.shape == y.shape else "shape"
    ok = rel is not None and rel < a.tol and bool(torch.isfinite(ours).all())
    forwards = report.get("forwards")
    reused = report.get("forwards_reused")
    out = dict(kind="hyloop_result", loop=a.loop, size=a.size, steps=info["steps"], rel_l2=rel, tol=a.tol, passed=ok,
               official_loop_s=info["loop_s"], ours_loop_s=round(report["seconds"], 2) if "seconds" in report else None,
               official_wall_s=a.official_wall_s, ours_wall_s=a.ours_wall_s,
               official_computed=info["computed"], ours_computed=(forwards - reused) if forwards is not None else None,
               same_computed_steps=(ours_calls == off_computed) if ours_calls is not None and len(ours_calls) == len(off_computed) else None,
               official_density=info["density"], official_density_all_keys=info.get("density_all_keys"),
               ours_density=report.get("sparse_block_density"),
               official_peak_gib=info["peak_gib"], ours_peak_gib=report.get("peak_gpu_alloc_gib"),
               steps_rel_l2=steps_rel, official_stage_s=info["stage_s"], ours_stage_s=[round(s.get("seconds", 0), 2) for s in report.get("stages", [])],
               shape=list(off.shape) if rel is not None else f"{list(ours.shape)} vs {list(off.shape)}",
               device=info["device"])
    rec(**out)
    sys.exit(0 if ok else 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("plan", help="stages, forwards and predicted seconds")
    o = sub.add_parser("official", help="checkpoint + inputs + the official loop")
    r = sub.add_parser("prepare", help="checkpoint + inputs only")
    c = sub.add_parser("compare", help="ours vs the official final latents")
    for s in (p, o, r, c):
        s.add_argument("--loop", required=True, choices=LOOPS)
        s.add_argument("--size", default="full", choices=["full", "tiny"])
        s.add_argument("--work", default="", help="folder of the checkpoint, inputs and latents")
        s.add_argument("--steps", type=int, default=3, help="dense only: reduced step count (the presets run all theirs)")
        s.add_argument("--jenga", default="peers/jengahy", help="Jenga's files (bench/hunyuan_loop_parity_prep.sh)")
    for s in (o, r):
        s.add_argument("--official", default="peers/hvofficial", help="Tencent's hyvideo/ (bench/hunyuan_loop_parity_prep.sh)")
        s.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--save-steps", default="", help="also keep the latents after these steps (comma list, 0-based)")
        s.add_argument("--curve-cache", default=None, help="official curve tables at 720p (peers/jengahy/curves_720p.pt)")
    c.add_argument("--tol", type=float, default=2e-2)
    c.add_argument("--official-wall-s", type=float, default=None, help="the official step's wall seconds (the script's)")
    c.add_argument("--ours-wall-s", type=float, default=None, help="our step's wall seconds with load (the script's)")
    a = ap.parse_args()
    if a.cmd != "plan" and not a.work:
        die(f"{a.cmd}: give --work")
    {"plan": cmd_plan, "official": cmd_official, "prepare": cmd_official, "compare": cmd_compare}[a.cmd](a)


if __name__ == "__main__":
    main()
