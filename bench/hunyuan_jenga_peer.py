#!/usr/bin/env python3
"""Peer: the OFFICIAL Jenga HunyuanVideo DiT forward, timed per stage configuration of the official
presets, and the official DiT time per preset estimated from those forwards (issue #24 point 5).

A whole official run (50 steps at 720x1280x125) outlasts one 10-minute GPU call, so this times one
forward per distinct stage configuration (token grid, sa_drop_rate, p_remain_rates, text_amp) and
counts the forwards of each stage from the official step-reuse list and step-rate list:
  preset DiT time = sum over stages (computed forwards x forward ms + skipped forwards x skipped ms).

Everything Jenga-specific is the official code, loaded at run time from --jenga (never copied here):
  - hyvideo/modules/models_mul_block_gc_ha_multigpu.py: HYVideoDiffusionTransformer with the block-
    sparse blocks, imported without the package __init__ (which pulls the whole pipeline);
  - hyvideo/modules/attention_block_triton_diffres.py: the AttenCarve mask builder + Triton kernel;
  - jenga_hyvideo.py: `ra_forward`, `build_multi_curve` and `non_skip_steps`, taken out of the file
    with `ast` and exec'd (the file's own imports pull the sampler, loguru, diffusers pipelines);
  - scripts/*.sh: the preset flags (sa-drop-rates, p-remain-rates, res/step-rate lists, steps).
Stood in for (the GPU machine lacks them): xfuser (import only; single GPU never calls it),
diffusers' ModelMixin/ConfigMixin/register_to_config (plain nn.Module / no-op), flash_attn:
`flash_attn_func` (text query rows, 256 x all keys) -> torch SDPA (flash backend, FA2-based), and
`flash_attn_varlen_func` (dense steps only) -> SDPA per cu_seqlens segment as the lead's anchor
(shared/peer-bench/anchor_hunyuan_step.py). einops is the real package (carry its wheel).

What the official pipeline does that this reproduces: bf16 weights under bf16 autocast, batch 1
(cfg 1), 256 text tokens (--text-valid of them unmasked), guidance 6.0 x 1000, curve tables of the
current stage with the neighbour matrix on the GPU and L2H/H2L on the CPU, RoPE tables on the CPU
(HunyuanVideoPipelineProRes.get_rotary_pos_embed returns CPU tensors: every block copies them to the
GPU, as in the official run; --freqs-on cuda changes that), enable_skip True with cnt set so the
timed forward is a computed step (it clones img and keeps the residual, as a computed step does).
Random weights decide the top-p part of the mask (p keeps blocks until their pooled-softmax mass
reaches p): the density is reported; --p-floor also times every configuration at p = 0 (top_k +
neighbours + text only, the density floor) as a bound that does not depend on the weights.

Output: JSON lines (plan per preset, one line per configuration timed, one per preset stage, one
estimate per preset). --tiny: a small model and grid for a CPU rehearsal (Triton interpreter).
"""
import argparse, ast, contextlib, importlib, math, os, re, sys, time, types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from jenga_peer_timing import ForwardTimer, print_estimates, probe_density, rec  # noqa: E402

PRESET_SCRIPTS = {  # preset -> official script (single GPU); AccVideo = Turbo flags at 5 steps
    "base": "scripts/hyvideo_jenga_base.sh",
    "turbo": "scripts/hyvideo_jenga_turbo.sh",
    "flash": "scripts/hyvideo_jenga_flash.sh",
    "3stage": "scripts/hyvideo_jenga_3stage.sh",
    "accvideo": "scripts/accvideo_jenga.sh",
}


def die(msg):
    print(f"error: {msg}", file=sys.stderr, flush=True)
    sys.exit(2)


# ---------------------------------------------------------------------------------------------
# Preset flags from the official scripts and the stage plan (pure Python: no torch needed)
# ---------------------------------------------------------------------------------------------
def read_script_flags(path):
    """`--flag v1 v2 ...` pairs of an official shell script (line continuations joined)."""
    text = open(path).read().replace("\\\n", " ")
    flags = {}
    for m in re.finditer(r"--([a-z0-9-]+)((?:\s+(?!--)[^\s\\]+)*)", text):
        vals = [v.strip('"\'') for v in m.group(2).split()]
        flags[m.group(1)] = vals
    return flags


