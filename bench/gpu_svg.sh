#!/bin/bash
# One GPU session: Sparse VideoGen vs Jenga in the Wan2.1 1.3B denoising loop, 832x480x81, 50 steps,
# one random full-size checkpoint and one seed for every run. Ours (`jenga debug denoise`): dense,
# --attention svg, Jenga base and turbo with every forward computed (--teacache-thresh 0); all at
# shift 5 / cfg 5 (Wan2.1 and the official SVG script), so drift measures the attention and schedule
# alone. Then the official SVG attention in the official Wan2.1 loop (bench/svg_wan_peer.py run).
# Relative L2 of each final latent against our dense run. Logs and JSON lines under $OUT.
# Usage: JENGA=build/bin/jenga PEERS=peers OUT=dir bash bench/gpu_svg.sh [tests] prepare ours official compare
set -u
JENGA=${JENGA:-build/bin/jenga}
PEERS=${PEERS:-peers}
OUT=${OUT:-/tmp/svg_out}
CK=${CK:-/tmp/wan13b_random}
W=${WORK:-/tmp/svg_work}
IN=$W/inputs.safetensors
mkdir -p "$OUT" "$W"
ours() {  # $1 = tag, $2 = inputs, rest = flags
  local tag=$1 in=$2; shift 2
  echo "== ours $tag: $*" | tee -a "$OUT/ours.log"
  "$JENGA" debug denoise --model "$CK" --inputs "$in" --out "$W/ours_$tag.safetensors" --device cuda --steps 50 -q \
    --shift 5 --cfg-scale 5 --seed 42 "$@" 2>&1 | tail -2 | tee -a "$OUT/ours.log"
}
for what in "$@"; do
  case $what in
    tests) "$(dirname "$JENGA")/jenga_tests" --gtest_filter="${TESTS:-CudaSvg*:CudaDenoise*}" 2>&1 | tail -30 | tee "$OUT/tests.log" ;;
    prepare) python3 bench/svg_wan_peer.py prepare --peers "$PEERS" --ckpt "$CK" --inputs "$IN" 2>&1 | grep '^{' | tee -a "$OUT/peer.jsonl" ;;
    ours)
      ours dense "$IN" --preset dense
      ours svg "$IN" --attention svg
      ours base "$IN" --preset base --teacache-thresh 0
      ours turbo "${IN%.safetensors}_turbo.safetensors" --preset turbo --teacache-thresh 0 ;;
    official)
      PYTHONUNBUFFERED=1 timeout "${OFFICIAL_TIMEOUT:-300}" python3 bench/svg_wan_peer.py run --peers "$PEERS" \
        --svg "$PEERS/svgref" --ckpt "$CK" --inputs "$IN" --out "$W/official_svg.safetensors" 2>"$OUT/official.err" \
        | grep '^{' | tee -a "$OUT/peer.jsonl"
      tail -5 "$OUT/official.err" ;;
    compare)
      for t in svg base turbo; do
        [ -f "$W/ours_$t.safetensors" ] && python3 bench/compare_latents.py "$W/ours_$t.safetensors" "$W/ours_dense.safetensors" | tee -a "$OUT/drift.jsonl"
      done
      if [ -f "$W/official_svg.safetensors" ]; then
        python3 bench/compare_latents.py "$W/official_svg.safetensors" "$W/ours_dense.safetensors" | tee -a "$OUT/drift.jsonl"
        python3 bench/compare_latents.py "$W/ours_svg.safetensors" "$W/official_svg.safetensors" | tee -a "$OUT/drift.jsonl"
      fi ;;
  esac
done
