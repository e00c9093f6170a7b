#!/usr/bin/env python3
"""What the official-Jenga timing peers share (bench/hunyuan_jenga_peer.py for T2V,
bench/hunyuan_i2v_jenga_peer.py for I2V): one forward per stage configuration timed inside a
time budget, the per-preset estimate `sum over stages (computed x forward ms + skipped x
skipped ms)`, SIGTERM handling that still prints the estimates, and the markdown summary of the
JSON lines.

  python3 bench/jenga_peer_timing.py summary results.jsonl   # the tables the GPU scripts print
"""
import contextlib, json, signal, sys, time


def rec(**kw):
    print(json.dumps(kw), flush=True)


class Interrupted(BaseException):  # not Exception: wrappers such as Triton's interpreter re-raise those
    pass


class ForwardTimer:
    """Times forwards on `dev` (CUDA events on the GPU, wall clock on the CPU) and keeps the
    budget: before a forward it predicts its time from those already measured (attention grows
    with tokens^2, the rest linearly; the larger of the two, upward) and skips it when it would
    not fit. Records are JSON lines of kind `<prefix>_forward`."""

    def __init__(self, torch, dev, budget_s, prefix, t0=None):
        self.torch, self.dev, self.budget_s, self.prefix = torch, dev, budget_s, prefix
        self.t0 = time.perf_counter() if t0 is None else t0
        self.seen = []  # (tokens, seconds a configuration took: warm-up + timed forward)
        self.stop = []

    def elapsed(self):
        return time.perf_counter() - self.t0

    def sync(self):
        if self.dev == "cuda":
            self.torch.cuda.synchronize()

    def peak(self):
        return round(self.torch.cuda.max_memory_allocated() / 2**30, 1) if self.dev == "cuda" else None

    def reset_peak(self):
        if self.dev == "cuda":
            self.torch.cuda.reset_peak_memory_stats()

    def est_s(self, tokens, factor=1.0):
        return factor * max((sec * (tokens / t) ** 2 if tokens > t else sec * tokens / t for t, sec in self.seen),
                            default=0.0)

    def have_time(self, need_s):
        return self.budget_s - self.elapsed() > need_s + 5

    def timed(self, call):
        """(output, device ms, wall ms) of one call."""
        if self.dev == "cuda":
            e0, e1 = self.torch.cuda.Event(enable_timing=True), self.torch.cuda.Event(enable_timing=True)
            self.sync(); w0 = time.perf_counter(); e0.record()
            out = call()
            e1.record(); self.sync()
            return out, e0.elapsed_time(e1), (time.perf_counter() - w0) * 1e3
        w0 = time.perf_counter(); out = call()
        ms = (time.perf_counter() - w0) * 1e3
        return out, ms, ms

    def median_ms(self, call, reps):
        """A warm-up call, then the median of `reps` timed calls (the skipped-step forwards)."""
        call(); self.sync()
        self.reset_peak()
        ts = sorted(self.timed(call)[1] for _ in range(max(1, reps)))
        return ts[len(ts) // 2], len(ts)

    def forward(self, what, tokens, prepare, fields, est_factor=1.0, probe=None):
        """One configuration: skip it (a `skipped_for: budget` line) when the prediction does not
        fit, else prepare() -> a zero-argument forward, one warm-up (Triton compile, allocator;
        `probe` is a context manager yielding a list that the mask density is collected into
        during it), then one timed forward. Returns the record, or None when skipped."""
        if not self.have_time(self.est_s(tokens, est_factor)):
            rec(kind=f"{self.prefix}_forward", what=what, skipped_for="budget", **fields)
            return None
        call = prepare()
        s = time.perf_counter()
        with (probe() if probe else contextlib.nullcontext([])) as density:
            call(); self.sync()
        warm_s = time.perf_counter() - s
        dens = round(float(self.torch.stack(density).mean()), 4) if density else None
        self.reset_peak()
        out, ms, wall = self.timed(call)
        self.seen.append((tokens, time.perf_counter() - s))
        r = dict(kind=f"{self.prefix}_forward", what=what, tokens=tokens, **fields, density=dens, ms=round(ms, 1),
                 wall_ms=round(wall, 1), warmup_s=round(warm_s, 1), peak_gb=self.peak(),
                 finite=bool(self.torch.isfinite(out).all()))
        rec(**r)
        return r

    @contextlib.contextmanager
    def interruptible(self):
        """SIGTERM (the GPU script's timeout) ends the block early with a `<prefix>_interrupted`
        line; whatever follows the block (the estimates) still runs."""
        def on_term(*_):
            self.stop.append(self.elapsed())
            raise Interrupted()
        signal.signal(signal.SIGTERM, on_term)
        try:
            yield
        except BaseException:
            if not self.stop:
                raise
            rec(kind=f"{self.prefix}_interrupted", s=round(self.stop[0], 1))
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def probe_density(BS):
    """Swaps the official AttenCarve builder of the attention module BS for one that records the
    kept fraction of image key blocks of every mask it builds."""
    density, orig = [], BS._build_block_index_with_importance_optimized

    def probing_builder(*args, **kw):
        m = orig(*args, **kw)
        density.append(m[..., :kw.get("text_start_block")].float().mean())  # image key blocks kept / image key blocks
        return m

    BS._build_block_index_with_importance_optimized = probing_builder
    try:
        yield density
    finally:
        BS._build_block_index_with_importance_optimized = orig


def print_estimates(prefix, plans, key, measured, floor, skip_ms, users, dense, dense_label):
    """Per preset of plans ({name: (flags, plan)}): one `<prefix>_stage` line per stage and one
    `<prefix>_preset_estimate` line. key(stage) -> the configuration key of measured/floor
    ({key: forward record or None}); skip_ms {grid tuple: ms}; dense {name: ms of one dense
    forward}, multiplied by the plan's step count (dense_label names what that forward is)."""
    for p, (fl, pl) in plans.items():
        terms, total, total_floor, ok, ok_floor = [], 0.0, 0.0, True, bool(floor)
        for st in pl["stages"]:
            k = key(st)
            m, fm = measured.get(k), floor.get(k)
            sk = skip_ms.get(tuple(st["grid"]))
            nc, ns_ = len(st["computed"]), len(st["skipped"])
            rec(kind=f"{prefix}_stage", preset=p, stage=st["stage"], grid=st["grid"], tokens=st["tokens"],
                top_k=st["top_k"], drop=st["drop"], p=st["p"], text_amp=st["text_amp"],
                ms=m["ms"] if m else None, ms_p0=fm["ms"] if fm else None, skip_ms=round(sk, 2) if sk is not None else None,
                computed=nc, skipped=ns_, measured_as=users[k][0], peak_gb=m["peak_gb"] if m else None)
            if m is None or (ns_ and sk is None):
                ok = False
            else:
                total += nc * m["ms"] + (ns_ * sk if ns_ else 0.0)
            if fm is None or (ns_ and sk is None):
                ok_floor = False
            else:
                total_floor += nc * fm["ms"] + (ns_ * sk if ns_ else 0.0)
            terms.append(f"s{st['stage']}: {nc} x {m['ms'] if m else '?'} + {ns_} x {round(sk, 1) if sk is not None else '?'}")
        name = next((n for n in ("cudnn", "flash") if n in dense), next(iter(dense), None))
        dms = dense.get(name)
        rec(kind=f"{prefix}_preset_estimate", preset=p, steps=pl["N"],
            computed=sum(len(st["computed"]) for st in pl["stages"]),
            skipped=sum(len(st["skipped"]) for st in pl["stages"]),
            dit_s=round(total / 1e3, 2) if ok else None, dit_s_p0=round(total_floor / 1e3, 2) if ok_floor else None,
            formula=" + ".join(terms),
            dense_dit_s=round(pl["N"] * dms / 1e3, 1) if dms else None, dense_sdpa=name, dense_forward=dense_label,
            note="DiT forwards only (no scheduler, re-noise, text encoders, VAE); random weights")


def summary(rows):
    """Markdown tables of a peer's JSON lines (any prefix) and of `jenga bench denoise --json` lines."""
    out = ["| preset | official DiT s (random weights) | at p=0 (floor) | computed / skipped forwards | "
           "formula (count x ms) | N x dense forward s |", "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if r.get("kind", "").endswith("_preset_estimate"):
            out.append(f"| {r['preset']} | {r['dit_s']} | {r['dit_s_p0']} | {r['computed']} / {r['skipped']} | "
                       f"{r['formula']} | {r['dense_dit_s']} ({r.get('dense_forward', '')} {r['dense_sdpa']}) |")
    out += ["", "| forward | grid | drop / top_k / p | density | ms | peak GB | used by |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if r.get("kind", "").endswith("_forward"):
            g = "x".join(map(str, r.get("grid", [])))
            out.append(f"| {r['what']}{' ' + r['sdpa'] if 'sdpa' in r else ''} | {g} | {r.get('drop', '')} / "
                       f"{r.get('top_k', '')} / {r.get('p', '')} | {r.get('density', '')} | "
                       f"{r.get('ms', r.get('skipped_for'))} | {r.get('peak_gb', '')} | {','.join(r.get('used_by', []))} |")
    ours = [r for r in rows if r.get("bench") == "denoise"]
    if ours:
        out += ["", "| ours (jenga bench denoise) | preset | size x frames | steps | DiT loop s | computed / reused | density | peak GiB |",
                "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in ours:
            d = r.get("denoise", {})
            out.append(f"| {r.get('model')} | {r.get('preset')} | {r.get('size')} x {r.get('frames')} | {r.get('steps')} | "
                       f"{r.get('seconds')} | {d['forwards'] - d['forwards_reused'] if 'forwards' in d and 'forwards_reused' in d else ''} / {d.get('forwards_reused', '')} | "
                       f"{d.get('sparse_block_density', '')} | {d.get('peak_gpu_alloc_gib', '')} |")
    return "\n".join(out)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "summary":
        sys.exit("usage: jenga_peer_timing.py summary RESULTS.jsonl")
    print(summary([json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")]))
