#!/usr/bin/env python3
"""Peer of bench/gpu_hunyuan_parity.sh (issue #23 point 6): the OFFICIAL HunyuanVideo DiT
(Tencent's HYVideoDiffusionTransformer, imported from --official, never copied here) against
`jenga debug dit-forward` on ONE random bf16 checkpoint with the official key names, and the
official Jenga AttenCarve mask builder (`_build_block_index_with_importance_optimized` of Jenga's
hyvideo/modules/attention_block_triton_diffres.py, taken out with `ast`) against
`jenga debug carve-mask` on one block's q/k in curve order.

Subcommands, each its own process (the official model is gone before ours loads):
  official  makes WORK/dit.safetensors (seeded random weights drawn on the device, official key
            names, bf16; reused when its metadata matches) and WORK/inputs.safetensors (x, t,
            text_states, text_mask, text_states_2, guidance: bf16 values stored as f32), runs the
            official forward (bf16 weights under bf16 autocast, as the official pipeline; f32 on
            the CPU) with forward hooks on every block and writes WORK/official.safetensors:
            block<i> = [image rows 0, S, 2S, ... ; every text row] (the rows of
            `jenga debug dit-forward --dump-blocks --dump-rows-stride S`) and out. The q/k the
            attention of the blocks in --mask-layers sees go to WORK/qk_layer<i>.safetensors (raster order).
  compare   per-block (image rows, text rows, both) and final rel L2 of WORK/ours.safetensors
            against WORK/official.safetensors; pass when every one is < --tol; exit 1 otherwise.
  mask      each WORK/qk_layer<i>.safetensors in the official curve order (Jenga's gilbert.py:
            img[:, hilbert_order]); for each --configs drop:p the official builder as the official
            forward runs it (bf16 pooled means and scores under bf16 autocast) and in f32, and ours
            (`jenga debug carve-mask`, CPU and --device cuda); prints the differing kept blocks and
            whether they sit on ties / the p cut; also our curve and neighbour sets vs the official.
  curves    builds the official curve tables of a grid into a cache (pure Python: do it on the CPU
            machine for 720p and carry the file).
  synth-qk  WORK/qk_layer0.safetensors with structured random q/k at the 720p grid: the mask step
            without a forward (seconds instead of minutes).
The official flash_attn_varlen_func (flash-attn is absent on the GPU machine) becomes torch SDPA per
cu_seqlens segment (image + valid text | padding text), flash backend on the GPU, as
../shared/peer-bench/anchor_hunyuan_step.py; get_cu_seqlens (allocates on "cuda") is replaced on the CPU.
--size tiny: a small model and grid that runs end to end on the CPU in a minute.
"""
import argparse, ast, contextlib, io, json, math, os, subprocess, sys, time, types

SIZES = {
    # hidden, heads, blocks, MLP ratio, text dims; latent [C, T, H, W]; text rows, valid rows
    "full": dict(hidden=3072, heads=24, double=20, single=40, ratio=4, text_dim=4096, text_dim_2=768,
                 latent=(16, 32, 90, 160), text_len=256, valid=57),
    # the published widths (24 heads of 128, text 4096 / 768), one block of each kind, a small grid
    "mid": dict(hidden=3072, heads=24, double=1, single=1, ratio=4, text_dim=4096, text_dim_2=768,
                latent=(16, 4, 32, 32), text_len=256, valid=57),
    # the full depth (20 + 40 blocks) at a third of the width (8 heads of 128): how the error grows
    # through 60 blocks, in a minute (1.4 B parameters)
    "deep": dict(hidden=1024, heads=8, double=20, single=40, ratio=4, text_dim=4096, text_dim_2=768,
                 latent=(16, 8, 32, 32), text_len=256, valid=57),
    "tiny": dict(hidden=256, heads=2, double=2, single=2, ratio=4, text_dim=64, text_dim_2=32,
                 latent=(16, 8, 32, 32), text_len=256, valid=57),
}
T_VALUE = 900.0
GUIDANCE = 6016.0  # bf16(6.0) * 1000 in bf16, as the official pipeline (REFERENCE-hunyuan 1.10)


def rec(**kw):
    print(json.dumps(kw), flush=True)


def die(msg):
    print(f"error: {msg}", file=sys.stderr, flush=True)
    sys.exit(2)


def rel_l2(a, b):
    import torch
    n = torch.linalg.vector_norm(b, dtype=torch.float64).item()  # f64 sums without f64 copies
    return torch.linalg.vector_norm(a.float() - b.float(), dtype=torch.float64).item() / n if n > 0 else float("inf")


# ---------------------------------------------------------------------------------------------
# The official model
# ---------------------------------------------------------------------------------------------
def stub_diffusers(torch):
    """HYVideoDiffusionTransformer needs only ModelMixin/ConfigMixin/register_to_config."""
    if "diffusers" in sys.modules:
        return
    d, cu, dm = (types.ModuleType(n) for n in ("diffusers", "diffusers.configuration_utils", "diffusers.models"))

    class ConfigMixin:
        pass

    cu.ConfigMixin, cu.register_to_config = ConfigMixin, (lambda f: f)
    dm.ModelMixin = torch.nn.Module
    d.models, d.configuration_utils = dm, cu
    sys.modules.update({"diffusers": d, "diffusers.configuration_utils": cu, "diffusers.models": dm})


