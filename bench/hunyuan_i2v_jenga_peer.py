#!/usr/bin/env python3
"""Peer: the OFFICIAL HunyuanVideo-I2V DiT forward and the OFFICIAL Jenga I2V forward
(`jenga_hyi2v.py`), timed per stage configuration at 720p x 125 frames, and the official DiT time
of the dense I2V loop and of Jenga Base estimated from those forwards (issue #25 point 6).

Same method as bench/hunyuan_jenga_peer.py (T2V), whose code this imports: one forward per
distinct stage configuration, counts of computed / reused forwards from the official step list,
  Jenga Base DiT time = sum over stages (computed x forward ms + skipped x skipped-step ms)
                        (jenga_hyi2v.py step_calc: 24 of 50 computed; drops 0.75 / 0.85, p 0.3)
  dense I2V DiT time  = 50 x one official I2V forward (every step computed).

Everything model-specific is the official code, loaded at run time (never copied here):
  --jenga (peers/jengahyi2v, dvlab-research/Jenga): hyvideo_i2v/modules/models_mul.py (the
    block-sparse token_replace DiT), attention_block_triton_diffres.py (AttenCarve mask builder +
    Triton kernel, 4 text blocks: 396 text rows zero-padded to 512), jenga_hyi2v.py's
    `ra_forward`, `build_multi_curve` and `step_calc` (taken out with `ast`),
    scripts/hyi2v_jenga_base.sh (the preset flags);
  --official (peers/hyi2vref, Tencent/HunyuanVideo-I2V): hyvideo/modules/models.py (the dense
    token_replace DiT with flash varlen attention).
Both are built with the published HYVideo-T/2 shapes (20 + 40 blocks, hidden 3072, 24 heads,
guidance embedding: `--embedded-cfg-scale 6.0`), in_channels 16 (token_replace). The official
model gets seeded random bf16 weights drawn on the device (bench/hunyuan_parity_peer.py's
randomize: matrices N(0, 1/fan_in), norms 1 + N(0, 0.01), biases N(0, 0.0025); the official init
would zero every modulation, i.e. every block's gates, and the final layer); the Jenga model is
made on the meta device and takes the SAME tensors (load_state_dict(assign=True), strict), so
one set of weights (25.6 GB) serves both.
Stood in for (the GPU machine lacks them): xfuser (import only), deepspeed and tensorboard
(imported by helpers.py for training only), diffusers' ModelMixin/ConfigMixin (plain nn.Module),
flash_attn: `flash_attn_func` (Jenga's 512 text query rows x all keys) -> torch SDPA (flash
backend), `flash_attn_varlen_func` (the official dense forward) -> SDPA per cu_seqlens segment
(--dense cudnn / flash: the SDPA backend; FA2 itself is not installed).

Inputs as the official I2V pipeline feeds its DiT: bf16 under bf16 autocast, batch 1 (cfg 1),
text states [1, 396, 4096] (144 image rows + 252 prompt rows; mask 1 on the 144 and on
--text-valid prompt rows), guidance bf16(6.0) x 1000, t 900, RoPE tables on the CPU (the
pipelines' get_rotary_pos_embed returns CPU tensors; every block copies them), latent
[1, 16, 32, H/8, W/8]. The Jenga side as jenga_hyi2v.py main() + the ProRes pipeline set it:
curve tables of the grid (neighbour matrix on the device), sa_drop_rate of the stage,
p_remain_rates 0.3, text_amp 0, cnt chosen so the timed forward is a computed step (clone +
residual kept) or a reused one (img += previous_residual).
--size: 1248x704 by default = the official 720p bucket of a 16:9 image (generate_crop_size_list
(960, 32), REFERENCE-hunyuan 7.1): token grid 32 x 44 x 78 = 109,824 = 858 blocks.

Output: JSON lines (`jenga_hyi2v_*`: plan, forwards, stages, estimate), the last ones the
estimates. --tiny: small model and grid for a CPU rehearsal (Triton interpreter).
"""
import argparse, importlib, os, sys, time, types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hunyuan_jenga_peer as JP  # noqa: E402
from hunyuan_parity_peer import randomize, rel_l2  # noqa: E402
from jenga_peer_timing import ForwardTimer, print_estimates, probe_density, rec  # noqa: E402

