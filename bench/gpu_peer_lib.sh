# shellcheck shell=bash
# Sourced by the GPU peer scripts (bench/gpu_hunyuan_jenga.sh, bench/gpu_hunyuan_i2v_jenga.sh):
# a time budget for the whole call, JSON lines split out of the log, the GPU check and einops.
# Needs: out (folder), budget (seconds); sets log, res, t_start.
log=$out/log.txt res=$out/results.jsonl
export PYTHONUNBUFFERED=1
t_start=$(date +%s)
stamp() { echo "$(date +%T) $*" | tee -a "$log"; }
split() { tee -a "$log" | grep --line-buffered '^{' | tee -a "$res"; }
left() { echo $((budget - ($(date +%s) - t_start))); }

require_gpu() {  # $1: the peer flags (a CPU rehearsal passes --device cpu)
  [[ " $1 " == *" --device cpu "* ]] && return 0
  if ! nvidia-smi -L >/dev/null 2>&1 || [ -z "$(nvidia-smi -L 2>/dev/null)" ]; then
    echo "error: no NVIDIA GPU visible: run this on the GPU machine through the device 'run' tool (see the top of $0)" >&2
    exit 1
  fi
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee -a "$log"
}

require_einops() {  # the official blocks import einops; the GPU machine has it only if .whl brings it
  python3 -c "import einops" 2>/dev/null && return 0
  if ls .whl/einops-*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site-jenga .whl/einops-*.whl &&
      export PYTHONPATH=/tmp/site-jenga${PYTHONPATH:+:$PYTHONPATH}
  fi
  python3 -c "import einops" 2>/dev/null ||
    { echo "error: no einops (carry .whl from the bench/*peers_prep.sh script)" >&2; exit 1; }
}

run_ours() {  # OURS (a command printing JSON lines, e.g. jenga bench denoise --json) within $1 seconds
  [ -n "${OURS:-}" ] || return 0
  stamp "ours: start ($OURS, ${1}s)"
  timeout "$1" bash -c "$OURS" 2>&1 | split
  stamp "ours: rc=${PIPESTATUS[0]}"
}

use_work() {  # work=${WORK:-$1}: a folder of its own for big files, removed on exit unless KEEP=1
  work=${WORK:-$1}
  case "$(realpath -m "$work")" in /|"$PWD"|"$HOME"|/tmp) echo "error: WORK=$work: give a folder of its own (it is removed at the end)" >&2; exit 2;; esac
  mkdir -p "$work"
  # The device tool copies the checkout before each call and drops every folder git does not ignore, so a
  # WORK kept for the next call (KEEP=1) must be ignored or it is silently gone (session 13 lost .i2vparity).
  if [ "${KEEP:-0}" = 1 ] && git rev-parse --is-inside-work-tree >/dev/null 2>&1 &&
     [ -n "$(git ls-files --others --exclude-standard --directory -- "$work" 2>/dev/null)" ]; then
    echo "error: WORK=$work is not git-ignored, so the next device call would not find it: add it to .gitignore or .git/info/exclude" >&2
    exit 2
  fi
  trap '[ "${KEEP:-0}" = 1 ] || { rm -rf "$work"; echo "removed $work (KEEP=1 keeps it)"; }' EXIT
}
