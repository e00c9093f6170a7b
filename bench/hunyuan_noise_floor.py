#!/usr/bin/env python3
"""The noise floor of the OFFICIAL HunyuanVideo bf16 forward (issue #23 point 6), on the CPU.

The official pipeline runs HYVideoDiffusionTransformer with bf16 weights under CUDA bf16 autocast
(REFERENCE-hunyuan 1.10). This runs that same official model (imported from --official, never
copied here) with CUDA autocast's policy written out by hand, so that one detail at a time can
change while every rounding place stays the official one:
  linear / conv3d / attention: bf16 inputs, f32 accumulation, one rounding of the output to bf16
  (cuBLASLt's bias epilogue; FlashAttention's f32 softmax); layer_norm: f32 out (autocast's fp32
  list); everything else by type promotion in bf16, as under autocast.
Variants (each one full forward, per-block dumps of image rows 0, S, 2S, ... and the valid text rows):
  f32     the same weights' values in f32 throughout (the reference without bf16 rounding)
  base    the policy above
  splitk  base with every GEMM summed in another order (two halves of K, still f32): what a
          different GEMM kernel (cuBLAS algorithm, GPU, library version) changes
  gemm64  base with GEMMs accumulated in f64 (then one rounding)
  att64   base with attention in f64 (then one rounding)
  amx     base with torch's own bf16 linear (oneDNN: the bias added after a first rounding)
Each variant differs from base only below one bf16 ulp of some GEMM or attention output; the table
says how far that moves the official forward through its 60 blocks. A goal tighter than that
distance can only be met by a bit-exact clone of the official kernels' summation order.

  python bench/hunyuan_noise_floor.py --official peers/hvofficial --size deep --work /tmp/nf
(deep: 20 + 40 blocks at hidden 1024, 8 heads of 128, token grid 8x16x16 + 256 text rows; about
4 minutes on two cores with AMX. Needs torch, safetensors, einops.)
"""
import argparse, math, os, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hunyuan_parity_peer as peer  # the official model's import, sizes, seeded weights and inputs

VARIANTS = {  # name: (GEMM mode, attention accumulation)
    "base": ("f32", "f32"), "splitk": ("splitk", "f32"), "gemm64": ("f64", "f32"),
    "att64": ("f32", "f64"), "amx": ("torch", "f32"),
}


class Policy:
    """CUDA bf16 autocast's policy for the functions the official DiT calls, with the variant's
    GEMM and attention accumulation; f32 = no rounding at all."""

    def __init__(self, torch, F):
        self.torch, self.F = torch, F
        self.orig = {n: getattr(F, n) for n in ("linear", "layer_norm", "conv3d")}
        self.f32, self.gemm, self.att = False, "f32", "f32"

    def set(self, variant):
        self.f32 = variant == "f32"
        if not self.f32:
            self.gemm, self.att = VARIANTS[variant]

    def install(self):
        F = self.F
        F.linear, F.layer_norm, F.conv3d, F.scaled_dot_product_attention = (
            self.linear, self.layer_norm, self.conv3d, self.sdpa)

    def cast(self, *ts):
        dt = self.torch.float32 if self.f32 else self.torch.bfloat16
        return [None if t is None else t.to(dt) for t in ts]

    def linear(self, x, w, b=None):
        x, w, b = self.cast(x, w, b)
        if self.f32 or self.gemm == "torch":
            return self.orig["linear"](x, w, b)
        if self.gemm == "splitk":
            h = x.shape[-1] // 2
            y = x[..., :h].float() @ w[:, :h].float().T + x[..., h:].float() @ w[:, h:].float().T
        else:
            acc = self.torch.float64 if self.gemm == "f64" else self.torch.float32
            y = x.to(acc) @ w.to(acc).T
        if b is not None:
            y = y + b.to(y.dtype)
        return y.to(self.torch.bfloat16)

    def layer_norm(self, x, shape, w=None, b=None, eps=1e-5):
        f = lambda t: None if t is None else t.float()
        return self.orig["layer_norm"](x.float(), shape, f(w), f(b), eps)  # fp32 out, as autocast

    def conv3d(self, x, w, b=None, *a, **kw):
        x, w, b = self.cast(x, w, b)
        return self.orig["conv3d"](x, w, b, *a, **kw)

    def attend(self, q, k, v, mask=None):
        """[B, H, L, D]: scores, softmax and P.V accumulated in f32 (f64 for att64), one rounding."""
        torch = self.torch
        q, k, v = self.cast(q, k, v)
        acc = torch.float64 if (not self.f32 and self.att == "f64") else torch.float32
        s = (q.to(acc) @ k.to(acc).transpose(-1, -2)) / math.sqrt(q.shape[-1])
        if mask is not None:
            s = s.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else s + mask.to(acc)
        o = torch.softmax(s, -1) @ v.to(acc)
        return o.to(torch.float32 if self.f32 else torch.bfloat16)

    def sdpa(self, q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, **kw):
        return self.attend(q, k, v, attn_mask)  # the token refiner's attention

    def varlen(self, q, k, v, cu_q, cu_k, max_q, max_k, *a, **kw):
        """flash_attn_varlen_func: each cu_seqlens segment (image + valid text | padding) alone."""
        outs, cu = [], cu_q.tolist()
        for s, e in zip(cu[:-1], cu[1:]):
            if e > s:
                qs, ks, vs = (t[s:e].transpose(0, 1).unsqueeze(0) for t in (q, k, v))
                outs.append(self.attend(qs, ks, vs)[0].transpose(0, 1))
        return self.torch.cat(outs, 0)


