#!/usr/bin/env bash
# Full-size parity of our HunyuanVideo-I2V loop with the OFFICIAL I2V loop (issue #25 point 5):
# one random bf16 checkpoint with the official key names (seeded, drawn on the GPU, 25.6 GB), one
# set of inputs at 1248x704x125 (latent 16x32x88x156, image latent 16x1x88x156, 396 text rows =
# 144 image + 40 of 252 prompt rows, pooled 768; --i2v-stability), then
#   official-dense / official-base: the official loop (bench/hunyuan_i2v_loop_parity_peer.py:
#       Tencent's HYVideoDiffusionTransformer, or Jenga's I2V model with jenga_hyi2v.py's ra_forward
#       and the official Triton kernel for Base; the official FlowMatchDiscreteScheduler)
#   ours-dense / ours-base: `jenga debug denoise --i2v --i2v-stability` on the same files
#   compare: final latents rel L2, pass < 2e-2 (TOL).
# STOP_AFTER=K (Base): the official loop runs the first K steps of its 50-step schedule (same
# step list, drop switch at step 25) and ours, the whole loop, also saves its latents after step
# K-1; compare takes those. One call then holds both sides (the whole official loop alone is
# ~6.5 min); the step list makes K's cost its computed steps (K=27: 12 of them).
# Dense runs DENSE_STEPS (default 4) steps at shift 7 on both sides (a whole 50-step dense loop
# is ~25 min of official forwards); Base runs the official 50 steps (24 computed), shift 5.0.
#
# Before (CPU machine): bash bench/hunyuan_i2v_peers_prep.sh (peers/jengahyi2v, peers/hyi2vref, .whl)
# and a build of build/bin/jenga on the warm GPU machine (e.g. `bash bench/gpu_hunyuan_parity.sh build`).
# Then three calls on the SAME warm machine (WORK stays between them with KEEP=1):
#   run(command="KEEP=1 bash bench/gpu_hunyuan_i2v_loop_parity.sh prepare official-dense ours-dense compare", carry=["peers", ".whl"])
#   run(command="KEEP=1 bash bench/gpu_hunyuan_i2v_loop_parity.sh official-base", carry=["peers", ".whl"])
#   run(command="bash bench/gpu_hunyuan_i2v_loop_parity.sh ours-base compare", carry=["peers", ".whl"])
# CPU rehearsal: DEVICE=cpu SIZE=tiny PY=/tmp/hyvenv/bin/python bash bench/gpu_hunyuan_i2v_loop_parity.sh \
#   prepare official-dense ours-dense official-base ours-base compare
# Env: WORK (.i2vparity; removed at the end unless KEEP=1), OUT (gpu-out: log.txt, results.jsonl), SIZE (full | tiny),
#      DEVICE (cuda | cpu), DENSE_STEPS (4), STOP_AFTER (Base: 0 = all 50), OURS_SAVE (ours-base: the
#      steps to save, default STOP_AFTER - 1: several let a later call pick STOP_AFTER), OFFICIAL_SAVE
#      (official-base: also save its latents after these steps, e.g. "26": a checkpoint kept if the
#      call is cut off by its time limit), COMPARE_STEP (compare the official checkpoint after step i
#      with ours step_<i> instead of the final latents), SEED (0), PY (python3), TOL (2e-2),
#      GUIDANCE (official: the pipelines' bf16(6.0) x 1000 = 6016, what ours feeds its DiT since
#      hunyuan_guidance_value | f32: 6000, the official code at fp32, which ours no longer matches).
set -uo pipefail
out=${OUT:-$PWD/gpu-out}; mkdir -p "$out"
budget=600
. "$(dirname "$0")/gpu_peer_lib.sh"
use_work "$PWD/.i2vparity"
size=${SIZE:-full} dev=${DEVICE:-cuda} py=${PY:-python3} n=${DENSE_STEPS:-4} g=${GUIDANCE:-official} k=${STOP_AFTER:-0}
steps=${*:-prepare official-dense ours-dense compare}
for s in $steps; do
  case $s in prepare|official-dense|official-base|ours-dense|ours-base|compare) ;;
    *) echo "error: unknown step '$s' (prepare official-dense official-base ours-dense ours-base compare)" >&2; exit 2;; esac
