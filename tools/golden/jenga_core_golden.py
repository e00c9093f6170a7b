#!/usr/bin/env python3
"""Goldens for the Jenga core (curves, neighbour sets, AttenCarve masks, schedules), produced by
running the OFFICIAL code (dvlab-research/Jenga, exported into an ignored folder).

  python3 tools/golden/jenga_core_golden.py --jenga third_party_ref --out tests/data/jenga_core

--jenga is the root of an exported dvlab-research/Jenga tree (gilbert.py, wan/, hyvideo/).
Missing third-party imports (matplotlib, flash_attn, diffusers base classes) are stubbed here;
the official files are imported unmodified. Nothing official is copied into the repo.
"""
import argparse
import importlib.machinery
import importlib.util
import inspect
import os
import sys
import types

import numpy as np
import torch
from safetensors.torch import save_file


def install_stubs():
    # matplotlib: gilbert.py imports it for its plotting helpers only.
    for name in ["matplotlib", "matplotlib.pyplot", "mpl_toolkits", "mpl_toolkits.mplot3d"]:
        stub = sys.modules.setdefault(name, types.ModuleType(name))
        stub.__spec__ = stub.__spec__ or importlib.machinery.ModuleSpec(name, None)  # diffusers' find_spec needs one
    sys.modules["mpl_toolkits.mplot3d"].Axes3D = object
    # flash_attn: only used by the attention wrapper, not by the mask builder.
    fa = types.ModuleType("flash_attn")
    fa.flash_attn_func = None
    sys.modules.setdefault("flash_attn", fa)
    # diffusers: the schedulers only need ConfigMixin/register_to_config and trivial helpers.
    try:
        import diffusers  # noqa: F401
        return
    except ImportError:
        pass

    class ConfigMixin:
        pass

    def register_to_config(init):
        sig = inspect.signature(init)

        def wrapped(self, *args, **kwargs):
            bound = sig.bind(self, *args, **kwargs)
            bound.apply_defaults()
            self.config = types.SimpleNamespace(**{k: v for k, v in bound.arguments.items() if k != "self"})
            init(self, *args, **kwargs)

        return wrapped

    class BaseOutput(dict):
        def __init__(self, *args, **kwargs):
            super().__init__(**kwargs)
            for k, v in kwargs.items():
                setattr(self, k, v)

    class SchedulerOutput(BaseOutput):
        pass

    import enum

    class KarrasDiffusionSchedulers(enum.Enum):
        NONE = 0

    class SchedulerMixin:
        pass

    class _Log:
        def get_logger(self, *a, **k):
            import logging
            return logging.getLogger("stub")

    mods = {
        "diffusers": {},
        "diffusers.configuration_utils": {"ConfigMixin": ConfigMixin, "register_to_config": register_to_config},
        "diffusers.schedulers": {},
        "diffusers.schedulers.scheduling_utils": {
            "KarrasDiffusionSchedulers": KarrasDiffusionSchedulers, "SchedulerMixin": SchedulerMixin,
            "SchedulerOutput": SchedulerOutput},
        "diffusers.utils": {"deprecate": lambda *a, **k: None, "is_scipy_available": lambda: False,
                            "BaseOutput": BaseOutput, "logging": _Log()},
    }
    for name, attrs in mods.items():
        m = types.ModuleType(name)
        for k, v in attrs.items():
            setattr(m, k, v)
        sys.modules[name] = m


def load_file(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def i32(x):
    return torch.tensor(np.asarray(x, dtype=np.int64).astype(np.int32))


def to_csr(dense):
    dense = dense.numpy().astype(bool)
    offsets, indices = [0], []
    for row in dense:
        nz = np.nonzero(row)[0]
        indices.extend(nz.tolist())
        offsets.append(len(indices))
    return i32(offsets), i32(indices)


# Shapes from the issue plus degenerate ones. One file per (shape, variant): the order (curve
# position -> raster index) in full up to 40000 tokens (transposed variants up to 5000), else
# every 13th (5th) position; the 3d and sliced files also hold the official neighbour sets as CSR.
CURVE_SHAPES = [(1, 1, 5), (7, 13, 22), (21, 30, 52), (31, 45, 80), (2, 3, 1), (4, 1, 9)]
TRANSPOSED = {(7, 13, 22): [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]],
              (1, 1, 5): [[2, 1, 0]], (21, 30, 52): [[2, 1, 0]], (4, 1, 9): [[1, 2, 0]]}