def rel_l2(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--official", required=True, help="Tencent/HunyuanVideo checkout (hyvideo/ inside)")
    ap.add_argument("--size", default="deep", choices=sorted(peer.SIZES))
    ap.add_argument("--variants", default="f32,base,splitk,gemm64,att64",
                    help=f"comma list of f32, {', '.join(VARIANTS)}; the table compares each with base (f32: base vs f32)")
    ap.add_argument("--stride", type=int, default=4, help="image rows kept per block dump (every S-th)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--work", default=None, help="folder for the per-variant dumps (<variant>.pt); none: kept in memory")
    a = ap.parse_args()
    names = [v for v in a.variants.split(",") if v]
    bad = [v for v in names if v != "f32" and v not in VARIANTS]
    if bad or "base" not in names:
        peer.die(f"--variants {a.variants}: give base and any of f32, {', '.join(VARIANTS)}")
    import torch
    import torch.nn.functional as F
    if a.threads:
        torch.set_num_threads(a.threads)
    pol = Policy(torch, F)
    pol.install()
    M, rope_fn = peer.import_official(a.official, torch, pol.varlen, "cpu")
    import hyvideo.modules.attenion as A
    A.flash_attn_varlen_func = pol.varlen
    cfg = peer.SIZES[a.size]
    model = peer.build_model(M, torch, cfg, "cpu")
    peer.randomize(model, torch, a.seed, "cpu")  # bf16 weights (f32 runs take their exact values)
    inp = peer.make_inputs(torch, cfg, a.seed)
    _, T, H, W = cfg["latent"]
    grid = (T, H // 2, W // 2)
    li = grid[0] * grid[1] * grid[2]
    nv = (li + a.stride - 1) // a.stride + cfg["valid"]  # image rows kept + valid text rows
    cos, sin = rope_fn([16, 56, 56], grid, theta=256, use_real=True, theta_rescale_factor=1)
    if a.work:
        os.makedirs(a.work, exist_ok=True)

    def forward(variant):
        pol.set(variant)
        dt = torch.float32 if variant == "f32" else torch.bfloat16
        model.to(dt)  # bf16 <-> f32 is exact for bf16 values
        dumps, nd = {}, len(model.double_blocks)

        def keep(i, double):
            def hook(mod, args, out):
                img, tx = out if double else (out[:, :li], out[:, li:])
                dumps[i] = torch.cat([img[0, ::a.stride].float(), tx[0].float()], 0)[:nv].clone()
            return hook
        hooks = [b.register_forward_hook(keep(i, True)) for i, b in enumerate(model.double_blocks)]
        hooks += [b.register_forward_hook(keep(nd + i, False)) for i, b in enumerate(model.single_blocks)]
        s = time.perf_counter()
        with torch.no_grad():
            out = model(inp["x"].to(dt).unsqueeze(0), inp["t"], text_states=inp["text_states"].to(dt).unsqueeze(0),
                        text_mask=inp["text_mask"].long().unsqueeze(0),
                        text_states_2=inp["text_states_2"].to(dt).unsqueeze(0), freqs_cos=cos, freqs_sin=sin,
                        guidance=inp["guidance"].to(dt), return_dict=False)
        for h in hooks:
            h.remove()
        dumps["out"] = out[0].float().clone()
        peer.rec(kind="hy_noise_floor_forward", variant=variant, size=a.size, seconds=round(time.perf_counter() - s, 1),
                 finite=bool(torch.isfinite(dumps["out"]).all()))
        if a.work:
            torch.save(dumps, os.path.join(a.work, f"{variant}.pt"))
        return dumps

    runs = {v: forward(v) for v in names}
    pairs = [("base", "f32")] if "f32" in runs else []
    pairs += [(v, "base") for v in names if v not in ("base", "f32")]
    keys = [k for k in runs["base"] if k != "out"] + ["out"]
    print(f"relative L2 (image + valid text rows), size {a.size}, {len(keys) - 1} blocks")
    print(f"{'block':>5} " + " ".join(f"{t + ' vs ' + r:>17}" for t, r in pairs))
    for k in keys:
        print(f"{str(k):>5} " + " ".join(f"{rel_l2(runs[t][k], runs[r][k]):>17.3e}" for t, r in pairs))
    peer.rec(kind="hy_noise_floor", size=a.size, pairs=[f"{t}:{r}" for t, r in pairs],
             final=[rel_l2(runs[t]["out"], runs[r]["out"]) for t, r in pairs],
             worst_block=[max(rel_l2(runs[t][k], runs[r][k]) for k in keys[:-1]) for t, r in pairs])


if __name__ == "__main__":
    main()