class Varlen:
    """flash_attn_varlen_func by SDPA per cu_seqlens segment (bench/hunyuan_jenga_peer.py's, the
    anchor's: flash on the GPU, math on the CPU); keeps q/k of the calls in `keep` (block indices:
    the 60 block attentions are the only varlen calls, the token refiner uses SDPA)."""

    def __init__(self, torch, keep, device, f32=False, backend="flash"):
        from hunyuan_jenga_peer import dense_varlen
        self.attend = dense_varlen(torch, torch.nn.functional, backend if device == "cuda" and not f32 else "math")
        self.keep, self.calls, self.qk = set(keep), 0, {}

    def __call__(self, q, k, v, *a, **kw):
        if self.calls in self.keep:
            self.qk[self.calls] = (q.detach().cpu().clone(), k.detach().cpu().clone())
        self.calls += 1
        return self.attend(q, k, v, *a, **kw)


def import_official(root, torch, varlen, device):
    if not os.path.isfile(os.path.join(root, "hyvideo", "modules", "models.py")):
        die(f"--official {root}: no hyvideo/modules/models.py (run bench/hunyuan_parity_prep.sh and carry peers)")
    try:
        import einops  # noqa: F401  (models.py rearranges with it)
    except ImportError:
        die("einops is not installed: carry .whl (bench/hunyuan_parity_prep.sh), gpu_hunyuan_parity.sh installs it")
    stub_diffusers(torch)
    sys.path.insert(0, root)
    import hyvideo.modules.attenion as A
    import hyvideo.modules.models as M
    from hyvideo.modules.posemb_layers import get_nd_rotary_pos_embed
    A.flash_attn_varlen_func = varlen
    if device != "cuda":
        def cpu_cu_seqlens(text_mask, img_len):  # the official one allocates on "cuda"
            b = text_mask.shape[0]
            n = text_mask.sum(dim=1)
            cu = torch.zeros([2 * b + 1], dtype=torch.int32)
            for i in range(b):
                cu[2 * i + 1] = i * (text_mask.shape[1] + img_len) + n[i] + img_len
                cu[2 * i + 2] = (i + 1) * (text_mask.shape[1] + img_len)
            return cu
        M.get_cu_seqlens = cpu_cu_seqlens
    return M, get_nd_rotary_pos_embed


def build_model(M, torch, cfg, device):
    args = types.SimpleNamespace(text_states_dim=cfg["text_dim"], text_states_dim_2=cfg["text_dim_2"])
    model = M.HYVideoDiffusionTransformer(
        args, in_channels=16, out_channels=16, hidden_size=cfg["hidden"], heads_num=cfg["heads"],
        mlp_width_ratio=cfg["ratio"], mm_double_blocks_depth=cfg["double"], mm_single_blocks_depth=cfg["single"],
        rope_dim_list=[16, 56, 56], guidance_embed=True, dtype=torch.bfloat16, device=device)
    # bf16 throughout, as mp_rank_00_model_states.pt (final_layer.linear included)
    return model.to(device, torch.bfloat16).eval().requires_grad_(False)


def randomize(model, torch, seed, device):
    """Seeded weights drawn on the device: matrices N(0, 1/fan_in), norm weights 1 + N(0, 0.1^2),
    biases N(0, 0.05^2) (the official init zeroes the final layer and keeps norms at 1: useless here)."""
    g = torch.Generator(device=device).manual_seed(seed)
    for name, p in sorted(model.named_parameters()):
        r = torch.randn(p.shape, generator=g, device=device, dtype=torch.float32)
        if p.dim() >= 2:
            r *= 1.0 / math.sqrt(p[0].numel())
        elif "norm" in name and name.endswith(".weight"):
            r = 1.0 + 0.1 * r
        else:
            r *= 0.05
        p.copy_(r)


def with_checkpoint(model, torch, work, size, seed, device):
    """WORK/dit.safetensors into `model` when its metadata says it holds these (size, seed) weights,
    else seeded random weights drawn on the device and saved there (bf16, the official key names).
    Any class with the official parameter names works (Tencent's or Jenga's HYVideoDiffusionTransformer)."""
    from safetensors.torch import save_file, load_file
    from safetensors import safe_open
    t0 = time.perf_counter()
    ckpt = os.path.join(work, "dit.safetensors")
    tag = json.dumps({"size": size, "seed": seed, "init": "hyparity-1"})
    reuse = False
    if os.path.isfile(ckpt):
        with safe_open(ckpt, "pt") as f:
            reuse = (f.metadata() or {}).get("hyparity") == tag
    if reuse:
        model.load_state_dict(load_file(ckpt, device=device), strict=True)
    else:
        randomize(model, torch, seed, device)
    t1 = time.perf_counter()
    if not reuse:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, ckpt, metadata={"hyparity": tag})
    t2 = time.perf_counter()
    rec(kind="hyparity_weights", size=size, seed=seed, params_b=round(sum(p.numel() for p in model.parameters()) / 1e9, 3),
        how="reused" if reuse else "drawn", make_s=round(t1 - t0, 1), save_s=round(t2 - t1, 1),
        gb=round(os.path.getsize(ckpt) / 1e9, 2))
    return ckpt