PREFIX = "jenga_hyi2v"
I2V_SCRIPTS = {"base": "scripts/hyi2v_jenga_base.sh"}
JENGA_FILES = ["jenga_hyi2v.py", "gilbert.py", "hyvideo_i2v/modules/models_mul.py",
               "hyvideo_i2v/modules/attention_block_triton_diffres.py", "scripts/hyi2v_jenga_base.sh"]
OFFICIAL_FILES = ["hyvideo/modules/models.py", "hyvideo/modules/attenion.py", "hyvideo/modules/posemb_layers.py"]
IMAGE_ROWS, PROMPT_ROWS = 144, 252  # the I2V text encoder's 396 states (REFERENCE-hunyuan 7.2)


def check_files(root, files, what):
    for f in files:
        if not os.path.isfile(os.path.join(root, f)):
            JP.die(f"{root}/{f}: missing (give {what}; bench/hunyuan_i2v_peers_prep.sh lays it out under peers/)")


def model_shapes(tiny):
    if tiny:
        cfg = dict(mm_double_blocks_depth=1, mm_single_blocks_depth=1, rope_dim_list=[16, 56, 56],
                   hidden_size=128, heads_num=1, mlp_width_ratio=2, guidance_embed=True)
        return cfg, dict(text_states_dim=64, text_states_dim_2=32)
    cfg = dict(mm_double_blocks_depth=20, mm_single_blocks_depth=40, rope_dim_list=[16, 56, 56],
               hidden_size=3072, heads_num=24, mlp_width_ratio=4, guidance_embed=True)
    return cfg, dict(text_states_dim=4096, text_states_dim_2=768)


def model_args(dims):
    """The argparse fields the I2V model classes read."""
    return types.SimpleNamespace(**dims, i2v_condition_type="token_replace", gradient_checkpoint=False,
                                 gradient_checkpoint_layers=-1)


def import_modules(root, pkg, torch, F, names):
    """root/pkg/modules/<name>.py for each name, pkg and its modules/utils as bare namespace
    packages (their __init__ files import the samplers), with the stand-ins installed."""
    JP.install_stubs(torch, F)
    JP.stub_training_imports()
    JP.namespace_packages(root, (pkg, f"{pkg}.modules", f"{pkg}.utils"))
    return [importlib.import_module(f"{pkg}.modules.{n}") for n in names]


def load_jenga_i2v(jenga, torch, F, dev):
    M, A, BS, P, MOD = import_modules(jenga, "hyvideo_i2v", torch, F, ("models_mul", "attenion",
                                      "attention_block_triton_diffres", "posemb_layers", "modulate_layers"))
    G = JP.import_gilbert(jenga)
    if dev == "cpu":
        JP.cpu_kernel_in_fp16(BS, torch)
    ns = JP.extract_jenga_functions(jenga, torch, G, JP.cu_seqlens_fn(A, torch, dev), script="jenga_hyi2v.py",
                                    steps_name="step_calc", extra=dict(ckpt_wrapper=MOD.ckpt_wrapper))
    return types.SimpleNamespace(M=M, A=A, BS=BS, P=P, ra_forward=ns["ra_forward"],
                                 build_multi_curve=ns["build_multi_curve"], step_calc=list(ns["step_calc"]))


def load_official_i2v(official, torch, F, dev):
    """Tencent's hyvideo package (a different name from Jenga's hyvideo_i2v: both load side by side)."""
    M, A, P = import_modules(official, "hyvideo", torch, F, ("models", "attenion", "posemb_layers"))
    M.get_cu_seqlens = JP.cu_seqlens_fn(A, torch, dev)  # the CPU one for the rehearsal; the official on the GPU
    return types.SimpleNamespace(M=M, A=A, P=P)


