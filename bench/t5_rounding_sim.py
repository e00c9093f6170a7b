"""Where bf16 rounding costs accuracy in a umT5-like encoder (CPU, torch, minutes at dim 512).

Builds a random umT5-structured encoder (24 layers, the official init_weights scales, bf16-valued
weights) and runs it in f32 with bf16 rounding switched on at chosen points, against an f32 run:
  h    normed GEMM inputs          qkv  q/k/v           p   attention probabilities
  att  attention output            y    o/fc2 outputs   gf  gate/fc1 outputs    u  gated product
  xbf  bf16 residual stream        sbf  bf16 attention logits (the official bf16 model has both)
Prints the relative L2 of each configuration against f32, and of a replica of the official
rounding points with 1e-6 relative noise on each rounded value (as a different GEMM summation
order would give) against the noiseless one. Ours; no official code here.
usage: python3 bench/t5_rounding_sim.py [--dim 512 --heads 8 --ffn 1280 --tokens 101]
"""
import argparse, math
import torch

ap = argparse.ArgumentParser()
ap.add_argument("--dim", type=int, default=512); ap.add_argument("--heads", type=int, default=8)
ap.add_argument("--ffn", type=int, default=1280); ap.add_argument("--layers", type=int, default=24)
ap.add_argument("--tokens", type=int, default=101); ap.add_argument("--seed", type=int, default=0)
a = ap.parse_args()
torch.manual_seed(a.seed)
D, H, F, NL, L, NB = a.dim, a.heads, a.ffn, a.layers, a.tokens, 32
A, hd = a.dim, a.dim // a.heads
NOISE = [0.0]
bf = lambda t: (t * (1 + NOISE[0] * torch.randn_like(t))).to(torch.bfloat16).float()
rn = lambda std, *shape: (torch.randn(*shape) * std).to(torch.bfloat16).float()
W = [dict(q=rn((D * A) ** -0.5, A, D), k=rn(D ** -0.5, A, D), v=rn(D ** -0.5, A, D), o=rn((H * A) ** -0.5, D, A),
          g=rn(D ** -0.5, F, D), f1=rn(D ** -0.5, F, D), f2=rn(F ** -0.5, D, F), pos=rn((2 * NB * H) ** -0.5, NB, H))
     for _ in range(NL)]
emb = rn(1.0, L, D)


def bucket(rel, nb=NB, md=128):  # bidirectional T5 bucket
    nb //= 2
    b, n, me = (rel > 0).long() * nb, rel.abs(), nb // 2
    large = torch.clamp(me + (torch.log(n.float() / me) / math.log(md / me) * (nb - me)).long(), max=nb - 1)
    return b + torch.where(n < me, n, large)


B = bucket(torch.arange(L)[None] - torch.arange(L)[:, None])
norm = lambda x: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)
gelu = lambda x: 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def run(points):
    R = lambda name, t: bf(t) if name in points else t
    x = emb.clone()
    for w in W:
        h = R("h", norm(x))
        q, k, v = (R("qkv", h @ w[n].T).view(L, H, hd) for n in "qkv")
        s = torch.einsum("ihd,jhd->hij", q, k)
        s = R("sbf", s) + w["pos"][B].permute(2, 0, 1)
        p = R("p", torch.softmax(s, -1))
        x = R("xbf", x + R("y", R("att", torch.einsum("hij,jhd->ihd", p, v).reshape(L, A)) @ w["o"].T))
        h = R("h", norm(x))
        u = R("u", gelu(R("gf", h @ w["g"].T)) * R("gf", h @ w["f1"].T))
        x = R("xbf", x + R("y", u @ w["f2"].T))
    return norm(x)


ref = run(set())
rel = lambda t, r=ref: ((t - r).norm() / r.norm()).item()
ours_before = {"h", "qkv", "p", "att", "y", "gf", "u"}
ours = ours_before - {"y", "gf"}
official = ours_before | {"xbf", "sbf"}
off = run(official)
print(f"vs f32: ours {rel(run(ours)):.4f}  ours with bf16 y/gf {rel(run(ours_before)):.4f}  official-like {rel(off):.4f}")
for pt in sorted(ours_before):
    print(f"  only {pt:4s} rounded: {rel(run({pt})):.4f}")
NOISE[0] = 1e-6
print(f"official-like with 1e-6 noise vs official-like: {rel(run(official), off):.4f}")