def make_inputs(torch, cfg, seed):
    """bf16-representable inputs from a CPU generator; f32 copies for ours, bf16 for the official."""
    g = torch.Generator().manual_seed(seed + 1)
    bf = lambda *s: torch.randn(*s, generator=g).to(torch.bfloat16).float()
    C, T, H, W = cfg["latent"]
    L, v = cfg["text_len"], cfg["valid"]
    mask = torch.zeros(L)
    mask[:v] = 1
    return {"x": bf(C, T, H, W), "t": torch.tensor([T_VALUE]), "text_states": bf(L, cfg["text_dim"]),
            "text_mask": mask, "text_states_2": bf(cfg["text_dim_2"]), "guidance": torch.tensor([GUIDANCE])}


def cmd_official(a):
    import torch
    from safetensors.torch import save_file, load_file, safe_open
    dev = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    cfg = SIZES[a.size]
    os.makedirs(a.work, exist_ok=True)
    f32 = a.precision == "f32" or dev != "cuda"  # the CPU rehearsal is f32 too
    layers = [int(v) for v in a.mask_layers.split(",") if v != ""] if a.precision == "bf16" else []
    varlen = Varlen(torch, layers, dev, f32, a.attn_backend)
    if f32 and dev == "cuda":  # true f32 (no TF32 GEMMs or convolutions): the reference without bf16 rounding
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    M, rope_fn = import_official(a.official, torch, varlen, dev)
    t0 = time.perf_counter()
    model = build_model(M, torch, cfg, dev)
    with_checkpoint(model, torch, a.work, a.size, a.seed, dev)

    inp = make_inputs(torch, cfg, a.seed)
    save_file({k: v.contiguous() for k, v in inp.items()}, os.path.join(a.work, "inputs.safetensors"))
    C, T, H, W = cfg["latent"]
    grid = (T, H // 2, W // 2)
    li, lt = grid[0] * grid[1] * grid[2], cfg["text_len"]
    S = a.stride
    on_gpu = dev == "cuda"
    dt = torch.float32 if f32 else torch.bfloat16
    if f32:
        model = model.float()  # f32 with the bf16 weights' values (the CPU rehearsal; --precision f32)
    x = inp["x"].to(dev, dt).unsqueeze(0)
    txt = inp["text_states"].to(dev, dt).unsqueeze(0)
    txt2 = inp["text_states_2"].to(dev, dt).unsqueeze(0)
    mask = inp["text_mask"].to(dev, torch.long).unsqueeze(0)
    t = inp["t"].to(dev)
    guid = inp["guidance"].to(dev, dt)
    cos, sin = rope_fn([16, 56, 56], grid, theta=256, use_real=True, theta_rescale_factor=1)
    cos, sin = cos.to(dev), sin.to(dev)

    blocks = {}
    def keep(i, double):
        def hook(mod, args, out):
            if double:
                img, tx = out
            else:
                img, tx = out[:, :li], out[:, li:]
            blocks[f"block{i}"] = torch.cat([img[0, ::S].float(), tx[0].float()], 0).cpu()
        return hook
    nd = len(model.double_blocks)
    hooks = [b.register_forward_hook(keep(i, True)) for i, b in enumerate(model.double_blocks)]
    hooks += [b.register_forward_hook(keep(nd + i, False)) for i, b in enumerate(model.single_blocks)]
    ac = torch.autocast("cuda", dtype=torch.bfloat16) if not f32 else contextlib.nullcontext()
    if on_gpu:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    s = time.perf_counter()
    with torch.no_grad(), ac:
        out = model(x, t, text_states=txt, text_mask=mask, text_states_2=txt2, freqs_cos=cos, freqs_sin=sin,
                    guidance=guid, return_dict=False)
    if on_gpu:
        torch.cuda.synchronize()
    fwd_s = time.perf_counter() - s
    for h in hooks:
        h.remove()
    blocks["out"] = out[0].float().cpu()
    meta = {"image_tokens": str(li), "text_tokens": str(lt), "image_row_stride": str(S), "grid": json.dumps(grid),
            "valid": str(cfg["valid"])}
    save_file(blocks, os.path.join(a.work, f"{a.name}.safetensors"), metadata=meta)
    missing = [l for l in layers if l not in varlen.qk]
    if missing:
        die(f"--mask-layers {missing}: the forward made only {varlen.calls} attention calls")
    for old in (f for f in os.listdir(a.work) if f.startswith("qk_layer") and layers):
        os.remove(os.path.join(a.work, old))
    for l, (q, k) in varlen.qk.items():
        save_file({"q": q.contiguous(), "k": k.contiguous()}, os.path.join(a.work, f"qk_layer{l}.safetensors"),
                  metadata=meta | {"layer": str(l)})
    rec(kind="hyparity_official_forward", name=a.name, device=torch.cuda.get_device_name() if on_gpu else "cpu",
        dtype="bf16 weights, bf16 autocast" if not f32 else "f32 (bf16 weight values)", grid=list(grid), text=[lt, cfg["valid"]],
        attention=a.attn_backend if on_gpu and not f32 else "math",
        forward_s=round(fwd_s, 2), peak_gb=round(torch.cuda.max_memory_allocated() / 2**30, 1) if on_gpu else None,
        finite=bool(torch.isfinite(out).all()), out_rms=round(out.float().pow(2).mean().sqrt().item(), 4),
        blocks=len(blocks) - 1, attention_calls=varlen.calls, total_s=round(time.perf_counter() - t0, 1))


# ---------------------------------------------------------------------------------------------
# Comparison of the block dumps
# ---------------------------------------------------------------------------------------------
def block_rels(work, test, ref):
    """Per block rel L2 of WORK/<test> against WORK/<ref> (image rows, valid text rows, padding
    text rows, image + valid text) and of the outputs."""
    from safetensors import safe_open
    paths = [os.path.join(work, f"{w}.safetensors") for w in (test, ref)]
    for p in paths:
        if not os.path.isfile(p):
            die(f"{p}: missing (run that forward first)")
    with safe_open(paths[0], "pt") as fu, safe_open(paths[1], "pt") as fo:
        mo, mu = fo.metadata(), fu.metadata() or {}
        for key in ("image_tokens", "text_tokens", "image_row_stride"):
            if mo.get(key) != mu.get(key):
                die(f"{key}: {ref} {mo.get(key)} vs {test} {mu.get(key)} (run ours with --dump-blocks "
                    f"--dump-rows-stride {mo.get('image_row_stride')} on WORK/inputs.safetensors)")
        li, S, v = int(mo["image_tokens"]), int(mo["image_row_stride"]), int(mo["valid"])
        ni = (li + S - 1) // S
        nv = ni + v  # image rows, then the valid text rows: what the output depends on
        names = sorted((n for n in fo.keys() if n.startswith("block")), key=lambda n: int(n[5:]))
        missing = [n for n in names if n not in fu.keys()]
        if missing:
            die(f"{test} lacks {missing[:3]}... ({len(missing)} blocks)")
        rows = []
        for n in names:
            o, u = fo.get_tensor(n), fu.get_tensor(n)
            if o.shape != u.shape:
                die(f"{n}: {ref} {tuple(o.shape)} vs {test} {tuple(u.shape)}")
            rows.append(dict(block=int(n[5:]), img=rel_l2(u[:ni], o[:ni]), txt=rel_l2(u[ni:nv], o[ni:nv]),
                             pad=rel_l2(u[nv:], o[nv:]) if o.shape[0] > nv else 0.0, all=rel_l2(u[:nv], o[:nv])))
        return rows, rel_l2(fu.get_tensor("out"), fo.get_tensor("out"))


def cmd_compare(a):
    kind = lambda b: "double" if b < a.double_blocks else "single"
    if a.pairs:  # several comparisons side by side (image + valid text rows), e.g. the precision study
        pairs = [p.split(":") for p in a.pairs.split(",")]
        res = [block_rels(a.work, t, r) for t, r in pairs]
        print(f"{'block':>5} {'kind':>6} " + " ".join(f"{t + ' vs ' + r:>26}" for t, r in pairs))
        for i, row in enumerate(res[0][0]):
            print(f"{row['block']:>5} {kind(row['block']):>6} " + " ".join(f"{rs[0][i]['all']:>26.3e}" for rs in res))
        print(f"{'out':>5} {'':>6} " + " ".join(f"{rs[1]:>26.3e}" for rs in res))
        rec(kind="hyparity_compare_pairs", pairs=a.pairs, final=[rs[1] for rs in res],
            worst_block=[max(r["all"] for r in rs[0]) for rs in res])
        return
    rows, final = block_rels(a.work, "ours", "official")
    # Padding text rows attend only among themselves and nothing reads them: shown, not judged.
    print(f"{'block':>5} {'kind':>6} {'rel img':>10} {'rel txt':>10} {'rel pad':>10} {'img+txt':>10}  result")
    for r in rows:
        r["pass"] = r["all"] < a.tol
        print(f"{r['block']:>5} {kind(r['block']):>6} {r['img']:>10.3e} {r['txt']:>10.3e} {r['pad']:>10.3e} {r['all']:>10.3e}  "
              f"{'ok' if r['pass'] else 'FAIL'}", flush=True)
    worst = max(r["all"] for r in rows)
    ok = all(r["pass"] for r in rows) and final < a.tol
    print(f"final out rel L2 {final:.3e} ({'ok' if final < a.tol else 'FAIL'}); worst block {worst:.3e}; "
          f"tol {a.tol:g}: {'PASS' if ok else 'FAIL'}")
    rec(kind="hyparity_compare", blocks=len(rows), worst_block_rel=worst, final_rel=final, tol=a.tol, passed=ok,
        worst_pad_rel=max(r["pad"] for r in rows),
        failed_blocks=[r["block"] for r in rows if not r["pass"]])
    sys.exit(0 if ok else 1)


# ---------------------------------------------------------------------------------------------
# Jenga: curve, neighbours and the AttenCarve mask
# ---------------------------------------------------------------------------------------------
def official_gilbert(jenga):
    """Jenga's gilbert.py (matplotlib, for its plots only, stubbed where missing)."""
    try:
        import matplotlib.pyplot, mpl_toolkits.mplot3d  # noqa: F401
    except ImportError:
        mp, plt, mt, m3 = (types.ModuleType(n) for n in ("matplotlib", "matplotlib.pyplot", "mpl_toolkits", "mpl_toolkits.mplot3d"))
        mp.pyplot, mt.mplot3d, m3.Axes3D = plt, m3, None
        sys.modules.update({"matplotlib": mp, "matplotlib.pyplot": plt, "mpl_toolkits": mt, "mpl_toolkits.mplot3d": m3})
    if not os.path.isfile(os.path.join(jenga, "gilbert.py")):
        die(f"--jenga {jenga}: no gilbert.py (bench/hunyuan_jenga_peers_prep.sh lays out peers/jengahy)")
    sys.path.insert(0, jenga)
    import gilbert
    return gilbert


def official_curve(a, grid, torch):
    """(hilbert_order [Li] long: raster index of each curve position, neighbour bool [nb, nb]) as
    jenga_hyvideo.py's build_multi_curve makes them; from --curve-cache when it holds the grid."""
    key = "x".join(map(str, grid))
    if a.curve_cache and os.path.isfile(a.curve_cache):
        c = torch.load(a.curve_cache)
        if c.get("grid") == key:
            return c["hilbert_order"], c["neighbors"], "cache"
    G = official_gilbert(a.jenga)
    with contextlib.redirect_stdout(io.StringIO()):  # gilbert prints progress
        l2h, h2l = G.gilbert_mapping(*grid)
        nb = G.gilbert_block_neighbor_mapping(*grid)
    order = torch.tensor(h2l, dtype=torch.long)
    nb = torch.as_tensor(nb).bool()
    if a.curve_cache:
        torch.save({"grid": key, "hilbert_order": order, "neighbors": nb}, a.curve_cache)
    return order, nb, "built"


def cmd_curves(a):
    import torch
    grid = tuple(int(v) for v in a.grid.split(","))
    s = time.perf_counter()
    order, nb, how = official_curve(a, grid, torch)
    rec(kind="hyparity_curves", grid=list(grid), how=how, s=round(time.perf_counter() - s, 1), tokens=len(order),
        blocks=int(nb.shape[0]), cache=a.curve_cache)


def official_builder(jenga, torch):
    """_build_block_index_with_importance_optimized out of the official file with `ast` (importing
    it pulls triton and flash_attn)."""
    path = os.path.join(jenga, "hyvideo", "modules", "attention_block_triton_diffres.py")
    if not os.path.isfile(path):
        die(f"{path}: missing (bench/hunyuan_jenga_peers_prep.sh lays out peers/jengahy)")
    tree = ast.parse(open(path).read(), path)
    fn = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "_build_block_index_with_importance_optimized"]
    if len(fn) != 1:
        die(f"{path}: no _build_block_index_with_importance_optimized: the official file changed")
    ns = {"torch": torch, "time": time}
    exec(compile(ast.Module(body=fn, type_ignores=[]), path, "exec"), ns)
    return ns["_build_block_index_with_importance_optimized"]