def gen_curves(g, out):
    import contextlib, io
    for (t, h, w) in CURVE_SHAPES:
        n = t * h * w
        with contextlib.redirect_stdout(io.StringIO()):
            variants = {"3d": (g.gilbert_mapping(t, h, w)[1], g.gilbert_block_neighbor_mapping(t, h, w)),
                        "sliced": (g.sliced_gilbert_mapping(t, h, w)[1],
                                   g.sliced_gilbert_block_neighbor_mapping(t, h, w))}
            for o in TRANSPOSED.get((t, h, w), []):
                variants["t%d%d%d" % tuple(o)] = (g.transpose_gilbert_mapping([t, h, w], o)[1], None)
        for name, (order, nb) in variants.items():
            order = np.asarray(order)
            tensors = {"shape": i32([t, h, w])}
            full_limit, stride = (40000, 13) if nb is not None else (5000, 5)
            if n <= full_limit:
                tensors["order"] = i32(order)
            else:
                pos = np.arange(0, n, stride)
                tensors["order_pos"] = i32(pos)
                tensors["order_val"] = i32(order[pos])
            if nb is not None:
                tensors["nb_offsets"], tensors["nb_indices"] = to_csr(nb)
            path = os.path.join(out, "curve_%dx%dx%d_%s.safetensors" % (t, h, w, name))
            save_file(tensors, path)
            print("wrote", path, os.path.getsize(path), "bytes")


# Mask cases: q/k are stored as bf16 (exact in f32); the official builder runs on the f32 values
# with the wrapper's zero padding to a multiple of 128.
MASK_CASES = [
    dict(name="wan_sliced", B=1, H=3, grid=(3, 10, 37), sliced=True, text_blocks=0, D=8, top_k=2, p=0.5, ffb=1),
    dict(name="wan_nonb", B=2, H=1, grid=(3, 10, 37), sliced=None, text_blocks=0, D=8, top_k=4, p=0.9, ffb=2),
    dict(name="wan_p1", B=1, H=2, grid=(3, 10, 10), sliced=True, text_blocks=0, D=16, top_k=0, p=1.0, ffb=0),
    dict(name="hy_text", B=1, H=3, grid=(2, 16, 32), sliced=False, text_blocks=2, D=8, top_k=3, p=0.3, ffb=0),
    dict(name="wan_many", B=1, H=1, grid=(4, 30, 42), sliced=True, text_blocks=0, D=4, top_k=10, p=0.9, ffb=1),
    dict(name="hy_many", B=1, H=1, grid=(4, 16, 40), sliced=False, text_blocks=2, D=4, top_k=5, p=0.5, ffb=0),
    dict(name="hy_ragged", B=1, H=2, grid=(3, 9, 40), sliced=False, text_blocks=2, D=8, top_k=1, p=0.7, ffb=0),
    # 100 vision blocks whose means lie close together: many scores tie in bf16 (mask_bf16 differs
    # from the f32 mask), the case for the builder's bf16 rounding. Last, so the cases above keep
    # their random draws.
    dict(name="hy_ties", B=1, H=1, grid=(4, 40, 80), sliced=False, text_blocks=2, D=8, top_k=10, p=0.5, ffb=0,
         spread=0.25),
]


class _CudaAutocastTorch:
    """torch as the official builder sees it under CUDA bf16 autocast, on the CPU: softmax and cumsum
    in f32 (CUDA autocast's fp32 list; CPU autocast has neither) and a stable sort (CUDA's for these
    sizes). Everything else is torch."""

    def __getattr__(self, name):
        return getattr(torch, name)

    def softmax(self, x, *a, **k):
        return torch.softmax(x.float(), *a, **k)

    def cumsum(self, x, *a, **k):
        return torch.cumsum(x.float(), *a, **k)

    def sort(self, x, dim=-1, descending=False):
        return torch.sort(x, dim=dim, descending=descending, stable=True)


class autocast_like_cuda:
    """Runs the builders' module code with _CudaAutocastTorch as their `torch`."""

    def __init__(self, *modules):
        self.modules = modules

    def __enter__(self):
        for m in self.modules:
            m.torch = _CudaAutocastTorch()

    def __exit__(self, *exc):
        for m in self.modules:
            m.torch = torch