def preset_flags(jenga, name, scripts=PRESET_SCRIPTS, size=None):
    """size: [H, W] where the script has no --video-size (I2V: the image's bucket decides)."""
    path = os.path.join(jenga, scripts[name])
    if not os.path.isfile(path):
        die(f"{path}: no such file (give --jenga the official Jenga checkout or the folder laid out by "
            "bench/hunyuan_jenga_peers_prep.sh / bench/hunyuan_i2v_peers_prep.sh)")
    f = read_script_flags(path)
    if size:
        f["video-size"] = [str(v) for v in size]
    need = ["sa-drop-rates", "res-rate-list", "step-rate-list", "infer-steps", "video-size", "video-length"]
    miss = [k for k in need if k not in f]
    if miss:
        die(f"{path}: flags {miss} not found: the official script changed; update PRESET_SCRIPTS/read_script_flags")
    return dict(
        script=scripts[name],
        drops=[float(v) for v in f["sa-drop-rates"]],
        p=float(f.get("p-remain-rates", ["0.5"])[0]),  # config.py default 0.5
        res=[float(v) for v in f["res-rate-list"]],
        step_rates=[float(v) for v in f["step-rate-list"]],
        shifts=[int(v) for v in f.get("scheduler-shift-list", ["7"])],
        steps=int(f["infer-steps"][0]),
        size=[int(v) for v in f["video-size"]],
        frames=int(f["video-length"][0]),
        scale_txt_amp=float(f.get("scale-txt-amp", ["1.0"])[0]),  # config.py default 1.0
    )