def build_models(J, O, torch, dev, tiny, seed):
    """The official dense model with random bf16 weights, and Jenga's block-sparse model holding
    the same tensors."""
    cfg, dims = model_shapes(tiny)
    torch.manual_seed(seed)
    s = time.perf_counter()
    off = O.M.HYVideoDiffusionTransformer(model_args(dims), in_channels=16, out_channels=16, **cfg,
                                          dtype=torch.bfloat16, device=dev)
    off = off.to(dev, torch.bfloat16).eval().requires_grad_(False)
    randomize(off, torch, seed, dev)  # the official init zeroes every modulation and the final layer
    build_s = time.perf_counter() - s
    jm = J.M.HYVideoDiffusionTransformer(model_args(dims), in_channels=16, out_channels=16, **cfg,
                                         dtype=torch.bfloat16, device="meta")
    bad = jm.load_state_dict(off.state_dict(), strict=False, assign=True)
    if bad.missing_keys or bad.unexpected_keys:
        JP.die(f"Jenga's I2V model and the official one differ in parameters (missing {bad.missing_keys[:4]}, "
               f"unexpected {bad.unexpected_keys[:4]}): the official files changed")
    left = [n for n, t in list(jm.named_parameters()) + list(jm.named_buffers()) if t.is_meta]
    if left:
        JP.die(f"Jenga's I2V model keeps meta tensors {left[:4]} after taking the official weights")
    jm = jm.eval().requires_grad_(False)
    rec(kind=f"{PREFIX}_model", params_b=round(sum(p.numel() for p in off.parameters()) / 1e9, 3),
        double=cfg["mm_double_blocks_depth"], single=cfg["mm_single_blocks_depth"], hidden=cfg["hidden_size"],
        build_s=round(build_s, 1), shared_weights=True)
    return off, jm, cfg, dims


def check_against_dense(torch, F, O, dev, off, jenga_call, run, inputs, st, dense):
    """Before the timings (about one dense and one full Jenga forward): Jenga's model with every block kept (sa_drop_rate 0, p 1: the mask is all ones) equals the
    official dense forward up to bf16 rounding and the text query rows, which in Jenga's attention
    also see the padding text rows; a wiring error (weights, token order, first-frame mask, inputs)
    shows as O(1)."""
    full = dict(st, drop=0.0, top_k=st["img_blocks"])
    torch.manual_seed(1)
    got = jenga_call(full, 1.0, True)()
    be = next((b for b in dense.split(",") if b), "flash")
    O.A.flash_attn_varlen_func = JP.dense_varlen(torch, F, be if dev == "cuda" else "math")
    torch.manual_seed(1)
    x, cos, sin = inputs(tuple(st["grid"]))  # the same x: jenga_call drew it after the same seed
    want = run(off, x, cos, sin)
    rel = rel_l2(got, want)
    rec(kind=f"{PREFIX}_check", what="jenga all blocks vs official dense", grid=st["grid"], rel_l2=round(rel, 5),
        ok=rel < 2e-2, out_rms=round(float(want.float().pow(2).mean().sqrt()), 4))
    if not rel < 2e-2:  # the timings still follow (they do not depend on it), flagged
        print(f"warning: Jenga's I2V forward with every block kept is {rel:.3g} from the official dense forward "
              "(> 2e-2): the two models are not fed the same way", file=sys.stderr, flush=True)