def gen_masks(g, wan_attn, hy_attn, out):
    import contextlib, io
    gen = torch.Generator().manual_seed(1234)
    for c in MASK_CASES:
        t, h, w = c["grid"]
        vision = t * h * w
        n = vision + 128 * c["text_blocks"]
        B, H, D = c["B"], c["H"], c["D"]
        nblk = (n + 127) // 128

        def make():
            # Structured per block so that block means (and the softmax) are far from uniform.
            base = torch.randn(B, H, nblk, D, generator=gen) * c.get("spread", 1.5)
            x = base.repeat_interleave(128, dim=2)[:, :, :n] + torch.randn(B, H, n, D, generator=gen) * 0.7
            return x.to(torch.bfloat16).to(torch.float32)

        q, k = make(), make()
        pad = (128 - n % 128) % 128
        qp = torch.nn.functional.pad(q, [0, 0, 0, pad])
        kp = torch.nn.functional.pad(k, [0, 0, 0, pad])
        normal = nblk - c["text_blocks"]
        nb = None
        if c["sliced"] is not None:
            with contextlib.redirect_stdout(io.StringIO()):
                nb = (g.sliced_gilbert_block_neighbor_mapping(t, h, w) if c["sliced"]
                      else g.gilbert_block_neighbor_mapping(t, h, w))
        kwargs = dict(block_size_M=128, block_size_N=128, text_start_block=normal, num_blocks=nblk,
                      prob_threshold=c["p"], text_blocks=c["text_blocks"], block_neighbor_list=nb)
        def build(qq, kk):
            if c["text_blocks"] == 0:
                return wan_attn._build_block_index_with_importance_optimized(
                    qq[:, :, :normal * 128], kk, c["top_k"], first_frame_blocks=c["ffb"], **kwargs)
            assert c["ffb"] == 0
            return hy_attn._build_block_index_with_importance_optimized(qq[:, :, :normal * 128], kk, c["top_k"], **kwargs)
        mask = build(qp, kp)  # f32 q/k: the official builder in f32
        # As the official GPU pipelines run it: bf16 q/k under bf16 autocast (bf16 means, bmm and scale;
        # softmax and cumsum in f32, CUDA autocast's fp32 list; the sort stable, as CUDA's for 129..4096
        # blocks: ties keep the lower index).
        with autocast_like_cuda(wan_attn, hy_attn):
            mask_bf16 = build(qp.to(torch.bfloat16), kp.to(torch.bfloat16))
        tensors = {
            "q": q.to(torch.bfloat16).contiguous(), "k": k.to(torch.bfloat16).contiguous(),
            "mask": mask.to(torch.uint8).contiguous(), "mask_bf16": mask_bf16.to(torch.uint8).contiguous(),
            "params": torch.tensor([c["top_k"], c["text_blocks"], c["ffb"], t, h, w,
                                    -1 if c["sliced"] is None else int(c["sliced"])], dtype=torch.int32),
        }
        path = os.path.join(out, "mask_%s.safetensors" % c["name"])
        save_file(tensors, path, metadata={"p": repr(c["p"])})
        print("wrote", path, os.path.getsize(path), "bytes, density", mask.float().mean().item())


