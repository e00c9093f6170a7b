"""Peer for `jenga bench text-encoder` and the full-size umT5-XXL parity check, run on the GPU machine.

  parity:  builds the official umT5-XXL encoder (wan/modules/t5.py: umt5_xxl(encoder_only=True), bf16
           as T5EncoderModel holds it) with its own random init, writes the weights with the official
           key names (bf16 safetensors) and random token ids (ids/mask i64 [1, 512], `--valid` tokens
           ending in </s>, zero padding), runs the official forward and keeps the valid rows as
           T5EncoderModel.__call__ does. Also runs the same weights in f32 as a common truth, and
           the bf16 model on the prompt padded to half the length (the same function: how far the
           official output moves with GEMM shapes alone).
  time:    times the official bf16 forward over 512 positions from that file; peak GPU memory.
           With --cpu-repro also the official bf16 model on the CPU (same code and weights, other
           summation order): how far two runs of the reference itself land apart.
  compare: relative L2 of our context against the official bf16 one and the f32 one.

The official code is imported from --peers (the ignored folder make_peers.sh lays out; peers/shim
stands in for ftfy/regex/transformers). Prints JSON lines. Ours; no official code here.
"""
import argparse, json, os, sys, time


def rec(**kw):
    print(json.dumps(kw), flush=True)


def load_official(peers):
    sys.path.insert(0, os.path.join(peers, "shim"))
    sys.path.insert(0, os.path.join(peers, "wanref"))
    import torch
    if not torch.cuda.is_available():  # t5.py calls torch.cuda.current_device() at import
        torch.cuda.current_device = lambda: "cpu"
    from wan.modules import t5 as T
    return torch, T


# A tiny umT5 (same structure) for smoke-testing this script on a CPU: --tiny --device cpu.
TINY = dict(vocab_size=300, dim=32, dim_attn=32, dim_ffn=48, num_heads=4, encoder_layers=3, decoder_layers=3)


def build(T, torch, a, device):
    return T.umt5_xxl(encoder_only=True, return_tokenizer=False, dtype=torch.bfloat16, device=device,
                      **(TINY if a.tiny else {}))


