"""Peer for `jenga bench vae` and the full-size VAE decoder parity check, run on the GPU machine.

  run:     builds the official Wan2.1 WanVAE_ (dim 96, z_dim 16, the _video_vae config) with random
           weights, writes its decoder (decoder.*, conv2.*; official key names, bf16 values) to
           --ckpt, random latents [16, T, H/8, W/8] to --latents, decodes them as the official
           WanVAE.decode does (z / (1/std) + mean, chunked decode, clamp), saves the frames
           (f32 default = official; and under bf16 autocast) to --out, and times both decodes with
           their peak GPU memory (torch.cuda.max_memory_allocated, weights included).
  compare: PSNR (frames in [-1, 1], peak-to-peak 2) and relative L2 of `jenga debug vae-decode`
           output against the official frames.

The official code is imported from --peers (wanref/ for wan.modules.vae, shim/ for einops if
missing). Prints JSON lines. Ours; no official code here.
"""
import argparse, json, math, os, sys, time


def rec(**kw):
    print(json.dumps(kw), flush=True)


MEAN = [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
        0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921]
STD = [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
       3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160]
CFG = dict(dim=96, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
           temperal_downsample=[False, True, True], dropout=0.0)


def load_official(peers):
    sys.path.insert(0, os.path.join(peers, "wanref"))
    try:
        import einops  # noqa: F401
    except ImportError:
        sys.path.insert(0, os.path.join(peers, "shim"))
    import torch
    import importlib.util
    # Import vae.py alone (wan/__init__ pulls the whole pipeline and its dependencies).
    spec = importlib.util.spec_from_file_location("wan_vae_official", os.path.join(peers, "wanref/wan/modules/vae.py"))
    V = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(V)
    return torch, V


def timed(torch, fn, iters, cuda):
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    ts = []
    out = None
    for _ in range(iters):
        sync()
        s = time.perf_counter()
        out = fn()
        sync()
        ts.append((time.perf_counter() - s) * 1e3)
    ts.sort()
    return ts[len(ts) // 2], ts, out


def cmd_run(a):
    torch, V = load_official(a.peers)
    from safetensors.torch import save_file
    torch.manual_seed(a.seed)
    model = V.WanVAE_(**dict(CFG, dim=a.dim)).eval().requires_grad_(False)
    sd = {}
    with torch.no_grad():
        for n, p in model.state_dict().items():
            if n.endswith("gamma"):
                v = 1 + 0.1 * torch.randn_like(p)
            elif n.endswith(".weight"):
                v = torch.randn_like(p) / math.sqrt(p[0].numel())
            else:
                v = 0.02 * torch.randn_like(p)
            sd[n] = v.to(torch.bfloat16)  # bf16 values: both sides start from identical weights
        model.load_state_dict({k: v.float() for k, v in sd.items()})
    save_file({k: v.contiguous() for k, v in sd.items() if k.startswith(("decoder.", "conv2."))}, a.ckpt)
    w, h = (int(v) for v in a.size.split("x"))
    z = torch.randn(16, (a.frames - 1) // 4 + 1, h // 8, w // 8)
    save_file({"latents": z.contiguous()}, a.latents)
    cuda = a.device == "cuda"
    dev = torch.device(a.device)
    model = model.to(dev)
    mean, std = torch.tensor(MEAN, device=dev), torch.tensor(STD, device=dev)
    scale = [mean, 1.0 / std]
    zc = z.to(dev)
    outs = {}
    for name, dtype in (("f32", torch.float), ("bf16", torch.bfloat16)):
        def dec():  # official WanVAE.decode
            with torch.no_grad(), torch.autocast(a.device, dtype=dtype, enabled=dtype != torch.float):
                return model.decode(zc.unsqueeze(0), scale).float().clamp_(-1, 1).squeeze(0)
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        ms, all_ms, out = timed(torch, dec, a.iters, cuda)
        outs[name] = out.cpu().contiguous()
        rec(kind="official_wan_vae_decode", autocast=name, tf32_conv=torch.backends.cudnn.allow_tf32, size=a.size,
            frames=a.frames, ms=round(ms, 1), ms_all=[round(t, 1) for t in all_ms],
            peak_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
            device=torch.cuda.get_device_name() if cuda else "cpu")
        del out
    save_file({"frames": outs["f32"], "frames_bf16": outs["bf16"]}, a.out)
    rec(kind="official_vae_parity_frames", shape=list(outs["f32"].shape),
        psnr_bf16_vs_f32=psnr(outs["bf16"], outs["f32"]))


def psnr(x, ref):
    mse = ((x.double().clamp(-1, 1) - ref.double().clamp(-1, 1)) ** 2).mean().item()
    return float("inf") if mse == 0 else 10 * math.log10(4.0 / mse)


def cmd_compare(a):
    from safetensors.torch import load_file
    ref, ours = load_file(a.ref), load_file(a.ours)["frames"].double()
    res = {"kind": "vae_parity"}
    for k in ("frames", "frames_bf16"):
        r = ref[k].double()
        res[f"psnr_vs_official_{k}"] = psnr(ours, r)
        res[f"rel_l2_vs_official_{k}"] = ((ours - r).norm() / r.norm()).item()
        res[f"max_abs_vs_official_{k}"] = (ours - r).abs().max().item()
    rec(**res)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--peers", default="peers")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    for n in ("--ckpt", "--latents", "--out"):
        r.add_argument(n, required=True)
    r.add_argument("--size", default="832x480"); r.add_argument("--frames", type=int, default=81)
    r.add_argument("--iters", type=int, default=3); r.add_argument("--seed", type=int, default=0)
    r.add_argument("--dim", type=int, default=96, help="base width (96 = Wan2.1; smaller for a quick CPU check)")
    r.add_argument("--device", default="cuda")
    c = sub.add_parser("compare"); c.add_argument("--ref", required=True); c.add_argument("--ours", required=True)
    a = p.parse_args()
    {"run": cmd_run, "compare": cmd_compare}[a.cmd](a)


if __name__ == "__main__":
    main()