class CudaAutocastOnCpu:
    """torch for the official builder on the CPU rehearsal: CUDA's autocast runs softmax and cumsum
    in f32 (its fp32 list), CPU autocast leaves them in bf16; this upcasts them as CUDA would, and
    sorts stably as CUDA's radix sort does for 129..4096 blocks (ties: lower index first)."""

    def __init__(self, torch):
        self._t = torch

    def __getattr__(self, name):
        return getattr(self._t, name)

    def softmax(self, x, *a, **k):
        return self._t.softmax(x.float(), *a, **k)

    def cumsum(self, x, *a, **k):
        return self._t.cumsum(x.float(), *a, **k)

    def sort(self, x, dim=-1, descending=False):  # CUDA's sort is stable at these sizes, the CPU's not
        return self._t.sort(x, dim=dim, descending=descending, stable=True)


def run_ours(jenga_bin, args):
    r = subprocess.run([jenga_bin] + args, capture_output=True, text=True)
    if r.returncode != 0:
        return None, (r.stdout + r.stderr).strip().splitlines()[-1:]
    return r.stdout.strip(), None


def cmd_mask(a):
    import torch
    from safetensors.torch import save_file, load_file
    from safetensors import safe_open
    dev = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    files = sorted((f for f in os.listdir(a.work) if f.startswith("qk_layer") and f.endswith(".safetensors")),
                   key=lambda f: int(f[8:-12]))
    if not files:
        die(f"{a.work}: no qk_layer<i>.safetensors (run the official step first)")
    with safe_open(os.path.join(a.work, files[0]), "pt") as f:
        meta = f.metadata()
        n, heads, hd = f.get_slice("q").get_shape()
    grid = tuple(json.loads(meta["grid"]))
    li = int(meta["image_tokens"])
    # --- the curve and the neighbour sets: ours vs the official ---
    s = time.perf_counter()
    order, nbm, how = official_curve(a, grid, torch)
    curve_s = time.perf_counter() - s
    shape = ",".join(map(str, grid))
    txt, err = run_ours(a.jenga_bin, ["debug", "curve", "--shape", shape])
    same_curve = err is None and json.loads(txt)["order"] == order.tolist()
    txt, err2 = run_ours(a.jenga_bin, ["debug", "neighbors", "--shape", shape])
    same_nb = None
    if err2 is None:
        ours_nb = torch.zeros_like(nbm)
        for i, row in enumerate(json.loads(txt)["neighbors"]):
            ours_nb[i, row] = True
        same_nb = bool(torch.equal(ours_nb, nbm))
    rec(kind="hyparity_curve", grid=list(grid), official=how, official_s=round(curve_s, 1), curve_identical=same_curve,
        neighbors_identical=same_nb, errors=(err or []) + (err2 or []))
    if n % 128:
        die(f"{n} tokens: the official sparse path needs a multiple of 128 (L_img + 256)")
    build = official_builder(a.jenga, torch if dev == "cuda" else CudaAutocastOnCpu(torch))
    ok_all = True
    for name in files:
        with safe_open(os.path.join(a.work, name), "pt") as f:
            q, k = f.get_tensor("q"), f.get_tensor("k")  # [Li + Lt, H, D] bf16 (f32 on the CPU rehearsal), raster
            layer = int(f.metadata()["layer"])
        # The CPU builder (the f32 reference) on the first block only: it costs ~7 s a config at full size.
        ok_all &= mask_layer(a, torch, dev, build, q, k, li, layer, order, nbm, shape, with_cpu=name == files[0])
    sys.exit(0 if ok_all else 3)


