"""Peer for `jenga bench dit` and the full-size DiT parity check, run on the GPU machine.

  time:    times the official Wan2.1 WanModel forward (random weights, official fp32 params under
           bf16 autocast, as upstream runs it) with torch SDPA flash and cuDNN backends.
  parity:  writes a random full-size checkpoint with the official key names (bf16 safetensors)
           and random inputs, runs the official forward in bf16 autocast, saves the output and the
           per-block residual streams, so `jenga debug dit-forward --device cuda` can be compared.
  compare: relative L2 of our output against the official one (and per block when given).

The official code is imported from --peers (the ignored folder make_peers.sh lays out; it needs
peers/shim on the path for diffusers/ftfy stand-ins). Prints JSON lines. Ours; no official code here.
"""
import argparse, json, math, os, sys, time


def rec(**kw):
    print(json.dumps(kw), flush=True)


def load_official(peers):
    sys.path.insert(0, os.path.join(peers, "shim"))
    sys.path.insert(0, os.path.join(peers, "wanref"))
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import sdpa_kernel, SDPBackend
    import wan.modules.model as M
    backend = [SDPBackend.FLASH_ATTENTION]

    def sdpa(q, k, v, q_lens=None, k_lens=None, dropout_p=0., softmax_scale=None, q_scale=None,
             causal=False, window_size=(-1, -1), deterministic=False, dtype=torch.bfloat16, version=None):
        out_dtype = q.dtype
        q, k, v = (x.to(torch.bfloat16).transpose(1, 2) for x in (q, k, v))
        with sdpa_kernel(backend):
            o = F.scaled_dot_product_attention(q, k, v)
        return o.transpose(1, 2).contiguous().to(out_dtype)

    M.flash_attention = sdpa
    return torch, M, backend, SDPBackend


CFG13 = dict(model_type="t2v", patch_size=(1, 2, 2), text_len=512, in_dim=16, dim=1536, ffn_dim=8960,
             freq_dim=256, text_dim=4096, out_dim=16, num_heads=12, num_layers=30, window_size=(-1, -1),
             qk_norm=True, cross_attn_norm=True, eps=1e-6)


