#!/usr/bin/env bash
# One GPU-machine session for HunyuanVideo-I2V's image side on CUDA (issue 25 point 2): the
# vision tower + projector tests, then at full size (random ViT-L/14-336 fp16 weights) our timing,
# our fp16 / f32 outputs and transformers' CLIPVisionModel + projector (fp16 timed, f32 reference)
# on the same pixels. Needs a built tree (build/bin/jenga, build/bin/jenga_tests) and, for the
# peer, torch + transformers. Steps: test bench (default both). Env: OUT (default ./gpu-out).
# Key lines go to stdout; everything to $OUT/log.txt, JSON lines to $OUT/results.jsonl.
set -uo pipefail
out=${OUT:-$PWD/gpu-out}; mkdir -p "$out"
steps=${*:-test bench}
has() { [[ " $steps " == *" $1 "* ]]; }
log=$out/log.txt res=$out/results.jsonl
export PYTHONUNBUFFERED=1
stamp() { echo "$(date +%T) $*" | tee -a "$log"; }
run_step() {  # NAME SECONDS CMD...: bounded; JSON lines to results.jsonl; rc recorded
  local name=$1 secs=$2; shift 2
  stamp "$name: start"
  timeout "$secs" "$@" >"$out/$name.txt" 2>&1
  local rc=$?
  cat "$out/$name.txt" >>"$log"
  grep '^{' "$out/$name.txt" | tee -a "$res"
  stamp "$name: rc=$rc$([ "$rc" = 124 ] && echo " (timed out after ${secs}s)")"
  [ "$rc" = 0 ] || tail -5 "$out/$name.txt"
  return "$rc"
}
jenga=./build/bin/jenga
work=/tmp/jenga-i2v-vision; mkdir -p "$work"

if has test; then
  # One process per test: a crash (the tiny-shape text-encoder SIGSEGV) cannot hide the others.
  : >"$out/tests.txt"
  for t in CudaGemmAttention.BidirectionalMatchesTheReference CudaLlavaVision.MatchesTheCpuEncoderAndTransformers \
           CudaLlavaVision.OddHeadDimFallsBackToTheF32Mode CudaLlavaVision.TinyI2vFolderTextStatesMatchTheCpu \
           CudaLlavaVision.FullSizeRandomTowerFp16IsNearTheF32Path \
           'CudaGemmAttention.F*:CudaHunyuanLlama.I2v*' 'CudaHunyuanClip.*:CudaHunyuanText.*' \
           CudaHunyuanLoop.I2vGenerateImageOnTheGpu; do
    timeout 150 ./build/bin/jenga_tests --gtest_filter="$t" >"$out/t.txt" 2>&1
    rc=$?
    cat "$out/t.txt" >>"$out/tests.txt"
    stamp "test $t: rc=$rc$([ "$rc" = 124 ] && echo " (timed out)")$([ "$rc" -ge 128 ] && echo " (killed by signal $((rc - 128)))")"
    grep -E "^\[  (FAILED|PASSED|SKIPPED) |Failure|rel L2|max rel|Expected|Which is|actual|error" "$out/t.txt" | head -20
    echo "{\"step\": \"test\", \"filter\": \"$t\", \"rc\": $rc}" >>"$res"
  done
fi

if has bench; then
  d=$work/llava  # random full-size weights, written by the bench on first use and read by the peer
  img=tests/data/hunyuan_i2v/photo_71x43.jpg
  run_step bench 120 $jenga bench text-encoder --model hunyuan-i2v --llava "$d" --iters 20 --json
  run_step bench-f32 60 $jenga bench text-encoder --model hunyuan-i2v --llava "$d" --iters 5 --precision f32 --json
  run_step ours 60 $jenga debug encode-image --device cuda --text-encoder "$d" --image "$img" --out "$work/ours.safetensors"
  run_step ours32 60 $jenga debug encode-image --device cuda --precision f32 --text-encoder "$d" --image "$img" \
    --out "$work/ours32.safetensors"
  run_step peer 240 python3 bench/hunyuan_i2v_vision_peer.py run --dir "$d" --ours "$work/ours.safetensors" \
    --ours32 "$work/ours32.safetensors" --iters 20
fi
