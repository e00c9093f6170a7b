#!/usr/bin/env bash
# One GPU-machine session for the attention kernel: build, tests, sanitizers, our benchmarks and
# (with PEERS set to a peers/ folder from make_peers.sh) the peers, all in the same run.
# Usage: bench/gpu_attention.sh [build] [test] [sanitize] [bench] [ncu] [peers]   (default: all)
# Logs go to $OUT (or ./gpu-out).
set -uo pipefail
out=${OUT:-$PWD/gpu-out}; mkdir -p "$out"
steps=${*:-build test sanitize bench ncu peers}
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
if has ncu; then
  # Where the time goes: tensor-pipe utilisation, issue stalls, occupancy (wan1.3b480 dense).
  while IFS= read -r v; do
    [ -z "$v" ] && continue
    echo "=== ncu: $v" >>"$out/ncu.txt"
    ncu -k regex:attention_fwd -c 1 --section SpeedOfLight --section ComputeWorkloadAnalysis \
      --section WarpStateStats --section Occupancy --section LaunchStats --section SchedulerStats --metrics sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,smsp__average_warp_latency_issue_stalled_barrier,smsp__average_warp_latency_issue_stalled_math_pipe_throttle \
      ./build/bin/jenga bench attention --shape wan1.3b480 --iters 1 --warmup 0 $v >>"$out/ncu.txt" 2>&1
  done <<<"${NCU_LINES:-$'--key-tile 128\n--key-tile 64 --warp-rows 32'}"
  grep -E "^=== ncu|SM Busy|Issue Slots Busy|Compute \(SM\) Throughput|Memory Throughput|Achieved Occupancy|Registers Per|Stall|No Eligible|Duration|hmma|stalled" "$out/ncu.txt" | head -60
fi
if has peers && [ -n "${PEERS:-}" ]; then
  PYTHONUNBUFFERED=1 python3 bench/attention_peers.py --jenga "$PEERS/jengaref" ${PEER_ARGS:---shape wan1.3b480 --shape wan14b720 --shape hunyuan720 --density 1 --density 0.2 --density 0.05} 2>&1 | tee -a "$out/peers.jsonl"
fi