def bench(torch, fn, warm=2, iters=5):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(iters):
        s = time.perf_counter(); fn(); torch.cuda.synchronize(); ts.append((time.perf_counter() - s) * 1e3)
    ts.sort()
    return ts[len(ts) // 2]


def latent_shape(size, frames):
    w, h = (int(v) for v in size.split("x"))
    return (16, (frames - 1) // 4 + 1, h // 8, w // 8)


def cmd_time(a):
    torch, M, backend, B = load_official(a.peers)
    torch.manual_seed(0)
    model = M.WanModel(**CFG13).cuda().eval().requires_grad_(False)
    shp = latent_shape(a.size, a.frames)
    x = [torch.randn(*shp, device="cuda")]
    ctx = [torch.randn(120, 4096, device="cuda")]
    t = torch.tensor([900.0], device="cuda")
    seq = shp[1] * (shp[2] // 2) * (shp[3] // 2)

    def fwd():
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            return model(x, t=t, context=ctx, seq_len=seq)[0]
    for name, be in (("flash", B.FLASH_ATTENTION), ("cudnn", B.CUDNN_ATTENTION)):
        backend[0] = be
        torch.cuda.reset_peak_memory_stats()
        ms = bench(torch, fwd, iters=a.iters)
        rec(kind="official_wan_dit_forward", sdpa=name, size=a.size, frames=a.frames, tokens=seq, ms=round(ms, 1),
            peak_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2), device=torch.cuda.get_device_name())


def write_random_checkpoint(torch, model, cfg, ckpt):
    """Random weights with the scales of `jenga debug make-tiny` (O(1) activations), rounded to
    bf16 so both sides start from identical values: loaded into `model` (drawn from torch's global
    RNG in state_dict order) and written to CKPT/{diffusion_pytorch_model.safetensors,config.json}.
    Also used by tools/golden/jenga_wan_pipeline.py --full."""
    from safetensors.torch import save_file
    sd = {}
    with torch.no_grad():
        for n, p in model.state_dict().items():
            if "modulation" in n:
                v = torch.randn_like(p) / math.sqrt(cfg["dim"])
            elif n.endswith("norm_q.weight") or n.endswith("norm_k.weight") or n.endswith("norm3.weight"):
                v = 1 + 0.1 * torch.randn_like(p)
            elif n.endswith(".weight"):
                v = torch.randn_like(p) / math.sqrt(p[0].numel())
            else:
                v = 0.02 * torch.randn_like(p)
            sd[n] = v.to(torch.bfloat16).contiguous()
        model.load_state_dict({k: v.float() for k, v in sd.items()})
    os.makedirs(ckpt, exist_ok=True)
    save_file(sd, os.path.join(ckpt, "diffusion_pytorch_model.safetensors"))
    with open(os.path.join(ckpt, "config.json"), "w") as f:
        json.dump({"_class_name": "WanModel", **{k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()}}, f)


def cmd_parity(a):
    torch, M, backend, B = load_official(a.peers)
    from safetensors.torch import save_file
    torch.manual_seed(a.seed)
    cfg = dict(CFG13)
    model = M.WanModel(**cfg).eval().requires_grad_(False)
    write_random_checkpoint(torch, model, cfg, a.ckpt)
    model = model.cuda()
    shp = latent_shape(a.size, a.frames)
    x = torch.randn(*shp)
    ctx = torch.randn(a.ctx_len, 4096)
    t = torch.tensor([a.t])
    save_file({"x": x, "t": t, "context": ctx}, a.inputs)
    seq = shp[1] * (shp[2] // 2) * (shp[3] // 2)
    blocks = {}
    hooks = [blk.register_forward_hook(lambda m, i, o, n=n: blocks.__setitem__(f"block{n}", o[0].float().cpu()))
             for n, blk in enumerate(model.blocks)]
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        out = model([x.cuda()], t=t.cuda(), context=[ctx.cuda()], seq_len=seq)[0].float().cpu()
    for h in hooks:
        h.remove()
    save_file({"out": out.contiguous(), **{k: v.contiguous() for k, v in blocks.items()}}, a.out)
    rec(kind="official_parity_forward", tokens=seq, out_norm=out.norm().item())


def cmd_compare(a):
    import torch
    from safetensors.torch import load_file
    ref, ours = load_file(a.ref), load_file(a.ours)
    r, o = ref["out"].double(), ours["out"].double()
    rel = ((o - r).norm() / r.norm()).item()
    res = {"kind": "dit_parity", "rel_l2_out": rel, "max_abs_out": (o - r).abs().max().item()}
    for k in sorted(ref):
        if k.startswith("block") and k in ours:
            rb, ob = ref[k].double(), ours[k].double()
            res[f"rel_l2_{k}"] = ((ob - rb).norm() / rb.norm()).item()
    rec(**res)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--peers", required=True)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("time"); t.add_argument("--size", default="832x480"); t.add_argument("--frames", type=int, default=81)
    t.add_argument("--iters", type=int, default=5)
    q = sub.add_parser("parity")
    for n, d in (("--ckpt", None), ("--inputs", None), ("--out", None)):
        q.add_argument(n, required=True)
    q.add_argument("--size", default="832x480"); q.add_argument("--frames", type=int, default=81)
    q.add_argument("--ctx-len", type=int, default=120); q.add_argument("--t", type=float, default=900.0)
    q.add_argument("--seed", type=int, default=0)
    c = sub.add_parser("compare"); c.add_argument("--ref", required=True); c.add_argument("--ours", required=True)
    a = p.parse_args()
    {"time": cmd_time, "parity": cmd_parity, "compare": cmd_compare}[a.cmd](a)


if __name__ == "__main__":
    main()
