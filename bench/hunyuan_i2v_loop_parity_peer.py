#!/usr/bin/env python3
"""Peer of bench/gpu_hunyuan_i2v_loop_parity.sh (issue #25 point 5 at full size): the OFFICIAL
HunyuanVideo-I2V sampling loop, dense and Jenga Base, on one random checkpoint with the official
key names, against `jenga debug denoise --i2v` on the same files; final latents within 2e-2.

Subcommands (each its own process):
  prepare   WORK/dit.safetensors: seeded random bf16 weights (bench/hunyuan_parity_peer.py's
            randomize) in the official HYVideo-T/2 I2V model (token_replace, 16 channels, guidance
            embedding), official key names (reused when its metadata matches); WORK/inputs.safetensors
            (noise [16, T, H, W], image_latent [16, 1, H, W], context [396, 4096] with context_valid
            = 144 image rows + --text-valid prompt rows, pooled [768]; bf16-representable values
            stored as f32, fed identically to both sides).
  official  the official loop on those files, WORK/official_<preset>.safetensors (latents):
              latents = noise; --i2v-stability: latents = 0.999 noise + 0.001 image_latent
              every step: latents = cat(image_latent, latents[:, :, 1:]);
                          v = DiT(latents, t) (bf16 weights, bf16 autocast, embedded guidance 6.0);
                          latents = cat(image_latent, scheduler.step(v[:, :, 1:], t, latents[:, :, 1:]))
            with the official FlowMatchDiscreteScheduler (flow-reverse, Euler; its file from --official).
            dense: Tencent's HYVideoDiffusionTransformer (flash varlen -> SDPA flash per segment).
            base: Jenga's I2V model (hyvideo_i2v/modules/models_mul.py) on the same tensors with
            jenga_hyi2v.py's ra_forward: step_calc reuse (24 of 50 computed), sa_drop_rate 0.75 then
            0.85 after step int(50 * 0.5), p 0.3, text_amp 0, the official Triton kernel
            (pipeline_hunyuan_video_prores.py's loop at res 1.0 / 1.0: the drop changes, nothing else).
  compare   rel L2 of WORK/ours_<preset> against WORK/official_<preset> (all frames, and frames
            1.. alone: frame 0 is the image latent on both sides); pass < --tol (2e-2).
Guidance: the official pipelines feed tensor([6.0]).to(bf16) * 1000.0 = 6016 (a bf16 product);
jenga feeds the same 6016 (hunyuan_guidance_value; it fed 6000 before, and the timestep sinusoids of
6000 and 6016 differ in every high-frequency channel: 2.4e-1 on the CPU tiny model's dense loop).
--guidance picks the official side's value (f32: 6000, the official code at fp32).
The latents stay f32 between steps on both sides (the official pipeline keeps them in the text
encoder's dtype, fp16; its scheduler steps in f32). Stood in for: as bench/hunyuan_i2v_jenga_peer.py.
--size tiny: a small model and grid for the CPU rehearsal (f32, Triton interpreter).
"""
import argparse, json, math, os, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "golden"))
import hunyuan_jenga_peer as JP  # noqa: E402
import hunyuan_i2v_jenga_peer as IP  # noqa: E402
from hunyuan_parity_peer import randomize, rel_l2  # noqa: E402
from jenga_peer_timing import rec  # noqa: E402

PREFIX = "hyi2v_loop"
GUIDANCE = 6.0
SIZES = {  # latent [T, H, W] (pixels: 4(T-1)+1 frames, 8H x 8W), text_valid prompt rows
    "full": dict(latent=(32, 88, 156), tiny=False),   # 1248x704x125: the official 720p bucket of a 16:9 image
    "tiny": dict(latent=(32, 16, 16), tiny=True),     # 32x8x8 tokens: 16 blocks of 128
}


def paths(work):
    return {k: os.path.join(work, f"{k}.safetensors") for k in ("dit", "inputs")}


