#!/usr/bin/env bash
# Full-size parity of our HunyuanVideo sampling loop with the OFFICIAL loop (issue #24 point 4), one
# loop kind per GPU call: one random bf16 checkpoint with the official key names (720x1280x125,
# drawn once on the GPU and saved: 25.6 GB, bench/hunyuan_parity_peer.py's), our noise and text
# states written as `jenga debug denoise --inputs` reads them and fed to the official loop
# (bench/hunyuan_loop_parity_peer.py: dense = Tencent's pipeline loop at a reduced step count;
# base / turbo = Jenga's ProRes loop with ra_forward, the Triton block-sparse kernel and the official
# script's flags, all 50 steps), then ours on the same files, then the final latents compared
# (pass: rel L2 < 2e-2). The key JSON lines print last.
#
# Before (CPU machine, once, from the repository root; all git-ignored):
#   PYTHON=/path/to/python-with-torch bash bench/hunyuan_loop_parity_prep.sh   # peers/hvofficial + schedulers, peers/jengahy + curves, .whl
#   bash bench/device_deps.sh fetch                                            # .gpu (PCRE2/utf8proc), if absent
# On the GPU machine (carry peers .whl .gpu), e.g. (times: /work/notes/hyloop-gpu.md):
#   LOOP=dense KEEP=1 bash bench/gpu_hunyuan_loop_parity.sh build official ours compare
#   LOOP=turbo KEEP=1 bash bench/gpu_hunyuan_loop_parity.sh          # same warm machine: reuses build/ and the checkpoint
#   LOOP=base  KEEP=1 bash bench/gpu_hunyuan_loop_parity.sh official # base does not fit one call with ours:
#   LOOP=base         bash bench/gpu_hunyuan_loop_parity.sh ours compare
# or ours first (the build call), the official loop in the next:
#   LOOP=base KEEP=1 bash bench/gpu_hunyuan_loop_parity.sh build prepare ours
#   LOOP=base        bash bench/gpu_hunyuan_loop_parity.sh official compare
# CPU rehearsal (tiny model, official and ours in f32; the Triton kernel through its interpreter):
#   SIZE=tiny DEVICE=cpu PY=/tmp/hyvenv/bin/python LOOP=turbo bash bench/gpu_hunyuan_loop_parity.sh
# Steps (arguments): build prepare official ours compare (default: official ours compare).
# A step whose predicted time does not fit what is left of BUDGET_S is skipped (the line says how
# to go on in a second call with KEEP=1); a step that runs over is stopped by SIGTERM and still
# reports what it did.
# Env: LOOP (dense | base | turbo), SIZE (full | tiny), DEVICE (cuda | cpu), DENSE_STEPS (3),
#      WORK (.parity: shared with gpu_hunyuan_parity.sh, same checkpoint; removed at the end unless
#      KEEP=1), OUT (gpu-out), BUDGET_S (550 on cuda, 3600 on the CPU: the whole script), TOL (2e-2), SEED (0), PY (python3),
#      SAVE_STEPS (latents compared after these steps too; dense: all, presets: 0,12,25,26,37).
set -uo pipefail
t_start=$(date +%s)
loop=${LOOP:-turbo} size=${SIZE:-full} dev=${DEVICE:-cuda} py=${PY:-python3}
case "$loop" in dense|base|turbo) ;; *) echo "error: LOOP=$loop: use dense, base or turbo" >&2; exit 2;; esac
out=${OUT:-$PWD/gpu-out}; mkdir -p "$out"
work=${WORK:-$PWD/.parity}
case "$(realpath -m "$work")" in /|"$PWD"|"$HOME"|/tmp) echo "error: WORK=$work: give a folder of its own (it is removed at the end)" >&2; exit 2;; esac
mkdir -p "$work"
budget=${BUDGET_S:-$([ "$dev" = cuda ] && echo 550 || echo 3600)} nsteps=${DENSE_STEPS:-3} seed=${SEED:-0}
# Latents kept after these steps on both sides (where the gap grows): every dense step; the presets
# at the start, mid stage 0, the switch (re-noised at full size), the step after it, mid stage 1.
save=${SAVE_STEPS:-$([ "$loop" = dense ] && seq -s, 0 $((nsteps - 1)) || echo 0,12,25,26,37)}
steps=${*:-official ours compare}
has() { [[ " $steps " == *" $1 "* ]]; }
left() { echo $((budget - ($(date +%s) - t_start))); }
log=$out/loop-$loop-log.txt res=$out/loop-$loop.jsonl
: >"$res"  # this call's JSON lines only (the log keeps every call's)
export PATH=/usr/local/cuda/bin:$PATH PYTHONUNBUFFERED=1
stamp() { echo "$(date +%T) [$(( $(date +%s) - t_start ))s] $*" | tee -a "$log"; }
peer() { "$py" bench/hunyuan_loop_parity_peer.py "$@" --loop "$loop" --size "$size" --work "$work" --steps "$nsteps"; }
# Everything to the log; JSON lines also to $res.
keep_json() { local l; while IFS= read -r l; do printf '%s\n' "$l" | tee -a "$log"; [[ $l == '{'* ]] && printf '%s\n' "$l" >>"$res"; done; return 0; }
finish() {
  [ "${KEEP:-0}" = 1 ] || { rm -rf "$work"; echo "removed $work (KEEP=1 keeps it for a second call)"; }
  echo "== key lines (loop $loop, size $size, $(( $(date +%s) - t_start )) s) =="
  grep -h '"kind": "hyloop_\(plan\|official\|result\|skipped\)"' "$res" 2>/dev/null | tail -6
}
trap finish EXIT
trap 'stamp "interrupted (SIGTERM/SIGINT)"; exit 143' TERM INT
fail=0