def stage_plan(fl, non_skip_steps, grid_override=None):
    """Walks the official ProRes loop (pipeline_hunyuan_video_prores.py __call__ + ra_forward's skip
    rule) without running the model: per stage its token grid, top_k, text_amp and which steps are
    computed or skipped. grid_override: (T, h, w) full-res token grid for --tiny."""
    N = fl["steps"]
    H_px, W_px = fl["size"]
    T = 1 + (fl["frames"] - 1) // 4                     # pipeline: latent_time
    assert T == (fl["frames"] + 3) // 4                 # jenga_hyvideo.py: same for 4k+1 frames
    if grid_override:
        T, h_full, w_full = grid_override
        grids = [(T, int(h_full * r), int(w_full * r)) for r in fl["res"]]  # build_multi_curve's rule
    else:
        # pipeline: token grid of stage s = (T, int(H_px r)//16, int(W_px r)//16);
        # build_multi_curve: (T, int(H_px//16 * r), int(W_px//16 * r)); they must agree
        grids = [(T, int(H_px * r) // 16, int(W_px * r) // 16) for r in fl["res"]]
        curve = [(T, int(H_px // 16 * r), int(W_px // 16 * r)) for r in fl["res"]]
        if grids != curve:
            die(f"pipeline grids {grids} != build_multi_curve grids {curve}")
        h_full, w_full = grids[-1][1], grids[-1][2]
    split = [int(N * q) for q in fl["step_rates"]]
    token_diff = (grids[0][1] * grids[0][2]) / (h_full * w_full)
    text_amp = -1 * math.log(math.sqrt(token_diff), 2) * fl["scale_txt_amp"]
    stages = [dict(stage=0, res=fl["res"][0], grid=list(grids[0]), drop=fl["drops"][0], text_amp=text_amp,
                   shift=fl["shifts"][0], steps=[], computed=[], skipped=[])]
    cnt, start_stage, s = 0, True, 0
    for i in range(N):
        st = stages[-1]
        st["steps"].append(i)
        calc = cnt in non_skip_steps or start_stage     # ra_forward (enable_skip True)
        if calc:
            start_stage = False
        (st["computed"] if calc else st["skipped"]).append(i)
        cnt += 1
        if cnt == N:
            cnt = 0
        if i in split:                                  # the stage switch after step i
            s += 1
            if fl["res"][s - 1] != 1.0:                 # resolution change: new tables, text_amp 0, start_stage
                text_amp, start_stage, shift = 0.0, True, fl["shifts"][s]
            else:                                       # same grid: only sa_drop_rate changes
                shift = st["shift"]
            stages.append(dict(stage=s, res=fl["res"][s], grid=list(grids[s]), drop=fl["drops"][s],
                               text_amp=text_amp, shift=shift, steps=[], computed=[], skipped=[]))
    stages = [st for st in stages if st["steps"]]
    for st in stages:
        t, h, w = st["grid"]
        st["tokens"] = t * h * w
        st["img_blocks"] = st["tokens"] // 128
        # models_mul_block_gc_ha_multigpu.py: int((1-sa_drop_rate) * img_block_num), Python floats
        st["top_k"] = int((1 - st["drop"]) * st["img_blocks"])
        st["p"] = fl["p"]
        st["text_amp"] = round(st["text_amp"], 6) + 0.0  # -0.0 -> 0.0
    return dict(N=N, split=split, stages=stages)


def module_list(src, name):
    """The last literal list assigned to `name` at module level of src (as at import)."""
    if not os.path.isfile(src):
        die(f"{src}: missing")
    val = None
    for n in ast.parse(open(src).read()).body:
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == name:
            with contextlib.suppress(ValueError):
                val = ast.literal_eval(n.value)
    if val is None:
        die(f"{src}: no literal {name} list: the official file changed")
    return val


def add_timing_args(ap):
    """The options both timing peers (T2V, I2V) take."""
    ap.add_argument("--tiny", action="store_true", help="small model and grid (CPU rehearsal)")
    ap.add_argument("--device", default=None, help="cuda (default when present) or cpu")
    ap.add_argument("--plan-only", action="store_true", help="print the derived stage plans and stop (no torch model)")
    ap.add_argument("--p-floor", action="store_true", help="also time every sparse configuration at p = 0 (density floor)")
    ap.add_argument("--freqs-on", default="cpu", choices=["cpu", "cuda"], help="where the RoPE tables live (official: cpu)")
    ap.add_argument("--skip-reps", type=int, default=5, help="timed repetitions of a skipped-step forward (median)")
    ap.add_argument("--budget-s", type=float, default=1e9, help="skip configurations once this many seconds are spent")
    ap.add_argument("--curves-only", action="store_true", help="build --curve-cache and stop (no model, no GPU)")
    ap.add_argument("--curve-cache", default=None, help="torch.save file of build_multi_curve's tables (made if absent)")
    ap.add_argument("--seed", type=int, default=0)


def emit_plan(prefix, p, fl, pl):
    rec(kind=f"{prefix}_plan", preset=p, script=fl["script"], steps=pl["N"], split=pl["split"], p_remain=fl["p"],
        stages=[{k: st[k] for k in ("stage", "res", "grid", "tokens", "img_blocks", "drop", "top_k", "text_amp", "shift")}
                | {"steps": f"{st['steps'][0]}..{st['steps'][-1]}", "computed": len(st["computed"]),
                   "skipped": len(st["skipped"]), "computed_steps": st["computed"]} for st in pl["stages"]])


# ---------------------------------------------------------------------------------------------
# Loading the official code
def init_device(requested):
    """(torch, F, device): cuda when present unless --device says otherwise; on the CPU the Triton
    interpreter (set before triton is imported) and a no-op torch.cuda.device."""
    import torch
    dev = requested or ("cuda" if torch.cuda.is_available() else "cpu")
    if dev == "cpu" and "TRITON_INTERPRET" not in os.environ:
        os.environ["TRITON_INTERPRET"] = "1"  # before triton is imported: kernels run on the CPU
    import torch.nn.functional as F
    if dev == "cuda" and not torch.cuda.is_available():
        die("--device cuda but torch sees no GPU")
    if dev == "cpu":
        # the official kernel launch sits in `with torch.cuda.device(q.device)`, which refuses a CPU
        # device; CPU rehearsal only: a no-op context
        torch.cuda.device = lambda d: contextlib.nullcontext()
    return torch, F, dev


def cpu_kernel_in_fp16(BS, torch):
    """CPU rehearsal only: Triton's interpreter computes the official kernel wrongly in bf16 (rel
    error ~1e10 against SDPA; fp16 matches to 6e-4), so there its q/k/v go in as fp16 and the
    output comes back as bf16. The GPU runs the official kernel unchanged."""
    kernel = BS._triton_block_sparse_attention_onehot
    def fp16_kernel(q, k, v, *args, **kw):
        if q.dtype != torch.bfloat16 or q.is_cuda:
            return kernel(q, k, v, *args, **kw)
        return kernel(q.half(), k.half(), v.half(), *args, **kw).to(torch.bfloat16)
    BS._triton_block_sparse_attention_onehot = fp16_kernel


def namespace_packages(root, names):
    """Bare namespace packages (name -> root/name with dots as folders): the official __init__
    files import the sampler and every model variant; the blocks need only their relative imports."""
    for name in names:
        m = types.ModuleType(name); m.__path__ = [os.path.join(root, *name.split("."))]
        sys.modules[name] = m


def cu_seqlens_fn(A, torch, device):
    """The official get_cu_seqlens of attention module A; on the CPU (it allocates on "cuda"
    unconditionally) the same computation on the CPU, for the rehearsal only."""
    if device == "cuda":
        return A.get_cu_seqlens
    def get_cu(text_mask, img_len):
        n = text_mask.sum(dim=1)
        out = torch.zeros(2 * text_mask.shape[0] + 1, dtype=torch.int32)
        L = text_mask.shape[1] + img_len
        for i in range(text_mask.shape[0]):
            out[2 * i + 1] = i * L + n[i] + img_len; out[2 * i + 2] = (i + 1) * L
        return out
    return get_cu


def stub_training_imports():
    """hyvideo*/utils/helpers.py of the I2V trees imports deepspeed and tensorboard for training
    only (the GPU machine has neither)."""
    sys.modules.setdefault("deepspeed", types.ModuleType("deepspeed"))
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        tb = types.ModuleType("torch.utils.tensorboard")
        tb.SummaryWriter = object
        sys.modules["torch.utils.tensorboard"] = tb

# ---------------------------------------------------------------------------------------------
def install_stubs(torch, F):
    """Modules the GPU machine lacks; only what the imported official files touch."""
    xf = types.ModuleType("xfuser"); xfc = types.ModuleType("xfuser.core"); xfd = types.ModuleType("xfuser.core.distributed")
    def _no_sp(*a, **k):
        raise RuntimeError("xfuser stub: sequence parallelism is not used by this single-GPU peer")
    xfd.get_sequence_parallel_world_size = xfd.get_sequence_parallel_rank = xfd.get_sp_group = _no_sp
    xf.core, xfc.distributed = xfc, xfd
    sys.modules.update({"xfuser": xf, "xfuser.core": xfc, "xfuser.core.distributed": xfd})

    d = types.ModuleType("diffusers"); dm = types.ModuleType("diffusers.models"); dc = types.ModuleType("diffusers.configuration_utils")
    dm.ModelMixin = torch.nn.Module
    class ConfigMixin:  # noqa: the model only inherits it for config recording
        pass
    dc.ConfigMixin = ConfigMixin
    dc.register_to_config = lambda f: f
    d.models, d.configuration_utils = dm, dc
    sys.modules.update({"diffusers": d, "diffusers.models": dm, "diffusers.configuration_utils": dc})

    fa = types.ModuleType("flash_attn")
    from torch.nn.attention import sdpa_kernel, SDPBackend
    def flash_attn_func(q, k, v, dropout_p=0.0, softmax_scale=None, causal=False, **_):
        # flash_attn layout [B, L, H, D] -> SDPA [B, H, L, D]; FA2-based SDPA flash where it can run
        bk = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH] if q.is_cuda else [SDPBackend.MATH]
        with sdpa_kernel(bk):
            o = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                               is_causal=causal, scale=softmax_scale)
        return o.transpose(1, 2)
    fa.flash_attn_func = flash_attn_func   # `from flash_attn.flash_attn_interface import ...` still fails:
    sys.modules["flash_attn"] = fa         # attenion.py then sets its varlen function to None (we set it)


def import_gilbert(jenga):
    """The official gilbert.py; it imports matplotlib for its plotting helpers (never called here):
    stubbed where missing (the GPU machine)."""
    try:
        import matplotlib.pyplot, mpl_toolkits.mplot3d  # noqa: F401
    except ImportError:
        mp, plt, mt, m3 = (types.ModuleType(n) for n in ("matplotlib", "matplotlib.pyplot", "mpl_toolkits", "mpl_toolkits.mplot3d"))
        mp.pyplot, mt.mplot3d, m3.Axes3D = plt, m3, None
        sys.modules.update({"matplotlib": mp, "matplotlib.pyplot": plt, "mpl_toolkits": mt, "mpl_toolkits.mplot3d": m3})
    if jenga not in sys.path:
        sys.path.insert(0, jenga)
    return importlib.import_module("gilbert")


def extract_jenga_functions(jenga, torch, G, get_cu_seqlens, script="jenga_hyvideo.py", steps_name="non_skip_steps",
                            extra=None):
    """ra_forward, build_multi_curve and the computed-step list (non_skip_steps; jenga_hyi2v.py:
    step_calc) out of the official script with `ast`, exec'd with the names they use (importing
    the file would pull the sampler, loguru, pipelines); extra: more such names."""
    src_path = os.path.join(jenga, script)
    tree = ast.parse(open(src_path).read(), src_path)
    wanted = {"ra_forward", "build_multi_curve", steps_name}
    body = [n for n in tree.body if (isinstance(n, ast.FunctionDef) and n.name in wanted) or
            (isinstance(n, ast.Assign) and any(getattr(t, "id", None) in wanted for t in n.targets))]
    found = {n.name if isinstance(n, ast.FunctionDef) else n.targets[0].id for n in body}
    if found != wanted:
        die(f"{src_path}: found {sorted(found)} of {sorted(wanted)}: the official file changed")
    ns = dict(torch=torch, np=G.np, Optional=__import__("typing").Optional, get_cu_seqlens=get_cu_seqlens,
              gilbert_mapping=G.gilbert_mapping, gilbert_block_neighbor_mapping=G.gilbert_block_neighbor_mapping,
              transpose_gilbert_mapping=G.transpose_gilbert_mapping, __name__="jenga_script_extract", **(extra or {}))
    exec(compile(ast.Module(body=body, type_ignores=[]), src_path, "exec"), ns)
    import builtins, dis
    def globals_of(code):  # names the function (and its comprehensions) load as globals
        names = {i.argval for i in dis.get_instructions(code) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
        for c in code.co_consts:
            if hasattr(c, "co_code"):
                names |= globals_of(c)
        return names
    for fn in ("ra_forward", "build_multi_curve"):
        missing = sorted(n for n in globals_of(ns[fn].__code__) if n not in ns and not hasattr(builtins, n))
        if missing:
            die(f"{src_path}: {fn} uses {missing}, which this peer does not provide: update extract_jenga_functions")
    return ns


def load_official(jenga, torch, F, device):
    for f in ("hyvideo/modules/models_mul_block_gc_ha_multigpu.py", "hyvideo/modules/attention_block_triton_diffres.py",
              "jenga_hyvideo.py", "gilbert.py"):
        if not os.path.isfile(os.path.join(jenga, f)):
            die(f"{jenga}/{f}: missing (give --jenga the official Jenga checkout or peers/jengahy from "
                "bench/hunyuan_jenga_peers_prep.sh)")
    try:
        import einops  # noqa: F401  (the official blocks rearrange with it)
    except ImportError:
        die("einops is not installed: carry .whl from bench/hunyuan_jenga_peers_prep.sh (gpu_hunyuan_jenga.sh installs it)")
    install_stubs(torch, F)
    namespace_packages(jenga, ("hyvideo", "hyvideo.modules", "hyvideo.utils"))
    M = importlib.import_module("hyvideo.modules.models_mul_block_gc_ha_multigpu")
    A = importlib.import_module("hyvideo.modules.attenion")
    BS = importlib.import_module("hyvideo.modules.attention_block_triton_diffres")
    P = importlib.import_module("hyvideo.modules.posemb_layers")
    G = import_gilbert(jenga)
    get_cu = cu_seqlens_fn(A, torch, device)
    if device == "cpu":
        cpu_kernel_in_fp16(BS, torch)
    ns = extract_jenga_functions(jenga, torch, G, get_cu)
    return types.SimpleNamespace(M=M, A=A, BS=BS, P=P, G=G, ra_forward=ns["ra_forward"],
                                 build_multi_curve=ns["build_multi_curve"], non_skip_steps=list(ns["non_skip_steps"]))


def dense_varlen(torch, F, backend):
    from torch.nn.attention import sdpa_kernel, SDPBackend
    be = {"cudnn": SDPBackend.CUDNN_ATTENTION, "flash": SDPBackend.FLASH_ATTENTION, "math": SDPBackend.MATH,
          "efficient": SDPBackend.EFFICIENT_ATTENTION}[backend]
    def varlen(q, k, v, cu_q, cu_k, max_q, max_k, *a, **kw):
        # as the anchor: segments of cu_seqlens (batch 1: image + valid text | padding) attend within themselves
        outs = []
        cu = cu_q.tolist()
        with sdpa_kernel([be]):
            for s, e in zip(cu[:-1], cu[1:]):
                if e <= s:
                    continue
                qs, ks, vs = (x[s:e].transpose(0, 1).unsqueeze(0) for x in (q, k, v))
                outs.append(F.scaled_dot_product_attention(qs, ks, vs)[0].transpose(0, 1))
        return torch.cat(outs, 0)
    return varlen


def official_curves(a, plans, presets, tiny_grid, torch, build_multi_curve):
    """The official build_multi_curve for every rate any preset uses, on the full token grid
    (cached in --curve-cache: gilbert.py's loops are pure Python, tens of seconds at 720p)."""
    fl0 = plans[presets[0]][0]
    if tiny_grid:
        T, LH, LW = tiny_grid
    else:
        T, LH, LW = (fl0["frames"] + 3) // 4, fl0["size"][0] // 16, fl0["size"][1] // 16
    rates = sorted({r for fl, _ in plans.values() for r in fl["res"]})
    gkey = f"{T}x{LH}x{LW}"
    s = time.perf_counter()
    cache = torch.load(a.curve_cache) if a.curve_cache and os.path.isfile(a.curve_cache) else {}
    if cache.get("grid") == gkey and set(rates) <= set(cache.get("rates", [])):
        by = dict(zip(cache["rates"], cache["sels"]))
        sels, how = [by[r] for r in rates], "cache"
    else:
        import io
        with contextlib.redirect_stdout(io.StringIO()):  # gilbert prints progress lines
            sels = build_multi_curve(T, LH, LW, rates)
        how = "built"
        if a.curve_cache and cache.get("grid", gkey) == gkey:  # never replace another grid's tables
            torch.save({"grid": gkey, "rates": rates, "sels": sels}, a.curve_cache)
    rec(kind="jenga_hy_curves", grid=[T, LH, LW], rates=rates, how=how, s=round(time.perf_counter() - s, 1),
        blocks={str(r): int(sel[0][2].shape[0]) for r, sel in zip(rates, sels)})
    out = dict(zip(rates, sels))
    out["grid"] = (T, LH, LW)
    return out


# ---------------------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jenga", required=True, help="official Jenga checkout (or peers/jengahy)")
    ap.add_argument("--presets", default="turbo,base,flash,3stage,accvideo")
    ap.add_argument("--dense", default="cudnn", help="SDPA backends for the dense forward, comma list of cudnn,flash ('' = none)")
    ap.add_argument("--freqs-check", action="store_true", help="also time the first full-res config with RoPE tables on the GPU")
    ap.add_argument("--text-valid", type=int, default=40, help="unmasked text tokens of the 256 (anchor: 40)")
    add_timing_args(ap)
    a = ap.parse_args()
    t0 = time.perf_counter()
    presets = [p for p in a.presets.split(",") if p]
    bad = [p for p in presets if p not in PRESET_SCRIPTS]
    if bad:
        die(f"unknown presets {bad}; known: {','.join(PRESET_SCRIPTS)}")
    if not os.path.isdir(a.jenga):
        die(f"--jenga {a.jenga}: no such folder")

    # non_skip_steps straight from the official file (plan-only needs no torch)
    nss = module_list(os.path.join(a.jenga, "jenga_hyvideo.py"), "non_skip_steps")

    tiny_grid = (32, 8, 8) if a.tiny else None  # T=32 keeps L_img % 128 == 0 at r 1, 0.75, 0.5
    plans = {}
    for p in presets:
        fl = preset_flags(a.jenga, p)
        pl = stage_plan(fl, nss, tiny_grid)
        plans[p] = (fl, pl)
        emit_plan("jenga_hy", p, fl, pl)
    if a.plan_only:
        return
    if a.curves_only:  # only the official curve tables into --curve-cache (CPU, no model)
        import torch
        G = import_gilbert(a.jenga)
        ns = extract_jenga_functions(a.jenga, torch, G, None)
        official_curves(a, plans, presets, tiny_grid, torch, ns["build_multi_curve"])
        return

    torch, F, dev = init_device(a.device)
    J = load_official(a.jenga, torch, F, dev)
    if J.non_skip_steps != nss:
        die("non_skip_steps parsed twice differently")
    rec(kind="jenga_hy_env", device=torch.cuda.get_device_name() if dev == "cuda" else "cpu", torch=torch.__version__,
        triton=__import__("triton").__version__, triton_interpret=os.environ.get("TRITON_INTERPRET", "0"),
        jenga=os.path.abspath(a.jenga), freqs_on=a.freqs_on, text_valid=a.text_valid)

    Model = J.M.HYVideoDiffusionTransformer
    Model.forward = J.ra_forward           # as jenga_hyvideo.py main()
    Model.ra_forward = J.ra_forward
    torch.manual_seed(a.seed)
    if a.tiny:
        cfg = dict(mm_double_blocks_depth=1, mm_single_blocks_depth=1, rope_dim_list=[16, 56, 56],
                   hidden_size=128, heads_num=1, mlp_width_ratio=2, guidance_embed=True)
        margs = types.SimpleNamespace(text_states_dim=64, text_states_dim_2=32)
    else:
        cfg = dict(mm_double_blocks_depth=20, mm_single_blocks_depth=40, rope_dim_list=[16, 56, 56],
                   hidden_size=3072, heads_num=24, mlp_width_ratio=4, guidance_embed=True)
        margs = types.SimpleNamespace(text_states_dim=4096, text_states_dim_2=768)
    s = time.perf_counter()
    model = Model(margs, in_channels=16, out_channels=16, **cfg, dtype=torch.bfloat16, device=dev)
    model = model.to(dev, torch.bfloat16).eval().requires_grad_(False)
    from hunyuan_parity_peer import randomize
    randomize(model, torch, a.seed, dev)  # the official init zeroes every modulation (all gates) and the final layer
    rec(kind="jenga_hy_model", params_b=round(sum(p.numel() for p in model.parameters()) / 1e9, 3),
        double=cfg["mm_double_blocks_depth"], single=cfg["mm_single_blocks_depth"], hidden=cfg["hidden_size"],
        build_s=round(time.perf_counter() - s, 1))

    curve_by_rate = official_curves(a, plans, presets, tiny_grid, torch, J.build_multi_curve)
    T, LH, LW = curve_by_rate.pop("grid")
    for r, cs in curve_by_rate.items():  # as the pipeline: the neighbour matrix moves to the device once
        cs[0][-1] = cs[0][-1].to(dev)

    # class attributes as jenga_hyvideo.py main() sets them
    C = Model
    C.enable_skip, C.cnt, C.previous_residual, C.start_stage = True, 0, None, False
    C.curve_sels, C.curve_sel, C.scale_txt_amp = None, None, 1.0

    n_txt = 256
    txt = torch.randn(1, n_txt, margs.text_states_dim, device=dev, dtype=torch.bfloat16)
    mask = torch.zeros(1, n_txt, device=dev, dtype=torch.long); mask[:, :a.text_valid] = 1
    txt2 = torch.randn(1, margs.text_states_dim_2, device=dev, dtype=torch.bfloat16)
    tt = torch.tensor([900.0], device=dev)
    g = (torch.tensor([6.0], dtype=torch.float32, device=dev).to(torch.bfloat16) * 1000.0)
    ac_dev = "cuda" if dev == "cuda" else "cpu"

    timer = ForwardTimer(torch, dev, a.budget_s, "jenga_hy", t0)

    def setup(grid, rate, drop, p, text_amp, freqs_on):
        t, h, w = grid
        cs = curve_by_rate[rate]
        model.curve_sel = cs
        model.linear_to_hilbert, model.hilbert_order = cs[0][0], cs[0][1]
        model.sa_drop_rate, model.p_remain_rates, model.text_amp = drop, p, text_amp
        model.num_steps = 50
        cos, sin = J.P.get_nd_rotary_pos_embed([16, 56, 56], (t, h, w), theta=256, use_real=True, theta_rescale_factor=1)
        if freqs_on == "cuda":
            cos, sin = cos.to(dev), sin.to(dev)
        x = torch.randn(1, 16, t, 2 * h, 2 * w, device=dev, dtype=torch.bfloat16)
        model.previous_residual = torch.zeros(1, t * h * w, cfg["hidden_size"], device=dev, dtype=torch.bfloat16)
        return x, cos, sin

    def fwd(x, cos, sin, computed):
        model.cnt = 0 if computed else 5         # 0 is in non_skip_steps, 5 is not
        model.start_stage = False
        assert (model.cnt in J.non_skip_steps) == computed
        with torch.no_grad(), torch.autocast(ac_dev, dtype=torch.bfloat16):
            return model(x, tt, text_states=txt, text_mask=mask, text_states_2=txt2, freqs_cos=cos,
                         freqs_sin=sin, guidance=g, return_dict=False)

    # ---- the distinct configurations -----------------------------------------------------------
    configs, users = {}, {}
    for p in presets:
        fl, pl = plans[p]
        for st in pl["stages"]:
            k = (tuple(st["grid"]), st["res"], st["drop"], st["p"], st["text_amp"])
            configs.setdefault(k, st)
            users.setdefault(k, []).append(f"{p}/s{st['stage']}")
    measured, skip_ms = {}, {}

    def time_config(k, p_override=None, freqs_on=a.freqs_on, tag="sparse"):
        grid, rate, drop, p, text_amp = k
        p_used = p if p_override is None else p_override
        st = configs[k]
        def prepare():
            x, cos, sin = setup(grid, rate, drop, p_used, text_amp, freqs_on)
            return lambda: fwd(x, cos, sin, True)
        return timer.forward(tag, st["tokens"], prepare, dict(
            grid=list(grid), img_blocks=st["img_blocks"], drop=drop, top_k=st["top_k"], p=p_used, text_amp=text_amp,
            freqs_on=freqs_on, used_by=users[k]), probe=lambda: probe_density(J.BS))

    dense, floor = {}, {}
    with timer.interruptible():
        # skipped-step forwards (blocks not run), one per grid
        for k in configs:
            grid, rate = k[0], k[1]
            if grid in skip_ms:
                continue
            x, cos, sin = setup(grid, rate, k[2], k[3], k[4], a.freqs_on)
            skip_ms[grid], reps = timer.median_ms(lambda: fwd(x, cos, sin, False), a.skip_reps)
            rec(kind="jenga_hy_forward", what="skipped", grid=list(grid), tokens=grid[0] * grid[1] * grid[2],
                ms=round(skip_ms[grid], 2), reps=reps, peak_gb=timer.peak())

        # order: presets in the order given, their stages in order; duplicates timed once
        for k in configs:
            measured[k] = time_config(k)

        for be in [b for b in a.dense.split(",") if b]:
            full = (T, LH, LW)
            def prepare():
                J.A.flash_attn_varlen_func = dense_varlen(torch, F, be if dev == "cuda" else "math")
                x, cos, sin = setup(full, 1.0, 0.0, 0.3, 0.0, a.freqs_on)   # sa_drop_rate 0.0: official dense branch
                return lambda: fwd(x, cos, sin, True)
            r = timer.forward("dense", T * LH * LW, prepare, dict(sdpa=be, grid=list(full), freqs_on=a.freqs_on),
                              est_factor=3.0)  # dense: up to ~3x a sparse forward
            if r:
                dense[be] = r["ms"]

        if a.freqs_check:
            ks = [k for k in configs if k[0] == (T, LH, LW)]
            if ks:
                time_config(ks[0], freqs_on="cuda" if a.freqs_on == "cpu" else "cpu", tag="sparse_freqs_check")

        if a.p_floor:
            for k in configs:
                floor[k] = time_config(k, p_override=0.0, tag="sparse_p0")

    # ---- per preset: stage lines and the estimate -----------------------------------------------
    print_estimates("jenga_hy", {p: plans[p] for p in presets},
                    lambda st: (tuple(st["grid"]), st["res"], st["drop"], st["p"], st["text_amp"]),
                    measured, floor, skip_ms, users, dense, "Jenga blocks at sa_drop_rate 0")
    rec(kind="jenga_hy_done", s=round(time.perf_counter() - t0, 1))


if __name__ == "__main__":
    main()