def cmd_prepare(a):
    from safetensors.torch import save_file, safe_open
    torch, F, dev = JP.init_device(a.device)
    O = IP.load_official_i2v(a.official, torch, F, dev)
    cfg, dims = IP.model_shapes(SIZES[a.size]["tiny"])
    p = paths(a.work)
    os.makedirs(a.work, exist_ok=True)
    tag = json.dumps({"size": a.size, "seed": a.seed, "init": "hyparity-1", "model": "hyi2v token_replace"})
    t0 = time.perf_counter()
    if os.path.isfile(p["dit"]):
        with safe_open(p["dit"], "pt") as f:
            if (f.metadata() or {}).get("hyi2v") == tag:
                rec(kind=f"{PREFIX}_weights", how="reused", gb=round(os.path.getsize(p["dit"]) / 1e9, 2))
                return write_inputs(a, torch, dims)
    off = O.M.HYVideoDiffusionTransformer(IP.model_args(dims), in_channels=16, out_channels=16, **cfg,
                                          dtype=torch.bfloat16, device=dev).to(dev, torch.bfloat16)
    off = off.eval().requires_grad_(False)
    randomize(off, torch, a.seed, dev)
    t1 = time.perf_counter()
    save_file({k: v.contiguous() for k, v in off.state_dict().items()}, p["dit"], metadata={"hyi2v": tag})
    rec(kind=f"{PREFIX}_weights", how="drawn", size=a.size, seed=a.seed,
        params_b=round(sum(q.numel() for q in off.parameters()) / 1e9, 3), make_s=round(t1 - t0, 1),
        save_s=round(time.perf_counter() - t1, 1), gb=round(os.path.getsize(p["dit"]) / 1e9, 2))
    write_inputs(a, torch, dims)


def write_inputs(a, torch, dims):
    from safetensors.torch import save_file
    g = torch.Generator().manual_seed(a.seed + 1)
    bf = lambda *s: torch.randn(*s, generator=g).to(torch.bfloat16).float()  # noqa: E731
    T, H, W = SIZES[a.size]["latent"]
    valid = IP.IMAGE_ROWS + a.text_valid
    inp = {"noise": bf(16, T, H, W), "image_latent": bf(16, 1, H, W),
           "context": bf(IP.IMAGE_ROWS + IP.PROMPT_ROWS, dims["text_states_dim"]),
           "context_valid": torch.tensor([float(valid)]), "pooled": bf(dims["text_states_dim_2"])}
    save_file({k: v.contiguous() for k, v in inp.items()}, paths(a.work)["inputs"])
    rec(kind=f"{PREFIX}_inputs", latent=[16, T, H, W], text_rows=IP.IMAGE_ROWS + IP.PROMPT_ROWS, valid=valid)