def mask_layer(a, torch, dev, build, q, k, li, layer, order, nbm, shape, with_cpu=True):
    """One block's q/k: every --configs drop:p through the official builder and ours; True when
    every difference is explained."""
    from safetensors.torch import save_file, load_file
    n, heads, _ = q.shape
    # q/k in curve order [1, H, N, D] (image rows permuted, text rows after), as ra_forward
    perm = torch.cat([order, torch.arange(li, n)])
    qc = q[perm].transpose(0, 1).unsqueeze(0).to(torch.bfloat16).contiguous()  # bf16 as the official forward's
    kc = k[perm].transpose(0, 1).unsqueeze(0).to(torch.bfloat16).contiguous()
    qk_curve = os.path.join(a.work, "qk_curve.safetensors")
    save_file({"q": qc, "k": kc}, qk_curve)
    nb_all = n // 128
    normal = nb_all - 2
    qd, kd = qc.to(dev), kc.to(dev)
    nbd = nbm.to(dev)
    ok_all = True
    for conf in a.configs.split(","):
        drop, p = (float(v) for v in conf.split(":"))
        top_k = int((1 - drop) * (li // 128))  # models_mul_block_gc_ha_multigpu.py, Python floats

        def official(dtype, autocast):
            ac = torch.autocast(dev, dtype=torch.bfloat16) if autocast else contextlib.nullcontext()
            with torch.no_grad(), ac:
                m = build(qd[:, :, :normal * 128].to(dtype), kd.to(dtype), top_k, 128, 128, text_start_block=normal,
                          num_blocks=nb_all, prob_threshold=p, text_blocks=2, block_neighbor_list=nbd)
            return m.cpu()
        off_bf16 = official(torch.bfloat16, True)   # as the official forward runs it (bf16 tensors, autocast)
        off_f32 = official(torch.float32, False)    # the same code on f32 q/k: pooled means, scores in f32
        # Ours: the CPU builder in f32 (the CPU DiT's) and with the official autocast rounding
        # (--rounding bf16), and the GPU chain (its default: bf16 rounding, what the CUDA denoisers build).
        ours = {}
        for odev in ("cpu", "cpu_bf16", "cuda") if with_cpu or dev != "cuda" else ("cuda",):
            if odev == "cuda" and dev != "cuda":
                continue
            out = os.path.join(a.work, f"mask_{odev}.safetensors")
            args = ["debug", "carve-mask", "--q", qk_curve, "--k", qk_curve, "--top-k", str(top_k), "--p", str(p),
                    "--text-blocks", "2", "--neighbors-shape", shape, "--out", out]
            args += {"cpu": ["--rounding", "f32"], "cpu_bf16": ["--rounding", "bf16"], "cuda": ["--device", "cuda"]}[odev]
            _, e = run_ours(a.jenga_bin, args)
            ours[odev] = load_file(out)["mask"].bool()[:, :, :normal] if e is None else e  # image query rows
        line = dict(kind="hyparity_mask", layer=layer, drop=drop, p=p, top_k=top_k, heads=heads,
                    rows=normal, blocks=nb_all, density_official=round(off_bf16.float().mean().item(), 5))
        for name, ref in (("bf16", off_bf16), ("f32", off_f32)):
            for odev, m in ours.items():
                if isinstance(m, list):
                    line[f"{odev}_error"] = m
                    continue
                d = (m != ref)
                line[f"diff_{odev}_vs_official_{name}"] = int(d.sum())
                line[f"rows_{odev}_vs_official_{name}"] = int(d.any(-1).sum())
        have = {d: m for d, m in ours.items() if not isinstance(m, list)}  # the builders that ran
        if "cuda" in have and "cpu_bf16" in have:
            line["diff_cuda_vs_cpu_bf16"] = int((have["cuda"] != have["cpu_bf16"]).sum())
        line["diff_official_bf16_vs_f32"] = int((off_bf16 != off_f32).sum())
        line["text_blocks_always_kept"] = bool(off_bf16[..., normal:].all()) and all(bool(m[..., normal:].all()) for m in have.values())
        # The builder our GPU forward uses (on the CPU rehearsal: the CPU one with the same rounding).
        dev_key = "cuda" if "cuda" in have else "cpu_bf16" if "cpu_bf16" in have else "cpu"
        best = have.get(dev_key)
        line.update(explain(torch, qd, kd, off_bf16, off_f32, best, normal, p, top_k, dev))
        # Verdict on the builder our forward runs (the GPU chain; the CPU one on the CPU rehearsal).
        d16, d32 = line.get(f"diff_{dev_key}_vs_official_bf16", -1), line.get(f"diff_{dev_key}_vs_official_f32", -1)
        explained = line.get("differing_blocks_within_bf16_score_error_of_the_cut", -1)
        near32 = line.get("f32_differing_blocks_within_f32_rounding_of_the_cut", 0)
        if d16 == 0:
            line["verdict"] = "identical to the official bf16 run"
        elif dev_key != "cpu" and explained == d16 and line["text_blocks_always_kept"]:
            # Ours rounds as the official autocast run: what is left are single decisions at the cut.
            line["verdict"] = (f"{d16} of {off_bf16.numel()} kept-block decisions differ from the official bf16 run, "
                               "all within bf16 score rounding of the cut")
        elif d32 == near32 and explained == d16 and line["text_blocks_always_kept"]:
            f32 = "identical to" if d32 == 0 else f"{d32} kept blocks from (all within f32 rounding of the cut)"
            line["verdict"] = (f"{f32} the official code run in f32; {d16} kept blocks differ from its bf16 run, "
                               "all within bf16 score rounding of the cut")
        else:
            line["verdict"] = "UNEXPLAINED differences"
        ok_all &= not line["verdict"].startswith("UNEXPLAINED")
        line["ours"] = dev_key
        rec(**line)
        print(f"mask block {layer}, drop {drop} p {p} (top_k {top_k}), ours on {dev_key}: {line['verdict']}", flush=True)
        print("  " + ", ".join(f"{k} {v}" for k, v in line.items()
                               if k.startswith(("diff_", "rows_", "differing", "max_", "density", "text_", "f32_"))), flush=True)
    return ok_all


def explain(torch, qd, kd, off16, off32, ours, normal, p, top_k, dev):
    """Why ours differs from the official masks where it does. The official forward pools and scores
    in bf16 (autocast), ours in f32. A differing block is explained when its f32 score lies within
    a rounding error of the f32 cut (the last kept / first dropped score), so rounding can move it
    across: against the bf16 run twice the row's largest bf16 score error, against the f32 run
    1e-5 of the row's largest score (f32 summation order). Ties: the official bf16 probability of
    the block equals the probability at its cut."""
    if ours is None or isinstance(ours, list):
        return {}
    d16, d32 = (ours != off16), (ours != off32)
    if not d16.any() and not d32.any():
        return {"explained": "identical"}
    hd = qd.shape[-1]

    def scores(dtype, autocast):
        ac = torch.autocast(dev, dtype=torch.bfloat16) if autocast else contextlib.nullcontext()
        with torch.no_grad(), ac:
            qp = qd[:, :, :normal * 128].to(dtype).reshape(1, qd.shape[1], normal, 128, hd).mean(-2)
            kp = kd[:, :, :normal * 128].to(dtype).reshape(1, kd.shape[1], normal, 128, hd).mean(-2)
            return (torch.matmul(qp, kp.transpose(-1, -2)) * (hd ** -0.5)).float()
    s32, s16 = scores(torch.float32, False), scores(torch.bfloat16, True)
    ss, _ = torch.sort(s32, dim=-1, descending=True)
    cs = torch.cumsum(torch.softmax(ss, -1), -1)
    need = torch.maximum((cs <= p).sum(-1) + 1, torch.tensor(top_k, device=cs.device)).clamp(max=normal - 1)
    cut = ss.gather(-1, (need - 1).unsqueeze(-1)).squeeze(-1)
    nxt = ss.gather(-1, need.unsqueeze(-1)).squeeze(-1)

    def near(d, tol_row):
        idx = d.nonzero().to(s32.device)
        h, r, c = idx[:, 1], idx[:, 2], idx[:, 3]
        gap = torch.minimum((s32[0, h, r, c] - cut[0, h, r]).abs(), (s32[0, h, r, c] - nxt[0, h, r]).abs())
        return idx, gap, tol_row[0, h, r]
    err16 = (s16 - s32).abs().amax(-1)
    idx, gap, e = near(d16, 2 * err16)
    h, r, c = idx[:, 1], idx[:, 2], idx[:, 3]
    p16 = torch.softmax(s16, -1)
    sp16, _ = torch.sort(p16, -1, descending=True)
    cs16 = torch.cumsum(sp16, -1)
    need16 = torch.maximum((cs16 <= p).sum(-1) + 1, torch.tensor(top_k, device=cs.device))
    cut16 = sp16.gather(-1, (need16 - 1).unsqueeze(-1)).squeeze(-1)
    _, gap32, e32 = near(d32, 1e-5 * s32.abs().amax(-1))
    return {"differing_rows": int(d16.any(-1).sum()), "rows_whose_kept_count_differs": int((ours.sum(-1) != off16.sum(-1)).sum()),
            "differing_blocks_within_bf16_score_error_of_the_cut": int((gap <= e).sum()),
            "differing_blocks_at_a_bf16_tie": int((p16[0, h, r, c] == cut16[0, h, r]).sum()),
            "max_gap_over_bf16_error": round((2 * gap / e.clamp(min=1e-30)).max().item(), 3) if len(gap) else 0.0,
            "max_bf16_score_error": float(err16.max()),
            "f32_differing_blocks_within_f32_rounding_of_the_cut": int((gap32 <= e32).sum())}


def cmd_synth_qk(a):
    """WORK/qk_layer0.safetensors without a forward: q/k at the 720p grid (32x45x80 + 256 text rows,
    raster order) with smooth spatial structure plus noise, bf16, for the mask step alone."""
    import torch
    from safetensors.torch import save_file
    T, Hh, W = 32, 45, 80
    li = T * Hh * W
    f = torch.arange(T).float()[:, None, None].expand(T, Hh, W)
    y = torch.arange(Hh).float()[None, :, None].expand(T, Hh, W)
    x = torch.arange(W).float()[None, None, :].expand(T, Hh, W)
    basis = torch.stack([torch.sin(0.2 * f + 0.1 * y), torch.cos(0.15 * y + 0.07 * x), torch.sin(0.11 * x),
                         torch.cos(0.3 * f), torch.sin(0.005 * y * x), torch.cos(0.09 * (x + y))]).reshape(6, li)

    def field(seed):
        g = torch.Generator().manual_seed(seed)
        amp = torch.randn(a.heads, 6, 128, generator=g)
        img = torch.einsum("hkd,kn->nhd", amp, basis) * 0.8 + torch.randn(li, a.heads, 128, generator=g)
        return torch.cat([img, torch.randn(256, a.heads, 128, generator=g)]).to(torch.bfloat16).contiguous()
    os.makedirs(a.work, exist_ok=True)
    meta = {"image_tokens": str(li), "text_tokens": "256", "image_row_stride": "16", "grid": json.dumps([T, Hh, W]),
            "valid": "57", "layer": "0"}
    save_file({"q": field(2 * a.seed + 1), "k": field(2 * a.seed + 2)}, os.path.join(a.work, "qk_layer0.safetensors"),
              metadata=meta)
    rec(kind="hyparity_synth_qk", heads=a.heads, tokens=li + 256, seed=a.seed)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    o = sub.add_parser("official", help="checkpoint + inputs + the official forward with block dumps")
    o.add_argument("--official", required=True, help="folder holding Tencent's hyvideo/modules (peers/hvofficial)")
    c = sub.add_parser("compare", help="per-block and final rel L2, ours vs official")
    c.add_argument("--tol", type=float, default=1e-2)
    c.add_argument("--pairs", default=None, help="test:ref,... dump names side by side (no pass/fail), e.g. "
                   "ours:official,ours:official_f32,official:official_f32")
    m = sub.add_parser("mask", help="official AttenCarve mask builder vs ours on one block's q/k")
    m.add_argument("--jenga", required=True, help="folder holding Jenga's gilbert.py and hyvideo/modules (peers/jengahy)")
    m.add_argument("--jenga-bin", default="build/bin/jenga")
    m.add_argument("--configs", default="0.8:0.3,0.95:0.5", help="drop:p pairs (full-res Turbo, Flash stages)")
    m.add_argument("--curve-cache", default=None)
    sq = sub.add_parser("synth-qk", help="structured random q/k at the 720p grid for the mask step alone")
    sq.add_argument("--heads", type=int, default=24)
    sq.add_argument("--seed", type=int, default=0)
    cv = sub.add_parser("curves", help="the official curve tables of a grid into --curve-cache")
    cv.add_argument("--jenga", required=True)
    cv.add_argument("--grid", default="32,45,80")
    cv.add_argument("--curve-cache", required=True)
    for p in (o, c, m, sq):
        p.add_argument("--work", required=True, help="folder for the checkpoint, inputs and dumps")
    for p in (o, m):
        p.add_argument("--device", default=None, help="cuda (default when present) or cpu")
    o.add_argument("--size", default="full", choices=sorted(SIZES))
    o.add_argument("--seed", type=int, default=0)
    o.add_argument("--stride", type=int, default=16, help="image rows kept per block dump (every S-th)")
    o.add_argument("--precision", default="bf16", choices=["bf16", "f32"],
                   help="bf16: as the official pipeline (bf16 weights, bf16 autocast); f32: the same weights' values in "
                        "f32, no TF32 (on the GPU; the CPU always runs f32)")
    o.add_argument("--name", default="official", help="dump file WORK/<name>.safetensors")
    o.add_argument("--attn-backend", default="flash", choices=["flash", "cudnn", "efficient"],
                   help="the SDPA backend standing in for flash_attn_varlen_func (bf16 on the GPU): flash (default, "
                        "the anchor's) or another, to see how far the official forward moves with its attention kernel")
    o.add_argument("--mask-layers", default="0,59",
                   help="blocks whose attention q/k go to WORK/qk_layer<i>.safetensors (comma list; 0 = first double, 59 = last single)")
    c.add_argument("--double-blocks", type=int, default=20, help="for the table's kind column")
    a = ap.parse_args()
    {"official": cmd_official, "compare": cmd_compare, "mask": cmd_mask, "curves": cmd_curves,
     "synth-qk": cmd_synth_qk}[a.cmd](a)


if __name__ == "__main__":
    main()
