#!/usr/bin/env bash
# One GPU-machine call (branch mask-select): the mask builder at the HunyuanVideo shape (24 heads,
# 902 key blocks: 900 image + 2 text) with and without the cumulative-probability cut.
#  1. the CudaMaskBuilder GPU tests (top-p select = sort = CPU rule, block scores bit-identical to
#     the f32 fmaf chain, end to end);
#  2. `jenga bench attention --mask-build` for method 0 (no sort) and 1 (sort chain), p 0 and 0.9,
#     density 0.2 (top_k 180) and 0.05 (top_k 45): build time and kept fraction (the two methods
#     should keep the same fraction, up to borderline rows);
#  3. per-kernel ncu durations of one build_block_mask (density 0.2, both methods, p 0 and 0.9);
#  4. compute-sanitizer memcheck (all CudaMaskBuilder tests) and racecheck (the end-to-end and
#     block-scores tests, then the top-p select test).
# Uses ./build/bin as built (or binaries copied from prebuilt/); builds only when they are missing.
# Usage (GPU machine, in a copy of the worktree): bash bench/gpu_mask.sh   (logs in $OUT)
# About 3-4 minutes of GPU time.
set -uo pipefail
out=${OUT:-$PWD/gpu-out}; mkdir -p "$out"
export PATH=/usr/local/cuda/bin:$PATH LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu,power.draw --format=csv; date -u
if [ -d prebuilt ]; then mkdir -p build/bin && cp prebuilt/* build/bin/; fi
if [ ! -x build/bin/jenga_tests ] || [ ! -x build/bin/jenga ] || ldd build/bin/jenga_tests build/bin/jenga | grep "not found"; then
  rm -rf build; SECONDS=0
  { cmake -S . -B build -G Ninja -DJENGA_CUDA_ARCHS=90a -DCMAKE_BUILD_TYPE=Release && ninja -C build jenga jenga_tests; } \
    >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
  echo "built in $SECONDS s"
else
  echo "using the binaries in build/bin"
fi
B=./build/bin

# 1. GPU tests.
SECONDS=0
timeout 120 $B/jenga_tests --gtest_filter='CudaMaskBuilder*' >"$out/tests.txt" 2>&1
echo "tests rc=$? (${SECONDS} s)"
grep -E "^\[  (FAILED|PASSED|SKIPPED) |Failure|tests ran|^\[top-p select\]" "$out/tests.txt" | head -30

# 2. Build times.
summary='import json,sys
for l in sys.stdin:
  try: j=json.loads(l)
  except Exception: print(l.strip()); continue
  print("%s d=%s top_k=%d method %s p %s: mask build %.3f ms, kept %.5f (attention %.2f ms)" % (j["shape"], j["density"],
        max(1, round(j["density"] * 900)), j.get("mask_method"), j.get("mask_p"), j["mask_build_ms"], j.get("mask_kept", -1), j["ms"]))'
for d in 0.2 0.05; do for p in 0 0.9; do for m in 1 0; do
  timeout 60 $B/jenga bench attention --shape hunyuan720 --density $d --mask-build --text-blocks 2 --mask-method $m \
    --mask-p $p --iters 20 --warmup 3 --json 2>&1 | tee -a "$out/bench.jsonl" | python3 -c "$summary"
done; done; done

# 3. Per-kernel durations: 3 input fills, one attention call, then one build_block_mask.
for p in 0 0.9; do for m in 1 0; do
  echo "=== ncu mask method $m p $p" >>"$out/ncu-mask.txt"
  timeout 60 ncu -c 12 --section SpeedOfLight --clock-control none $B/jenga bench attention --shape hunyuan720 \
    --density 0.2 --mask-build --text-blocks 2 --mask-method $m --mask-p $p --iters 1 --warmup 0 \
    >>"$out/ncu-mask.txt" 2>&1
  echo "ncu method $m p $p rc=$?"
done; done
grep -E "^=== ncu|^  [a-zA-Z_].*\(|Duration" "$out/ncu-mask.txt" | cut -c1-120 | head -80

# 4. Sanitizers.
run_san() {  # <tool> <timeout> <filter> <log>
  timeout "$2" compute-sanitizer --tool "$1" --error-exitcode 9 $B/jenga_tests --gtest_filter="$3" >"$out/$4" 2>&1
  echo "compute-sanitizer $1 on $3: rc=$? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/$4" | tail -1)"
}
run_san memcheck 120 'CudaMaskBuilder*' san-memcheck.txt
run_san racecheck 90 'CudaMaskBuilder.BuildBlockMaskEndToEnd:CudaMaskBuilder.BlockScoresBitIdenticalToFmafChain' san-racecheck.txt
run_san racecheck 90 'CudaMaskBuilder.TopPSelectEqualsSortAndCpu' san-racecheck-topp.txt
date -u