def cmd_official(a):
    from safetensors.torch import load_file, save_file
    from hunyuan_i2v_dit_golden import official_scheduler
    torch, F, dev = JP.init_device(a.device)
    p = paths(a.work)
    for f in p.values():
        if not os.path.isfile(f):
            JP.die(f"{f}: missing (run the prepare step first, on this machine: WORK is kept with KEEP=1)")
    J = IP.load_jenga_i2v(a.jenga, torch, F, dev) if a.preset == "base" else None
    O = IP.load_official_i2v(a.official, torch, F, dev)
    O.A.flash_attn_varlen_func = JP.dense_varlen(torch, F, "flash" if dev == "cuda" else "math")
    cfg, dims = IP.model_shapes(SIZES[a.size]["tiny"])
    t0 = time.perf_counter()
    off = O.M.HYVideoDiffusionTransformer(IP.model_args(dims), in_channels=16, out_channels=16, **cfg,
                                          dtype=torch.bfloat16, device="meta")
    off.load_state_dict(load_file(p["dit"], device=dev), strict=True, assign=True)
    off = off.eval().requires_grad_(False)
    inp = load_file(p["inputs"])
    load_s = time.perf_counter() - t0
    model, steps_calc, fl = off, None, None
    if a.preset == "base":
        model, steps_calc, fl = jenga_model(a, torch, J, off, cfg, dims, dev)
        steps, shift = fl["steps"], a.shift if a.shift is not None else fl["flow_shift"]
    else:
        steps, shift = a.steps, a.shift if a.shift is not None else 7.0
    sched = official_scheduler(a.official, shift, steps)
    noise = inp["noise"].to(dev).unsqueeze(0)
    img = inp["image_latent"].to(dev).unsqueeze(0)
    T, H, W = noise.shape[2:]
    txt = inp["context"].to(dev, torch.bfloat16).unsqueeze(0)
    mask = torch.zeros(1, txt.shape[1], dtype=torch.long, device=dev); mask[:, :int(inp["context_valid"][0])] = 1
    txt2 = inp["pooled"].to(dev, torch.bfloat16).unsqueeze(0)
    cos, sin = O.P.get_nd_rotary_pos_embed([16, 56, 56], (T, H // 2, W // 2), theta=256, use_real=True,
                                           theta_rescale_factor=1)  # on the CPU, as the pipelines keep them
    if a.guidance == "official":  # the pipelines' tensor([6.0]).to(bf16) * 1000.0: a bf16 product, 6016
        guidance = torch.tensor([GUIDANCE], dtype=torch.float32, device=dev).to(torch.bfloat16) * 1000.0
    else:  # 6000 in f32: what the official code computes at --precision fp32
        guidance = torch.tensor([GUIDANCE * 1000.0], dtype=torch.float32, device=dev)
    latents = noise.clone()
    if a.i2v_stability:
        t = torch.tensor([0.999], device=dev)
        latents = latents * t + img.repeat(1, 1, T, 1, 1) * (1 - t)
    ac = torch.autocast("cuda" if dev == "cuda" else "cpu", dtype=torch.bfloat16)
    split = [int(steps * r) for r in fl["step_rates"]] if fl else []
    computed, s = 0, time.perf_counter()
    with torch.no_grad():
        for i, tt in enumerate(sched.timesteps):
            if a.stop_after and i >= a.stop_after:  # the first steps of the whole schedule (a call's time)
                break
            latents = torch.cat([img, latents[:, :, 1:]], dim=2)
            with ac:
                v = model(latents, tt.repeat(1).to(dev), text_states=txt, text_mask=mask, text_states_2=txt2,
                          freqs_cos=cos, freqs_sin=sin, guidance=guidance, return_dict=True)["x"]
            computed += 1 if steps_calc is None or i in steps_calc else 0
            latents = sched.step(v[:, :, 1:].float(), tt, latents[:, :, 1:], return_dict=False)[0]
            latents = torch.cat([img, latents], dim=2)
            if i in split[:-1]:  # the ProRes pipeline after step i: the next stage's drop rate
                model.sa_drop_rate = fl["drops"][split.index(i) + 1]
            if i in a.save_steps:  # a checkpoint that survives a call cut off by its time limit
                save_file({"latents": latents[0].float().cpu().contiguous()},
                          os.path.join(a.work, f"official_{a.preset}_step{i}.safetensors"))
    if dev == "cuda":
        torch.cuda.synchronize()
    loop_s = time.perf_counter() - s
    out = os.path.join(a.work, f"official_{a.preset}.safetensors")
    save_file({"latents": latents[0].float().cpu().contiguous()}, out)
    rec(kind=f"{PREFIX}_official", preset=a.preset, steps=steps, stop_after=a.stop_after or steps, shift=shift,
        stability=a.i2v_stability,
        guidance=float(guidance.float()[0]),
        computed=computed, latent=list(latents.shape[1:]), load_s=round(load_s, 1), loop_s=round(loop_s, 1),
        finite=bool(torch.isfinite(latents).all()), rms=round(float(latents.pow(2).mean().sqrt()), 4),
        device=torch.cuda.get_device_name() if dev == "cuda" else "cpu", out=out)


def jenga_model(a, torch, J, off, cfg, dims, dev):
    """Jenga's I2V model on the official model's tensors, set up as jenga_hyi2v.py main() and the
    ProRes pipeline set it for Base (one curve; the preset flags from its script)."""
    size = [d * 8 for d in SIZES[a.size]["latent"][1:]]
    fl = JP.preset_flags(a.jenga, "base", IP.I2V_SCRIPTS, size=size)
    f = JP.read_script_flags(os.path.join(a.jenga, IP.I2V_SCRIPTS["base"]))
    fl["flow_shift"] = float(f["flow-shift"][0])
    jm = J.M.HYVideoDiffusionTransformer(IP.model_args(dims), in_channels=16, out_channels=16, **cfg,
                                         dtype=torch.bfloat16, device="meta")
    jm.load_state_dict(off.state_dict(), strict=True, assign=True)
    jm = jm.eval().requires_grad_(False)
    M = J.M.HYVideoDiffusionTransformer
    M.forward = M.ra_forward = J.ra_forward
    T, H, W = SIZES[a.size]["latent"]
    import io, contextlib
    with contextlib.redirect_stdout(io.StringIO()):  # gilbert prints progress lines
        curve_sels = J.build_multi_curve(T, H // 2, W // 2, fl["res"])
    cs = curve_sels[0]
    cs[0][-1] = cs[0][-1].to(dev)
    M.enable_teacache, M.cnt, M.num_steps, M.previous_residual = False, 0, fl["steps"], None
    M.consistent_threshold, M.start_stage, M.text_amp = 0, True, 0.0
    M.curve_sels, M.sa_drop_rates, M.p_remain_rates, M.scale_txt_amp = curve_sels, fl["drops"], fl["p"], fl["scale_txt_amp"]
    jm.curve_sel = cs
    jm.linear_to_hilbert, jm.hilbert_order = cs[0][0], cs[0][1]
    jm.sa_drop_rate = fl["drops"][0]
    jm.text_amp = -1 * math.log(math.sqrt(1.0), 2) * fl["scale_txt_amp"]  # one resolution: 0
    rec(kind=f"{PREFIX}_jenga_setup", steps=fl["steps"], drops=fl["drops"], p=fl["p"], flow_shift=fl["flow_shift"],
        computed_steps=[i for i in J.step_calc if i < fl["steps"]], blocks=int(cs[0][2].shape[0]))
    return jm, set(J.step_calc), fl


def cmd_compare(a):
    from safetensors.torch import load_file
    ok = True
    for preset in a.presets.split(","):
        o, u = (os.path.join(a.work, f"{w}_{preset}.safetensors") for w in ("official", "ours"))
        if a.official_step is not None:  # an official checkpoint (official --save-steps) against ours step_<i>
            o = os.path.join(a.work, f"official_{preset}_step{a.official_step}.safetensors")
        if not (os.path.isfile(o) and os.path.isfile(u)):
            rec(kind=f"{PREFIX}_compare", preset=preset, missing=[f for f in (o, u) if not os.path.isfile(f)])
            ok = False
            continue
        want, got = load_file(o)["latents"], load_file(u)[a.ours_key]
        if want.shape != got.shape:
            JP.die(f"{preset}: official {tuple(want.shape)} vs ours {tuple(got.shape)}")
        r_all, r_moving = rel_l2(got, want), rel_l2(got[:, 1:], want[:, 1:])
        passed = r_all < a.tol
        ok &= passed
        rec(kind=f"{PREFIX}_compare", preset=preset, ours_key=a.ours_key, rel_l2=round(r_all, 5), rel_l2_frames_1_on=round(r_moving, 5),
            frame0_equal=bool((got[:, :1] == want[:, :1]).all()), tol=a.tol, passed=passed)
        print(f"{preset} ({a.ours_key}): latents rel L2 {r_all:.3e} (frames 1.. {r_moving:.3e}); tol {a.tol}: "
              f"{'PASS' if passed else 'FAIL'}", flush=True)
    sys.exit(0 if ok else 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cmd", choices=["prepare", "official", "compare"])
    ap.add_argument("--work", required=True)
    ap.add_argument("--official", help="HunyuanVideo-I2V checkout or peers/hyi2vref")
    ap.add_argument("--jenga", help="Jenga checkout or peers/jengahyi2v (official base)")
    ap.add_argument("--size", default="full", choices=list(SIZES))
    ap.add_argument("--device", default=None)
    ap.add_argument("--preset", default="dense", choices=["dense", "base"])
    ap.add_argument("--presets", default="dense,base", help="compare: which")
    ap.add_argument("--steps", type=int, default=50, help="dense: sampling steps (base: the script's 50)")
    ap.add_argument("--shift", type=float, default=None, help="flow shift (default: base the script's 5.0, dense 7)")
    ap.add_argument("--i2v-stability", action="store_true", help="the 0.999 blend (the Base script passes it)")
    ap.add_argument("--text-valid", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tol", type=float, default=2e-2)
    ap.add_argument("--stop-after", type=int, default=0,
                    help="official: stop after this many steps of the whole schedule (0: all); the Base script's "
                         "50-step schedule, step list and drop switch stay as they are")
    ap.add_argument("--save-steps", type=lambda v: {int(x) for x in v.split(",") if x}, default=set(),
                    help="official: also save the latents after these steps (comma list) to "
                         "official_<preset>_step<i>.safetensors, kept if the call is cut off")
    ap.add_argument("--official-step", type=int, default=None,
                    help="compare: the official checkpoint after this step instead of the final latents")
    ap.add_argument("--ours-key", default="latents",
                    help="compare: our tensor to compare (latents, or step_<i> from jenga debug denoise --save-steps)")
    ap.add_argument("--guidance", default="official", choices=["official", "f32"],
                    help="official: bf16(6.0) x 1000 in bf16 = 6016, as the I2V pipelines at their default bf16 "
                         "precision (what jenga feeds its DiT); f32: 6000 (the official code at fp32)")
    a = ap.parse_args()
    if a.cmd in ("prepare", "official") and not a.official:
        JP.die(f"{a.cmd}: --official is required (peers/hyi2vref from bench/hunyuan_i2v_peers_prep.sh)")
    if a.cmd == "official" and a.preset == "base" and not a.jenga:
        JP.die("official --preset base: --jenga is required (peers/jengahyi2v)")
    {"prepare": cmd_prepare, "official": cmd_official, "compare": cmd_compare}[a.cmd](a)


if __name__ == "__main__":
    main()