source bench/device_build.sh  # require_gpu, build_on_device (and the PCRE2 / utf8proc of .gpu)
[ "$dev" != cuda ] || require_gpu "$log"
if has build; then
  stamp build
  build_on_device "$out/loop-build.log" jenga
  stamp built
fi
# The official blocks import einops; the GPU machine has it only if .whl brings it.
if ! "$py" -c "import einops" 2>/dev/null; then
  ls .whl/einops-*.whl >/dev/null 2>&1 && "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --target /tmp/site-hyloop .whl/einops-*.whl && export PYTHONPATH=/tmp/site-hyloop${PYTHONPATH:+:$PYTHONPATH}
fi

peer plan 2>&1 | keep_json
pred() {  # predicted seconds of the official or ours step (0 for the tiny rehearsal: not predicted)
  [ "$size" = full ] || { echo 0; return; }
  peer plan 2>/dev/null | "$py" -c "import json,sys; print(json.load(sys.stdin)['predicted_$1_s'])"
}
fits() {  # <step> <predicted s>: 0 when it fits what is left, else a skip line
  local need=$(( $2 * 110 / 100 + 10 ))
  [ "$(left)" -ge "$need" ] && return 0
  local why="needs ~${need} s (predicted $2 s + 10%), $(left) s left of BUDGET_S=$budget"
  echo "{\"kind\": \"hyloop_skipped\", \"loop\": \"$loop\", \"step\": \"$1\", \"why\": \"$why\", \"next\": \"on the same warm machine: LOOP=$loop KEEP=1 bash bench/gpu_hunyuan_loop_parity.sh $1 ...\"}" | keep_json
  return 1
}
run_step() {  # <name> <cmd...>: under what is left of the budget; SIGTERM first, KILL 10 s later
  local secs=$(( $(left) - 15 ))
  [ "$secs" -gt 0 ] || { stamp "$1: no time left"; return 124; }
  local s=$(date +%s)
  timeout -k 10 "$secs" "${@:2}" 2>&1 | keep_json
  local rc=${PIPESTATUS[0]}
  wall=$(( $(date +%s) - s ))
  stamp "$1: rc=$rc, ${wall} s$([ "$rc" = 124 ] && echo " (stopped at the budget)")"
  return "$rc"
}

official_wall="" ours_wall=""
need_peers() {
  for f in peers/hvofficial/hyvideo/modules/models.py peers/hvofficial/hyvideo/diffusion/schedulers/scheduling_flow_match_discrete.py \
           peers/jengahy/jenga_hyvideo.py peers/jengahy/hyvideo/diffusion/schedulers/scheduling_flow_match_discrete.py; do
    [ -f "$f" ] || { echo "error: $f is missing: run bench/hunyuan_loop_parity_prep.sh on the CPU machine and carry peers" >&2; exit 1; }
  done
  avail=$(df -BG --output=avail "$work" | tail -1 | tr -dc 0-9)
  [ "$size" != full ] || [ -f "$work/dit.safetensors" ] || [ "$avail" -ge 30 ] ||
    { echo "error: $work has ${avail} GB free; the checkpoint and latents need about 30 GB (set WORK to a larger disk)" >&2; exit 1; }
}
# prepare: the checkpoint and inputs alone (~1 min at full size), so ours can run in the build call
# and the official loop + compare in the next (the official step reuses both).
if has prepare; then
  need_peers
  stamp "prepare: checkpoint + inputs ($size, $dev)"
  run_step prepare "$py" bench/hunyuan_loop_parity_peer.py prepare --loop "$loop" --size "$size" --work "$work" \
    --steps "$nsteps" --device "$dev" --seed "$seed" || fail=1
fi
if has official; then
  need_peers
  p=$(pred official)
  if fits official "$p"; then
    stamp "official $loop loop ($size, $dev; predicted ${p} s)"
    cache=(); [ "$size" = full ] && cache=(--curve-cache peers/jengahy/curves_720p.pt)
    run_step official "$py" bench/hunyuan_loop_parity_peer.py official --loop "$loop" --size "$size" --work "$work" \
      --steps "$nsteps" --device "$dev" --seed "$seed" --save-steps "$save" "${cache[@]}" && official_wall=$wall || fail=1
  else
    fail=1
  fi
fi
if has ours && [ "$fail" = 0 ]; then
  [ -x build/bin/jenga ] || { echo "error: build/bin/jenga is missing: add the 'build' step" >&2; exit 1; }
  for f in dit.safetensors "loop_${loop}_inputs.safetensors"; do
    [ -f "$work/$f" ] || { echo "error: $work/$f is missing: run the 'official' step first (KEEP=1 keeps it between calls)" >&2; exit 1; }
  done
  p=$(pred ours)
  n=50; [ "$loop" = dense ] && n=$nsteps
  if fits ours "$p"; then
    stamp "ours: jenga debug denoise --device $dev --preset $loop --steps $n (predicted ${p} s)"
    run_step ours ./build/bin/jenga debug denoise --model "$work/dit.safetensors" --inputs "$work/loop_${loop}_inputs.safetensors" \
      --out "$work/loop_${loop}_ours.safetensors" --device "$dev" --preset "$loop" --steps "$n" --save-steps ${save//,/ } -q &&
      ours_wall=$wall || fail=1
  else
    fail=1
  fi
fi
if has compare; then
  stamp compare
  peer compare --tol "${TOL:-2e-2}" ${official_wall:+--official-wall-s "$official_wall"} ${ours_wall:+--ours-wall-s "$ours_wall"} \
    2>&1 | keep_json || fail=1
fi
stamp "done (fail=$fail)"
[ "$size" != full ] || df -h "$work" | tail -1
exit $fail
