#!/usr/bin/env bash
# GPU machine, one session (~2-3 min of GPU time): `--offload` (DiT blocks streamed from pinned
# host memory through a ring of two device block buffers) against the resident DiT.
#  1. the GPU tests: bit-identical outputs with/without offload (forward, hooks, TeaCache, CUDA
#     graph, the loop dense / Jenga base / turbo / SVG, the CLI) and the weight memory held;
#  2. `jenga bench dit` (random weights, dense attention, 1 warm-up + 1 timed forward): Wan2.1
#     14B 1280x720x81 and 1.3B 832x480x81, each resident and with --offload (ms, weights held on
#     the GPU, allocator peak, driver-side used memory); the 14B offload run also with
#     --breakdown (its "weights wait" phase is the time compute stalled on a copy), the 1.3B one
#     also captured in a CUDA graph;
#  3. when mpirun is there: the tiny model under `mpirun -np 1` (sequence-parallel path), resident
#     vs --offload, same video bytes.
# Needs a built tree (build/bin/jenga, build/bin/jenga_tests). Logs and JSON lines under $OUT.
#   OUT=/tmp/out bash bench/gpu_offload.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:?set OUT}
BIN=${BIN:-build/bin}
mkdir -p "$OUT"
{ nvidia-smi -L; nvidia-smi --query-gpu=name,memory.total,pcie.link.gen.current,pcie.link.width.current --format=csv;
  free -g; git rev-parse HEAD; } > "$OUT/env.txt" 2>&1

s=$SECONDS
"$BIN/jenga_tests" --gtest_filter='CudaOffload*:Pipeline.OffloadFlag*' > "$OUT/tests.log" 2>&1
echo "tests rc=$? ($((SECONDS - s)) s)"; grep -E '^\[  (PASSED|FAILED) |FAILED|bit-identical|MiB on the GPU' "$OUT/tests.log" | head -30

bench() {  # tag, args...
  local tag=$1; shift
  s=$SECONDS
  "$BIN/jenga" bench dit --warmup 1 --iters 1 --json "$@" > "$OUT/bench_$tag.json" 2> "$OUT/bench_$tag.err"
  echo "$tag rc=$? ($((SECONDS - s)) s): $(cat "$OUT/bench_$tag.json")"; tail -2 "$OUT/bench_$tag.err"
}
bench 14b_720p_resident --config 14b --size 1280x720 --frames 81
bench 14b_720p_offload --config 14b --size 1280x720 --frames 81 --offload --breakdown
bench 13b_480p_resident --config 1.3b --size 832x480 --frames 81
bench 13b_480p_offload --config 1.3b --size 832x480 --frames 81 --offload
bench 13b_480p_offload_graph --config 1.3b --size 832x480 --frames 81 --offload --graph

# Sequence-parallel code path with offload (mpirun -np 1, NCCL world of one): the built-in tiny
# model, resident vs --offload, both through the Ulysses path; the videos should be equal bytes.
if command -v mpirun > /dev/null; then
  for m in resident offload; do
    flag=$([ $m = offload ] && echo --offload)
    mpirun --allow-run-as-root --oversubscribe -np 1 -x NCCL_NVLS_ENABLE=0 "$BIN/jenga" generate -p 'a corgi' --seed 3 \
      --size 128x128 --frames 5 --steps 4 --device cuda -q $flag -o "$OUT/np1_$m.y4m" > "$OUT/np1_$m.log" 2>&1
    echo "np1 $m rc=$?"
  done
  cmp "$OUT/np1_resident.y4m" "$OUT/np1_offload.y4m" && echo "np1: offload video == resident video"
fi

# One line per run: ms, GPU weights, allocator peak, driver-side used (GiB).
python3 - "$OUT" <<'PY' | tee "$OUT/summary.md"
import json, sys, pathlib
print("| run | ms | weights GiB (GPU) | host pinned GiB | peak alloc GiB | device used GiB | weights wait ms |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for p in sorted(pathlib.Path(sys.argv[1]).glob("bench_*.json")):
    try: j = json.loads(p.read_text().strip().splitlines()[-1])
    except Exception: print(f"| {p.stem[6:]} | failed | | | | | |"); continue
    w = j.get("breakdown_ms", {}).get("weights wait", "")
    print(f"| {p.stem[6:]} | {j['ms_median']:.1f} | {j['weights_gib']:.2f} | {j.get('host_pinned_gib', 0):.2f} | "
          f"{j['peak_alloc_gib']:.2f} | {j['device_used_gib']:.2f} | {w if w == '' else f'{w:.1f}'} |")
PY