def gen_schedules(jenga, out):
    unipc = load_file(os.path.join(jenga, "wan/utils/fm_solvers_unipc.py"), "jenga_fm_solvers_unipc")
    fm = load_file(os.path.join(jenga, "hyvideo/diffusion/schedulers/scheduling_flow_match_discrete.py"),
                   "jenga_hy_flow_match")
    tensors = {}
    for steps, shift in [(50, 8.0), (50, 10.0), (30, 5.0), (7, 3.0), (27, 8.0), (27, 10.0), (40, 8.0), (40, 10.0)]:
        s = unipc.FlowUniPCMultistepScheduler(num_train_timesteps=1000, shift=1, use_dynamic_shifting=False)
        s.set_timesteps(steps, device="cpu", shift=shift)
        key = "wan_%d_%g" % (steps, shift)
        tensors[key + "_sigmas"] = s.sigmas.to(torch.float32).contiguous()
        tensors[key + "_timesteps"] = s.timesteps.to(torch.int64).contiguous()
    # Wan turbo switch (jenga_wan.py t2v_generate): drive the official scheduler through the loop
    # with unit tensors to read which sigmas x0 prediction and re-noising use.
    for steps in [50, 27, 40]:
        s = unipc.FlowUniPCMultistepScheduler(num_train_timesteps=1000, shift=1, use_dynamic_shifting=False)
        s.set_timesteps(steps, device="cpu", shift=8.0)
        ts = s.timesteps
        used_t, used_sigma, switch = [], [], []
        one = torch.ones(1, 1, 1, 1, 1)
        zero = torch.zeros(1, 1, 1, 1, 1)
        changed = False
        for idx in range(steps):
            t = ts[idx]
            used_t.append(int(t))
            if idx >= 25 and not changed:
                changed = True
                x0 = s.step_to_zero(one, t, zero, return_dict=False)[0]  # = -sigma_t
                used_sigma.append(float(s.sigmas[s.step_index]))
                noisy = s.add_noise(zero[0], one[0], ts[idx + 1].unsqueeze(0))  # = sigma of re-noising
                switch = [idx, -float(x0.flatten()[0]), float(noisy.flatten()[0])]
                s._step_index += 1
                s.disable_corrector = list(range(24, 38))
                s.set_timesteps(steps, device="cpu", shift=8.0 + 2)
                ts = s.timesteps
            else:
                s.step(zero, t, zero, return_dict=False)
                used_sigma.append(float(s.sigmas[s.step_index - 1]))
        key = "wanturbo_%d" % steps
        tensors[key + "_timesteps"] = torch.tensor(used_t, dtype=torch.int64)
        tensors[key + "_sigmas"] = torch.tensor(used_sigma, dtype=torch.float32)
        tensors[key + "_switch"] = torch.tensor(switch, dtype=torch.float64)
    for steps, shift in [(50, 7.0), (50, 9.0), (50, 11.0), (50, 5.0), (5, 7.0), (5, 9.0), (13, 7.0), (13, 9.0),
                         (13, 11.0)]:
        s = fm.FlowMatchDiscreteScheduler(num_train_timesteps=1000, shift=shift, reverse=True, solver="euler")
        s.set_timesteps(steps, device="cpu")
        key = "hy_%d_%g" % (steps, shift)
        tensors[key + "_sigmas"] = s.sigmas.to(torch.float32).contiguous()
        tensors[key + "_timesteps"] = s.timesteps.to(torch.float32).contiguous()
    # TeaCache rescale polynomials (numpy poly1d) at a few points, coefficients read from jenga_wan.py.
    import re
    src = open(os.path.join(jenga, "jenga_wan.py")).read()
    t2v = src[src.index("def generate"):src.index("wan_i2v")]
    coefs = [list(map(float, m.split(","))) for m in re.findall(r"coefficients = \[([^\]]*)\]", t2v)]
    assert len(coefs) == 4, coefs  # 1.3B/14B with use_ret_steps, then 1.3B/14B without
    xs = np.array([0.0, 0.01, 0.05, 0.1, 0.2, 0.37])
    tensors["teacache_x"] = torch.tensor(xs)
    for i, c in enumerate(coefs):
        tensors["teacache_coef_%d" % i] = torch.tensor(c, dtype=torch.float64)
        tensors["teacache_y_%d" % i] = torch.tensor(np.poly1d(c)(xs), dtype=torch.float64)
    path = os.path.join(out, "schedules.safetensors")
    save_file(tensors, path)
    print("wrote", path, os.path.getsize(path), "bytes")


def gen_presets(jenga, out):
    """Every flag of the official scripts/*.sh, parsed from the shell text, as JSON."""
    import json, re, shlex
    scripts = {}
    for name in sorted(os.listdir(os.path.join(jenga, "scripts"))):
        if not name.endswith(".sh"):
            continue
        text = open(os.path.join(jenga, "scripts", name)).read()
        text = re.sub(r"#.*", "", text).replace("\\\n", " ")
        flags = {}
        env = dict(re.findall(r"^\s*(?:export\s+)?(\w+)=(\S+)", text, re.M))
        for var, val in env.items():
            text = text.replace("$" + var, val.strip('"'))
        for line in text.splitlines():
            if not re.search(r"jenga\w*\.py", line):
                continue
            toks = shlex.split(line)
            cur = None
            for tok in toks[toks.index(next(t for t in toks if t.endswith(".py"))) + 1:]:
                if tok.startswith("--"):
                    cur = tok[2:]
                    flags[cur] = True
                elif cur is not None:
                    flags[cur] = tok if flags[cur] is True else (flags[cur] + [tok] if isinstance(flags[cur], list) else [flags[cur], tok])
        scripts[name] = flags
    path = os.path.join(out, "official_scripts.json")
    with open(path, "w") as f:
        json.dump(scripts, f, indent=1, sort_keys=True)
    print("wrote", path, os.path.getsize(path), "bytes")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jenga", required=True, help="root of the exported official dvlab-research/Jenga code")
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", choices=["curves", "masks", "schedules", "presets"], default=None)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    install_stubs()
    sys.path.insert(0, a.jenga)
    g = load_file(os.path.join(a.jenga, "gilbert.py"), "jenga_gilbert")
    if a.only in (None, "schedules"):
        gen_schedules(a.jenga, a.out)
        gen_presets(a.jenga, a.out)
    if a.only == "presets":
        gen_presets(a.jenga, a.out)
    if a.only in (None, "masks"):
        wan_attn = load_file(os.path.join(a.jenga, "wan/modules/attention_block_triton_diffres.py"), "jenga_wan_attn")
        hy_attn = load_file(os.path.join(a.jenga, "hyvideo/modules/attention_block_triton_diffres.py"), "jenga_hy_attn")
        gen_masks(g, wan_attn, hy_attn, a.out)
    if a.only in (None, "curves"):
        gen_curves(g, a.out)


if __name__ == "__main__":
    main()
