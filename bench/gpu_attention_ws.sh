#!/usr/bin/env bash
# One GPU-machine call for the warp-specialised Hopper attention kernel (paths 3-6) against the
# older paths and the peers: build, attention tests, benchmarks, ncu, sanitizers, peers.
# Usage: bench/gpu_attention_ws.sh [build] [test] [sanitize] [bench] [ncu] [peers]  (default: all)
# Env: BENCH (lines "<paths>;<jenga bench attention arguments>"), PEERS (peers/ folder),
# PEER_ARGS (several runs separated by '|'), NCU (lines "<path>;<arguments>"), TEST_FILTER, SAN_FILTER. Logs: $OUT or ./gpu-out.
set -uo pipefail
out=${OUT:-$PWD/gpu-out}; mkdir -p "$out"
steps=${*:-build test sanitize bench ncu peers}
has() { [[ " $steps " == *" $1 "* ]]; }
export PATH=/usr/local/cuda/bin:$PATH
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv | tee "$out/gpu.txt"
date -u | tee -a "$out/gpu.txt"
if has build; then
  cmake -S . -B build -G Ninja -DJENGA_CUDA_ARCHS=90a -DCMAKE_BUILD_TYPE=Release >"$out/build.log" 2>&1 &&
    ninja -C build jenga jenga_tests >>"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
  echo "built in $SECONDS s"
fi
if has test; then
  timeout 300 ./build/bin/jenga_tests --gtest_filter="${TEST_FILTER:-CudaAttention*}" >"$out/tests.txt" 2>&1
  echo "tests rc=$?"; grep -E "^\[  (FAILED|PASSED) |Failure|Which is|path|tests ran" "$out/tests.txt" | head -40
fi
if has bench; then
  # Each line: "<paths>;<bench arguments>".
  while IFS=';' read -r paths args; do
    [ -z "$args" ] && continue
    for path in $paths; do
      timeout 120 ./build/bin/jenga bench attention $args --path "$path" --json 2>&1 | tee -a "$out/bench.jsonl" |
        python3 -c 'import json,sys
for l in sys.stdin:
  try: j=json.loads(l)
  except Exception: print(l.strip()); continue
  print(j.get("shape"), "d=%s" % j.get("density"), "path", j.get("path"), "%.3f ms" % j["ms"], "%.1f TFLOP/s" % j["tflops"], "mask %.3f ms" % j["mask_build_ms"])'
    done
  done <<<"${BENCH:-$'2 3 4 5 6 7 8;--shape wan1.3b480 --iters 20
2 3 4 5 6 7 8;--shape hunyuan720 --density 0.2 --iters 10'}"
fi
if has ncu; then
  # Each line: "<path>;<bench arguments>": tensor pipe, issue stalls (cycles per issued
  # instruction by reason), L2 hit rate, DRAM throughput.
  while IFS=';' read -r path args; do
    [ -z "$args" ] && continue
    echo "=== ncu path $path $args" >>"$out/ncu.txt"
    timeout 200 ncu -k regex:attention_fwd -c 1 --section SpeedOfLight --section ComputeWorkloadAnalysis \
      --section WarpStateStats --section LaunchStats \
      --metrics "regex:smsp__average_warps_issue_stalled_.*_per_issue_active.ratio,lts__t_sector_hit_rate.pct,dram__throughput.avg.pct_of_peak_sustained_elapsed" \
      ./build/bin/jenga bench attention $args --iters 1 --warmup 0 --path "$path" >>"$out/ncu.txt" 2>&1
  done <<<"${NCU:-$'7;--shape wan1.3b480'}"
  grep -E "^=== ncu|SM Busy|Issue Slots Busy|Compute \(SM\) Throughput|Registers Per|Duration|Warp Cycles Per Issued|hit_rate|dram__throughput|stalled_(barrier|long_scoreboard|math_pipe|wait|membar|short_scoreboard|mio|sleeping|dispatch|no_instruction|selected|not_selected|branch)" "$out/ncu.txt" | head -80
fi
if has sanitize; then
  for tool in memcheck racecheck; do
    timeout 200 compute-sanitizer --tool $tool --error-exitcode 9 ./build/bin/jenga_tests \
      --gtest_filter="${SAN_FILTER:-CudaAttention.EmptyRowsGiveZeros:CudaAttention.KeyBlockBias}" >"$out/san-$tool.txt" 2>&1
    echo "compute-sanitizer $tool rc=$? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/san-$tool.txt" | tail -1)"
  done
fi
if has peers && [ -n "${PEERS:-}" ]; then
  IFS='|' read -ra runs <<<"${PEER_ARGS:---shape wan1.3b480 --density 1}"
  for r in "${runs[@]}"; do
    PYTHONUNBUFFERED=1 timeout 300 python3 bench/attention_peers.py --jenga "$PEERS/jengaref" $r 2>&1 | tee -a "$out/peers.jsonl"
  done
fi
