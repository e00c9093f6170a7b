#!/bin/bash
# One GPU session: the Wan2.1 1.3B denoising loop at 832x480x81, 50 steps, official Jenga loop
# (tools/golden/jenga_wan_pipeline.py --full: official code, Triton kernel, random checkpoint)
# against `jenga debug denoise` on the same checkpoint and inputs, timings and parity.
# Usage: JENGA=build/bin/jenga GOLDEN=tools/golden/jenga_wan_pipeline.py PEERS=peers OUT=dir \
#          bash bench/gpu_pipeline.sh official_on official_off ours parity
set -u
JENGA=${JENGA:-build/bin/jenga}
GOLDEN=${GOLDEN:-tools/golden/jenga_wan_pipeline.py}
PEERS=${PEERS:-peers}
OUT=${OUT:-/tmp/pipeline}
CK=${CK:-/tmp/wan13b_random}
W=${WORK:-/tmp/pipe_work}
mkdir -p "$OUT" "$W"
official() {  # $1 = out dir, $2 = presets, env TEACACHE_THRESH
  python3 "$GOLDEN" --full --official "$PEERS/jengawan" --shim "$PEERS/shim" --ckpt "$CK" --out "$1" \
    --preset "$2" --steps 50 2>&1 | grep -E '^\{' | tee -a "$OUT/official.jsonl"
}
ours() {  # $1 = tag, $2 = inputs, rest = flags
  local tag=$1 in=$2; shift 2
  echo "== ours $tag: $*" | tee -a "$OUT/ours.log"
  "$JENGA" debug denoise --model "$CK" --inputs "$in" --out "$W/ours_$tag.safetensors" --device cuda --steps 50 -q "$@" \
    2>&1 | tail -2 | tee -a "$OUT/ours.log"
}
for what in "$@"; do
  case $what in
    official_on) official "$W/on" "${ON_PRESETS:-dense,base,turbo}" ;;   # official flags (TeaCache 0.15)
    official_off) TEACACHE_THRESH=-1e30 official "$W/off" turbo ;;       # every forward computed
    official_off_base) TEACACHE_THRESH=-1e30 official "$W/offb" base ;;
    official_sparse) official "$W/sp" sparse ;;                           # p 0.3, every forward computed
    ours_dense) ours dense "$W/on/jenga_wan_full_dense.safetensors" --preset dense --shift 8 --cfg-scale 6 ;;
    ours)
      ours base_on "$W/on/jenga_wan_full_base.safetensors" --preset base
      ours turbo_on "$W/on/jenga_wan_full_turbo.safetensors" --preset turbo
      ours turbo_off "$W/on/jenga_wan_full_turbo.safetensors" --preset turbo --teacache-thresh 0 ;;
    ours_more)
      ours base_off "$W/on/jenga_wan_full_base.safetensors" --preset base --teacache-thresh 0
      ours flash_off "$W/on/jenga_wan_full_turbo.safetensors" --preset flash --teacache-thresh 0
      ours sparse "$W/sp/jenga_wan_full_sparse.safetensors" --preset base --p-remain-rates 0.3 --teacache-thresh 0 ;;
    parity)
      for p in ${PARITY:-dense base turbo}; do
        python3 bench/compare_latents.py "$W/ours_$([ $p = dense ] && echo dense || echo ${p}_on).safetensors" \
          "$W/on/jenga_wan_full_$p.safetensors" | tee -a "$OUT/parity.jsonl"
      done
      [ -f "$W/sp/jenga_wan_full_sparse.safetensors" ] && python3 bench/compare_latents.py "$W/ours_sparse.safetensors" \
          "$W/sp/jenga_wan_full_sparse.safetensors" | tee -a "$OUT/parity.jsonl" ;;
  esac
done
