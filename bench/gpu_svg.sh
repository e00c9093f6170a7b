#!/bin/bash
# One GPU session: Sparse VideoGen vs Jenga in the Wan2.1 1.3B denoising loop, 832x480x81, 50 steps,
# one random full-size checkpoint and one seed for every run. Ours (`jenga debug denoise`): dense,
# --attention svg, Jenga base, turbo, flash and 3stage with every forward computed
# (--teacache-thresh 0); all at shift 5 / cfg 5 (Wan2.1 and the official SVG script), so drift
# measures the attention and schedule alone. Peers:
#   official:           the official SVG attention in the official Wan2.1 loop (bench/svg_wan_peer.py run)
#   official_diffusers: the official SVG pipeline, diffusers WanPipeline + replace_wan_attention as
#                       wan_t2v_inference.py does (bench/svg_wan_diffusers_peer.py run)
#   diffusers_dense:    the same WanPipeline without SVG (`--pattern dense`; diffusers' own SDPA attention)
# Relative L2 of each final latent against our dense run (and the peers against each other).
# Logs and JSON lines under $OUT.
# Usage: JENGA=build/bin/jenga PEERS=peers OUT=dir bash bench/gpu_svg.sh [tests] prepare ours official \
#          official_diffusers diffusers_dense compare
#   OURS="dense svg ..." picks our runs (default all six); DIFFUSERS_FLAGS adds flags to both diffusers
#   peers (e.g. "--steps 10"); OFFICIAL_TIMEOUT / DIFFUSERS_TIMEOUT cap the peers (s).
# The diffusers peers need diffusers 0.34.0 (+ loguru, termcolor), carried as wheels in .whl/ (see
# docs/svg-policy.md); the steps install them themselves when diffusers is missing, with:
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
set -u
JENGA=${JENGA:-build/bin/jenga}
PEERS=${PEERS:-peers}
OUT=${OUT:-/tmp/svg_out}
CK=${CK:-/tmp/wan13b_random}
W=${WORK:-/tmp/svg_work}
IN=$W/inputs.safetensors
WHL=${WHL:-.whl}
mkdir -p "$OUT" "$W"
diffusers_env() {  # diffusers 0.34 from the carried wheels, once
  python3 -c "import diffusers" 2>/dev/null && return 0
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$WHL"/*.whl \
    && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
}
diffusers_peer() {  # $1 = tag, rest = flags
  local tag=$1; shift
  diffusers_env || { echo "no diffusers and no wheels in $WHL" | tee -a "$OUT/$tag.err"; return; }
  PYTHONUNBUFFERED=1 timeout "${DIFFUSERS_TIMEOUT:-480}" python3 bench/svg_wan_diffusers_peer.py run --svg "$PEERS/svgref" \
    --ckpt "$CK" --inputs "$IN" --out "$W/$tag.safetensors" ${DIFFUSERS_FLAGS:-} "$@" 2>"$OUT/$tag.err" | grep '^{' | tee -a "$OUT/peer.jsonl"
  tail -5 "$OUT/$tag.err"
}
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
      for o in ${OURS:-dense svg base turbo flash 3stage}; do
        case $o in
          dense) ours dense "$IN" --preset dense ;;
          svg) ours svg "$IN" --attention svg ;;
          base) ours base "$IN" --preset base --teacache-thresh 0 ;;
          turbo|flash) ours $o "${IN%.safetensors}_turbo.safetensors" --preset $o --teacache-thresh 0 ;;  # both start at 0.75
          3stage) ours 3stage "${IN%.safetensors}_3stage.safetensors" --preset 3stage --teacache-thresh 0 ;;
        esac
      done ;;
    official)
      PYTHONUNBUFFERED=1 timeout "${OFFICIAL_TIMEOUT:-300}" python3 bench/svg_wan_peer.py run --peers "$PEERS" \
        --svg "$PEERS/svgref" --ckpt "$CK" --inputs "$IN" --out "$W/official_svg.safetensors" 2>"$OUT/official.err" \
        | grep '^{' | tee -a "$OUT/peer.jsonl"
      tail -5 "$OUT/official.err" ;;
    official_diffusers) diffusers_peer official_svg_diffusers ;;
    diffusers_dense) diffusers_peer diffusers_dense --dense ;;
    compare)
      drift() { [ -f "$W/$1.safetensors" ] && [ -f "$W/$2.safetensors" ] && \
        python3 bench/compare_latents.py "$W/$1.safetensors" "$W/$2.safetensors" | tee -a "$OUT/drift.jsonl"; }
      for t in svg base turbo flash 3stage; do drift "ours_$t" ours_dense; done
      for p in official_svg official_svg_diffusers diffusers_dense; do drift "$p" ours_dense; done
      drift ours_svg official_svg
      drift ours_svg official_svg_diffusers
      drift official_svg_diffusers diffusers_dense
      drift official_svg official_svg_diffusers ;;
  esac
done