def cmd_parity(a):
    torch, T = load_official(a.peers)
    from safetensors.torch import save_file
    torch.manual_seed(a.seed)
    t0 = time.perf_counter()
    model = build(T, torch, a, a.device).eval().requires_grad_(False)
    save_file({k: v.contiguous().cpu() for k, v in model.state_dict().items()}, a.ckpt)
    g = torch.Generator().manual_seed(a.seed + 1)
    ids = torch.zeros(1, a.text_len, dtype=torch.long)
    mask = torch.zeros(1, a.text_len, dtype=torch.long)
    ids[0, :a.valid - 1] = torch.randint(3, model.token_embedding.num_embeddings, (a.valid - 1,), generator=g)
    ids[0, a.valid - 1] = 1  # </s>, as the tokenizer appends
    mask[0, :a.valid] = 1
    save_file({"ids": ids, "mask": mask}, a.ids)
    seq = int(mask.gt(0).sum())
    with torch.no_grad():
        ctx = model(ids.to(a.device), mask.to(a.device))[0, :seq].float().cpu()
        # The official model's own reproducibility: the same prompt padded to half the length is
        # the same function (padded keys are masked), computed with other GEMM shapes.
        half = max(seq, a.text_len // 2)
        ctx_half = model(ids[:, :half].to(a.device), mask[:, :half].to(a.device))[0, :seq].float().cpu()
        # The official bf16 model on the CPU: same code, weights and dtype, other summation order
        # (the run-to-run spread any second bf16 implementation has to live with). Padded to the
        # shortest multiple of 64 that holds the prompt: the same function (see ctx_half).
        ctx_cpu = None
        if a.cpu_repro and a.device != "cpu":
            short = min(a.text_len, (seq + 63) // 64 * 64)
            cpu_model = build(T, torch, a, "cpu").eval().requires_grad_(False)
            cpu_model.load_state_dict({k: v.cpu() for k, v in model.state_dict().items()})
            torch.set_num_threads(os.cpu_count() or 1)
            ctx_cpu = cpu_model(ids[:, :short], mask[:, :short])[0, :seq].float()
            del cpu_model
        model.float()  # the same (bf16-valued) weights in f32: a truth both sides are measured against
        ctx32 = model(ids.to(a.device), mask.to(a.device))[0, :seq].float().cpu()
    outs = {"context": ctx.contiguous(), "context_f32": ctx32.contiguous()}
    if ctx_cpu is not None:
        outs["context_bf16_cpu"] = ctx_cpu.contiguous()
    save_file(outs, a.out)
    rec(kind="official_t5_parity_forward", valid=seq, text_len=a.text_len, ctx_norm=ctx.norm().item(),
        rel_l2_official_bf16_vs_f32=((ctx.double() - ctx32.double()).norm() / ctx32.double().norm()).item(),
        rel_l2_official_bf16_pad_half_vs_full=((ctx_half.double() - ctx.double()).norm() / ctx.double().norm()).item(),
        rel_l2_official_bf16_cpu_vs_gpu=None if ctx_cpu is None else
        ((ctx_cpu.double() - ctx.double()).norm() / ctx.double().norm()).item(),
        rel_l2_official_bf16_cpu_vs_f32=None if ctx_cpu is None else
        ((ctx_cpu.double() - ctx32.double()).norm() / ctx32.double().norm()).item(),
        seconds=round(time.perf_counter() - t0, 1))


def cmd_time(a):
    torch, T = load_official(a.peers)
    from safetensors.torch import load_file
    model = build(T, torch, a, "meta")
    model.load_state_dict(load_file(a.ckpt, device=a.device), assign=True)
    model = model.eval().requires_grad_(False)
    ins = load_file(a.ids)
    ids, mask = ins["ids"].to(a.device), ins["mask"].to(a.device)
    sync = torch.cuda.synchronize if a.device == "cuda" else (lambda: None)

    def fwd():
        with torch.no_grad():
            return model(ids, mask)
    for _ in range(a.warmup):
        fwd()
    sync()
    if a.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    ts = []
    for _ in range(a.iters):
        s = time.perf_counter(); fwd(); sync(); ts.append((time.perf_counter() - s) * 1e3)
    ts.sort()
    rec(kind="official_t5_encode", positions=int(ids.shape[1]), valid=int(mask.sum()), ms=round(ts[len(ts) // 2], 2),
        ms_min=round(ts[0], 2), ms_max=round(ts[-1], 2), iters=a.iters,
        peak_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2) if a.device == "cuda" else None,
        device=torch.cuda.get_device_name() if a.device == "cuda" else "cpu")


def cmd_compare(a):
    from safetensors.torch import load_file
    ref, ours = load_file(a.ref), load_file(a.ours)["context"].double()
    r16, r32 = ref["context"].double(), ref["context_f32"].double()
    assert ours.shape == r16.shape, (ours.shape, r16.shape)
    rel = lambda x, y: ((x - y).norm() / y.norm()).item()
    extra = {}
    if "context_bf16_cpu" in ref:
        extra = dict(rel_l2_vs_official_bf16_cpu=rel(ours, ref["context_bf16_cpu"].double()),
                     rel_l2_official_bf16_cpu_vs_gpu=rel(ref["context_bf16_cpu"].double(), r16))
    rec(kind="t5_parity", rows=ours.shape[0], rel_l2_vs_official_bf16=rel(ours, r16), rel_l2_vs_f32=rel(ours, r32), **extra,
        rel_l2_official_bf16_vs_f32=rel(r16, r32), max_abs_vs_official_bf16=(ours - r16).abs().max().item())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--peers", default="peers")
    sub = p.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("parity")
    for n in ("--ckpt", "--ids", "--out"):
        q.add_argument(n, required=True)
    q.add_argument("--valid", type=int, default=101); q.add_argument("--text-len", type=int, default=512)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--cpu-repro", action="store_true", help="also run the official bf16 model on the CPU")
    t = sub.add_parser("time"); t.add_argument("--ckpt", required=True); t.add_argument("--ids", required=True)
    for x in (q, t):
        x.add_argument("--device", default="cuda"); x.add_argument("--tiny", action="store_true")
    t.add_argument("--iters", type=int, default=10); t.add_argument("--warmup", type=int, default=3)
    c = sub.add_parser("compare"); c.add_argument("--ref", required=True); c.add_argument("--ours", required=True)
    a = p.parse_args()
    {"parity": cmd_parity, "time": cmd_time, "compare": cmd_compare}[a.cmd](a)


if __name__ == "__main__":
    main()
