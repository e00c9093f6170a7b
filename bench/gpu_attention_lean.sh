#!/usr/bin/env bash
# One GPU-machine call for the leaner warp-specialised variants (paths 10-15) against path 9
# (the previous default) and cuDNN / Jenga Triton in the same call: build, GPU tests, benchmarks,
# peers, ncu, sanitizers (bench/gpu_attention_ws.sh does each step; logs under $OUT).
# Usage (on the GPU machine, in a copy of the worktree, peers/ beside it):
#   PEERS=/path/to/peers bash bench/gpu_attention_lean.sh
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ws="$here/gpu_attention_ws.sh"
export TEST_FILTER=${TEST_FILTER:-'Cuda*'}
export BENCH=${BENCH:-$'9 10 11 12 13 14 15 9;--shape wan1.3b480 --iters 20
9 12 13 14 9;--shape wan14b720 --iters 5 --warmup 2
9 10 11 12 13 14 9;--shape hunyuan720 --iters 5 --warmup 2
9 12 13;--shape hunyuan720 --density 0.2 --iters 10 --mask-build --text-blocks 2
9 12 13;--shape hunyuan720 --density 0.05 --iters 10 --mask-build --text-blocks 2
7 13 12;--shape 24,115456,64 --density 0.2 --iters 10
7 13 12;--shape 12,32760,64 --iters 20'}
export PEER_ARGS=${PEER_ARGS:-'--shape wan1.3b480 --shape wan14b720 --shape hunyuan720 --density 0.2'}
export NCU=${NCU:-$'12;--shape wan1.3b480'}
t0=$(date +%s)
bash "$ws" ${STEPS1:-build test bench peers}
echo "[lean] main steps done after $(( $(date +%s) - t0 )) s"
bash "$ws" ${STEPS2:-ncu sanitize}
echo "[lean] all done after $(( $(date +%s) - t0 )) s"