def parse_size(s):
    try:
        w, h = (int(v) for v in s.lower().split("x"))
    except ValueError:
        JP.die(f"--size {s}: expected WIDTHxHEIGHT, e.g. 1248x704")
    if w % 16 or h % 16:
        JP.die(f"--size {s}: width and height must be multiples of 16")
    return w, h


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jenga", required=True, help="official Jenga checkout (or peers/jengahyi2v)")
    ap.add_argument("--official", help="official HunyuanVideo-I2V checkout (or peers/hyi2vref); needed unless --plan-only/--curves-only")
    ap.add_argument("--size", default="1248x704", help="WIDTHxHEIGHT (default: the 720p bucket of a 16:9 image)")
    ap.add_argument("--dense", default="cudnn,flash", help="SDPA backends for the official dense forward, in order ('' = none)")
    JP.add_timing_args(ap)
    ap.add_argument("--text-valid", type=int, default=40, help="real prompt rows of the 252 (after the 144 image rows)")
    ap.add_argument("--check", action="store_true",
                    help="first: Jenga's forward keeping every block (drop 0, p 1) against the official dense forward "
                         "(same weights and inputs; rel L2 must be < 2e-2: the wiring is right)")
    a = ap.parse_args()
    t0 = time.perf_counter()
    if not os.path.isdir(a.jenga):
        JP.die(f"--jenga {a.jenga}: no such folder")
    if not 1 <= a.text_valid <= PROMPT_ROWS:
        JP.die(f"--text-valid {a.text_valid}: must be 1 .. {PROMPT_ROWS}")
    check_files(a.jenga, JENGA_FILES, "--jenga the official Jenga checkout or peers/jengahyi2v")
    W, H = parse_size(a.size)

    steps = JP.module_list(os.path.join(a.jenga, "jenga_hyi2v.py"), "step_calc")
    tiny_grid = (32, 8, 8) if a.tiny else None  # T=32: L_img % 128 == 0
    fl = JP.preset_flags(a.jenga, "base", I2V_SCRIPTS, size=[H, W])
    pl = JP.stage_plan(fl, steps, tiny_grid)
    plans = {"base": (fl, pl)}
    JP.emit_plan(PREFIX, "base", fl, pl)
    if any(st["tokens"] % 128 for st in pl["stages"]):
        JP.die(f"--size {a.size}: {pl['stages'][0]['tokens']} image tokens, not a multiple of 128 (Jenga's kernel pads none)")
    if a.plan_only:
        return
    if a.curves_only:
        import torch
        G = JP.import_gilbert(a.jenga)
        ns = JP.extract_jenga_functions(a.jenga, torch, G, None, script="jenga_hyi2v.py", steps_name="step_calc",
                                        extra=dict(ckpt_wrapper=None))  # ra_forward is not run here
        JP.official_curves(a, plans, ["base"], tiny_grid, torch, ns["build_multi_curve"])
        return
    if not a.official:
        JP.die("--official is required (the official HunyuanVideo-I2V checkout or peers/hyi2vref)")
    check_files(a.official, OFFICIAL_FILES, "--official the HunyuanVideo-I2V checkout or peers/hyi2vref")
    try:
        import einops  # noqa: F401  (the official blocks rearrange with it)
    except ImportError:
        JP.die("einops is not installed: carry .whl (bench/gpu_hunyuan_i2v_jenga.sh installs it)")

    torch, F, dev = JP.init_device(a.device)
    J = load_jenga_i2v(a.jenga, torch, F, dev)
    O = load_official_i2v(a.official, torch, F, dev)
    if J.step_calc != steps:
        JP.die("step_calc parsed twice differently")
    rec(kind=f"{PREFIX}_env", device=torch.cuda.get_device_name() if dev == "cuda" else "cpu", torch=torch.__version__,
        triton=__import__("triton").__version__, jenga=os.path.abspath(a.jenga), official=os.path.abspath(a.official),
        freqs_on=a.freqs_on, text_rows=IMAGE_ROWS + PROMPT_ROWS, text_valid=IMAGE_ROWS + a.text_valid)

    off, jm, cfg, dims = build_models(J, O, torch, dev, a.tiny, a.seed)
    Model = J.M.HYVideoDiffusionTransformer
    Model.forward = J.ra_forward  # as jenga_hyi2v.py main()
    Model.ra_forward = J.ra_forward
    curve_by_rate = JP.official_curves(a, plans, ["base"], tiny_grid, torch, J.build_multi_curve)
    T, LH, LW = curve_by_rate.pop("grid")
    for cs in curve_by_rate.values():  # as the pipeline: the neighbour matrix moves to the device once
        cs[0][-1] = cs[0][-1].to(dev)
    # class attributes as jenga_hyi2v.py main() sets them
    Model.enable_teacache, Model.cnt, Model.num_steps, Model.previous_residual = False, 0, fl["steps"], None
    Model.consistent_threshold, Model.start_stage, Model.text_amp = 0, False, 0.0
    Model.curve_sels = [curve_by_rate[r] for r in fl["res"]]
    Model.curve_sel, Model.sa_drop_rates, Model.p_remain_rates = None, fl["drops"], fl["p"]
    Model.scale_txt_amp = fl["scale_txt_amp"]

    n_txt = IMAGE_ROWS + PROMPT_ROWS
    txt = torch.randn(1, n_txt, dims["text_states_dim"], device=dev, dtype=torch.bfloat16)
    mask = torch.zeros(1, n_txt, device=dev, dtype=torch.long); mask[:, :IMAGE_ROWS + a.text_valid] = 1
    txt2 = torch.randn(1, dims["text_states_dim_2"], device=dev, dtype=torch.bfloat16)
    tt = torch.tensor([900.0], device=dev)
    g = torch.tensor([6.0], dtype=torch.float32, device=dev).to(torch.bfloat16) * 1000.0
    ac_dev = "cuda" if dev == "cuda" else "cpu"
    timer = ForwardTimer(torch, dev, a.budget_s, PREFIX, t0)

    def inputs(grid):
        t, h, w = grid
        cos, sin = J.P.get_nd_rotary_pos_embed([16, 56, 56], (t, h, w), theta=256, use_real=True, theta_rescale_factor=1)
        if a.freqs_on == "cuda":
            cos, sin = cos.to(dev), sin.to(dev)
        return torch.randn(1, 16, t, 2 * h, 2 * w, device=dev, dtype=torch.bfloat16), cos, sin

    def run(model, x, cos, sin):
        with torch.no_grad(), torch.autocast(ac_dev, dtype=torch.bfloat16):
            return model(x, tt, text_states=txt, text_mask=mask, text_states_2=txt2, freqs_cos=cos, freqs_sin=sin,
                         guidance=g, return_dict=False)

    def jenga_call(st, p, computed):
        """Jenga's model set up as the ProRes pipeline does for the stage; one forward per call."""
        cs = curve_by_rate[st["res"]]
        jm.curve_sel = cs
        jm.linear_to_hilbert, jm.hilbert_order = cs[0][0], cs[0][1]
        jm.sa_drop_rate, jm.p_remain_rates, jm.text_amp = st["drop"], p, st["text_amp"]
        x, cos, sin = inputs(st["grid"])
        jm.previous_residual = torch.zeros(1, st["tokens"], cfg["hidden_size"], device=dev, dtype=torch.bfloat16)
        cnt = 0 if computed else next(i for i in range(fl["steps"]) if i not in J.step_calc)
        assert (cnt in J.step_calc) == computed
        def call():
            jm.cnt, jm.start_stage = cnt, False
            return run(jm, x, cos, sin)
        return call

    configs, users = {}, {}
    key = lambda st: (tuple(st["grid"]), st["res"], st["drop"], st["p"], st["text_amp"])  # noqa: E731
    for st in pl["stages"]:
        configs.setdefault(key(st), st)
        users.setdefault(key(st), []).append(f"base/s{st['stage']}")
    measured, floor, skip_ms, dense = {}, {}, {}, {}

    def time_sparse(k, p_override=None, tag="sparse"):
        st = configs[k]
        p = st["p"] if p_override is None else p_override
        return timer.forward(tag, st["tokens"], lambda: jenga_call(st, p, True), dict(
            grid=st["grid"], img_blocks=st["img_blocks"], drop=st["drop"], top_k=st["top_k"], p=p,
            text_amp=st["text_amp"], freqs_on=a.freqs_on, used_by=users[k]), probe=lambda: probe_density(J.BS))

    def time_dense(be):
        def prepare():
            O.A.flash_attn_varlen_func = JP.dense_varlen(torch, F, be if dev == "cuda" else "math")
            x, cos, sin = inputs((T, LH, LW))
            return lambda: run(off, x, cos, sin)
        r = timer.forward("dense", T * LH * LW, prepare, dict(sdpa=be, grid=[T, LH, LW], model="official HunyuanVideo-I2V",
                                                              freqs_on=a.freqs_on), est_factor=3.0)
        if r:
            dense[be] = r["ms"]

    backends = [b for b in a.dense.split(",") if b]
    with timer.interruptible():
        if a.check:
            check_against_dense(torch, F, O, dev, off, jenga_call, run, inputs, pl["stages"][0], a.dense)
        for st in pl["stages"]:  # reused-step forwards (blocks not run), one per grid
            grid = tuple(st["grid"])
            if grid not in skip_ms:
                skip_ms[grid], reps = timer.median_ms(jenga_call(st, st["p"], False), a.skip_reps)
                rec(kind=f"{PREFIX}_forward", what="skipped", grid=list(grid), tokens=st["tokens"],
                    ms=round(skip_ms[grid], 2), reps=reps, peak_gb=timer.peak())
        for k in configs:  # Jenga Base's stages, in order
            measured[k] = time_sparse(k)
        for be in backends[:1]:  # the official dense forward (the first backend) before the optional extras
            time_dense(be)
        if a.p_floor:
            for k in configs:
                floor[k] = time_sparse(k, p_override=0.0, tag="sparse_p0")
        for be in backends[1:]:
            time_dense(be)

    print_estimates(PREFIX, plans, key, measured, floor, skip_ms, users, dense, "official HunyuanVideo-I2V")
    rec(kind=f"{PREFIX}_done", s=round(time.perf_counter() - t0, 1))


if __name__ == "__main__":
    main()
