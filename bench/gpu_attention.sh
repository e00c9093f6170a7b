#!/usr/bin/env bash
# One GPU-machine session for the attention kernel: build, tests, sanitizers, our benchmarks and
# (with PEERS set to a peers/ folder from make_peers.sh) the peers, all in the same run.
# Usage: bench/gpu_attention.sh [build] [test] [sanitize] [bench] [peers]   (default: all)
# Logs go to $OUT (or ./gpu-out).
set -uo pipefail
out=${OUT:-$PWD/gpu-out}; mkdir -p "$out"
steps=${*:-build test sanitize bench peers}
has() { [[ " $steps " == *" $1 "* ]]; }
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv | tee "$out/gpu.txt"
if has build; then
  cmake -S . -B build -G Ninja -DJENGA_CUDA_ARCHS=90a -DCMAKE_BUILD_TYPE=Release >"$out/cmake.log" 2>&1 &&
    cmake --build build -j16 >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
fi
if has test; then
  ./build/bin/jenga_tests --gtest_filter='Cuda*:BlockMask*:CpuAttention*' 2>&1 | tee "$out/tests.txt" | grep -E "^\[  (FAILED|PASSED|SKIPPED) |Failure|error" | head -40
fi
if has sanitize; then
  for tool in memcheck racecheck; do
    compute-sanitizer --tool $tool --error-exitcode 9 ./build/bin/jenga_tests \
      --gtest_filter="${SAN_FILTER:-CudaAttention.EmptyRowsGiveZeros:CudaAttention.KeyBlockBias}" >"$out/san-$tool.txt" 2>&1
    echo "compute-sanitizer $tool rc=$? $(grep -E 'ERROR SUMMARY' "$out/san-$tool.txt" | tail -1)"
  done
fi
if has bench; then
  while IFS= read -r args; do
    [ -z "$args" ] && continue
    ./build/bin/jenga bench attention $args --json 2>&1 | tee -a "$out/bench.jsonl"
  done <<<"${BENCH_LINES:-$'--shape wan1.3b480 --density 1\n--shape hunyuan720 --density 1\n--shape hunyuan720 --density 0.2\n--shape hunyuan720 --density 0.05\n--shape wan14b720 --density 1'}"
fi
if has peers && [ -n "${PEERS:-}" ]; then
  PYTHONUNBUFFERED=1 python3 bench/attention_peers.py --jenga "$PEERS/jengaref" ${PEER_ARGS:---shape wan1.3b480 --shape wan14b720 --shape hunyuan720 --density 1 --density 0.2 --density 0.05} 2>&1 | tee -a "$out/peers.jsonl"
fi
