#!/usr/bin/env bash
# One GPU-machine call (branch attn3, after gpu_attention_lean.sh): the mask builder's method 0
# (one means launch, radix select) against method 1 (the earlier chain), the attention default
# (path 0) next to path 9, and the FP8 Q/K path 16 (error against bf16, speed); Cuda* tests,
# per-kernel ncu durations of one build_block_mask, sanitizers on the new kernels.
# Uses ./build/bin when it runs here (binaries copied from prebuilt/), else builds.
# Usage (GPU machine, in a copy of the worktree): bash bench/gpu_attention_mask.sh   (logs in $OUT)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$PWD/gpu-out}; mkdir -p "$out"
export PATH=/usr/local/cuda/bin:$PATH LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu,power.draw --format=csv; date -u
if [ -d prebuilt ]; then mkdir -p build/bin && cp prebuilt/* build/bin/; fi
if [ ! -x build/bin/jenga_tests ] || ldd build/bin/jenga_tests build/bin/jenga | grep "not found"; then
  rm -rf build; SECONDS=0
  { cmake -S . -B build -G Ninja -DJENGA_CUDA_ARCHS=90a -DCMAKE_BUILD_TYPE=Release && ninja -C build jenga jenga_tests; } \
    >/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
  echo "built in $SECONDS s"
else
  echo "using prebuilt binaries"
fi
B=./build/bin
timeout 200 $B/jenga_tests --gtest_filter='Cuda*:-CudaAttention.Fp8QueryKey' >"$out/tests.txt" 2>&1
echo "tests rc=$?"; grep -E "^\[  (FAILED|PASSED) |Failure|tests ran" "$out/tests.txt" | head -20
timeout 40 $B/jenga_tests --gtest_filter='CudaAttention.Fp8QueryKey' >"$out/tests-fp8.txt" 2>&1
fp8_rc=$?; echo "fp8 test rc=$fp8_rc"; grep -E "^\[fp8\]|^\[  (FAILED|PASSED) |Failure" "$out/tests-fp8.txt" | head -12
bench() {  # <timeout> <jenga bench attention args>
  local t=$1; shift
  timeout "$t" $B/jenga bench attention "$@" --json 2>&1 | tee -a "$out/bench.jsonl" | python3 -c 'import json,sys
for l in sys.stdin:
  try: j=json.loads(l)
  except Exception: print(l.strip()); continue
  x="" if j.get("quant_ms",-1)<0 else " quant %.3f ms, vs bf16 max abs %.4f rel L2 %.5f" % (j["quant_ms"], j["fp8_max_abs_vs_bf16"], j["fp8_rel_l2_vs_bf16"])
  print(j["shape"], "d=%s" % j["density"], "path", j["path"], "%.3f ms" % j["ms"], "%.1f TF" % j["tflops"], "mask m%s %.3f ms" % (j.get("mask_method"), j["mask_build_ms"]) + x)'
}
for p in 0 9 0; do bench 60 --shape wan1.3b480 --iters 20 --path $p; done
bench 60 --shape wan14b720 --iters 5 --warmup 2 --path 0
bench 60 --shape hunyuan720 --iters 5 --warmup 2 --path 0
for d in 0.2 0.05; do for m in 1 0; do
  bench 60 --shape hunyuan720 --density $d --iters 10 --mask-build --text-blocks 2 --mask-method $m --path 0
done; done
bench 60 --shape hunyuan720 --density 0.2 --iters 10 --mask-build --text-blocks 2 --mask-p 0.9 --mask-method 0 --path 0
if [ $fp8_rc -eq 0 ]; then
  bench 60 --shape wan1.3b480 --iters 20 --path 16
  bench 60 --shape wan14b720 --iters 5 --warmup 2 --path 16
  bench 90 --shape hunyuan720 --iters 5 --warmup 2 --path 16
fi
# Per-kernel durations: 3 input fills, one attention call, then one build_block_mask.
for m in 0 1; do
  echo "=== ncu mask method $m" >>"$out/ncu-mask.txt"
  timeout 90 ncu -c 12 --section SpeedOfLight $B/jenga bench attention --shape hunyuan720 --density 0.2 \
    --mask-build --text-blocks 2 --mask-method $m --iters 1 --warmup 0 >>"$out/ncu-mask.txt" 2>&1
done
grep -E "^=== ncu|^  [a-zA-Z_].*\(|Duration" "$out/ncu-mask.txt" | cut -c1-110 | head -60
san=CudaMaskBuilder.BuildBlockMaskEndToEnd; [ $fp8_rc -eq 0 ] && san="$san:CudaAttention.Fp8QueryKey"
for tool in memcheck racecheck; do
  timeout 120 compute-sanitizer --tool $tool --error-exitcode 9 $B/jenga_tests --gtest_filter="$san" >"$out/san-$tool.txt" 2>&1
  echo "compute-sanitizer $tool rc=$? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/san-$tool.txt" | tail -1)"
done