done
peer() { "$py" bench/hunyuan_i2v_loop_parity_peer.py "$@" --work "$work" --size "$size" --device "$dev" 2>&1 |
           tee -a "$log" | tee >(grep --line-buffered '^{' >>"$res"); return "${PIPESTATUS[0]}"; }
ours() {  # $1 = dense | base, then its flags
  local preset=$1; shift
  ./build/bin/jenga debug denoise --model "$work/dit.safetensors" --inputs "$work/inputs.safetensors" \
    --out "$work/ours_$preset.safetensors" --device "$dev" --i2v --i2v-stability -q "$@" 2>&1 | tee -a "$log" | cut -c1-600
  local rc=${PIPESTATUS[0]}; stamp "ours-$preset: rc=$rc"; return "$rc"
}
[ "$dev" = cpu ] || require_gpu ""
for f in peers/jengahyi2v/jenga_hyi2v.py peers/hyi2vref/hyvideo/modules/models.py; do
  [ -f "$f" ] || { echo "error: $f is missing: run bench/hunyuan_i2v_peers_prep.sh on the CPU machine and carry peers" >&2; exit 1; }
done
PATH=$(dirname "$(command -v "$py")"):$PATH require_einops  # with $py's python3
[[ " $steps " != *" ours-"* ]] || [ -x build/bin/jenga ] ||
  { echo "error: build/bin/jenga is missing: build it on this machine first (bash bench/gpu_hunyuan_parity.sh build)" >&2; exit 1; }

o=(--official peers/hyi2vref --jenga peers/jengahyi2v)
# H100 guesses per step at full size (unmeasured; from the T2V figures in docs/BENCHMARKS.md)
declare -A expect=([prepare]="~1.3 min (draw + save 25.6 GB)" [official-dense]="~2.5 min (load + $n x ~30 s)"
  [official-base]="~6 min (load + 24 sparse + 26 reused forwards)" [ours-dense]="~1.7 min (load + $n x ~16 s)"
  [ours-base]="~4.5 min" [compare]="< 1 min")
for s in $steps; do
  stamp "$s: start$([ "$size" = full ] && echo ", expected ${expect[$s]}")"
  case $s in
    prepare)
      avail=$(df -BG --output=avail "$work" | tail -1 | tr -dc 0-9)
      [ "$size" != full ] || [ -f "$work/dit.safetensors" ] || [ "$avail" -ge 30 ] ||
        { echo "error: $work has ${avail} GB free; the checkpoint needs 26 GB (set WORK to a larger disk)" >&2; exit 1; }
      peer prepare "${o[@]}" --seed "${SEED:-0}" || exit 1 ;;
    official-dense) peer official "${o[@]}" --preset dense --steps "$n" --shift 7 --i2v-stability --guidance "$g" || exit 1 ;;
    official-base) peer official "${o[@]}" --preset base --i2v-stability --guidance "$g" --stop-after "$k" \
                     --save-steps "$(echo ${OFFICIAL_SAVE:-} | tr ' ' ,)" || exit 1 ;;
    ours-dense) ours dense --steps "$n" --shift 7 || exit 1 ;;
    ours-base) save=${OURS_SAVE:-$([ "$k" -gt 0 ] && echo $((k - 1)))}
      ours base --preset base --steps 50 ${save:+--save-steps $save} || exit 1 ;;
    compare)
      have=""; for p in dense base; do [ -f "$work/official_$p.safetensors" ] && [ -f "$work/ours_$p.safetensors" ] && have="$have,$p"; done
      [ -n "$have" ] || { echo "error: no official_/ours_ pair in $work to compare" >&2; exit 1; }
      key=latents; [ "$k" -gt 0 ] && [ "$have" = ",base" ] && key=step_$((k - 1))
      ostep=(); [ -n "${COMPARE_STEP:-}" ] && { key=step_$COMPARE_STEP; ostep=(--official-step "$COMPARE_STEP"); }
      peer compare --presets "${have#,}" --tol "${TOL:-2e-2}" --ours-key "$key" "${ostep[@]}"; rc=$?
      stamp "compare: rc=$rc"; exit "$rc" ;;
  esac
done
