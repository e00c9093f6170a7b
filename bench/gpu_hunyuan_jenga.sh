#!/usr/bin/env bash
# One GPU call: the OFFICIAL Jenga HunyuanVideo DiT forward at 720x1280x125, timed per stage
# configuration of the official presets (bench/hunyuan_jenga_peer.py), and the official DiT time
# per preset estimated from the step-reuse counts (issue #24 point 5). Random bf16 weights.
#
# Before (on the CPU machine, once, from the repository root; folders are git-ignored):
#   CURVES=1 bash bench/hunyuan_jenga_peers_prep.sh /work/peers-src/dvlab-research+Jenga  # -> peers/jengahy, .whl/
# Then one device call:
#   run(command="bash bench/gpu_hunyuan_jenga.sh", carry=["peers", ".whl"], timeout_s=600)
# To put our whole-loop time beside it in the same call, set OURS to the command (its JSON lines
# are kept too), e.g. OURS="./build/bin/jenga bench denoise --config hunyuan --preset turbo --json"
# (needs a build on the warm machine: run gpu_hunyuan_components.sh's build step first).
# Env: OUT (default ./gpu-out), PEERS (default peers), BUDGET_S (540: the whole script stays
#      inside it; the peer skips configurations rather than overrun), PRESETS
#      (turbo,base,flash,3stage,accvideo), PEER_ARGS (extra peer flags, default
#      "--dense cudnn --freqs-check --p-floor"; "--tiny --device cpu" for a CPU rehearsal).
# Results under $OUT: results.jsonl (every JSON line), summary.md (per-preset estimates and
# per-configuration forwards), log.txt (everything).
set -uo pipefail
out=${OUT:-$PWD/gpu-out}; mkdir -p "$out"
peers=${PEERS:-peers}
presets=${PRESETS:-turbo,base,flash,3stage,accvideo}
pa=${PEER_ARGS:---dense cudnn --freqs-check --p-floor}
log=$out/log.txt res=$out/results.jsonl
export PYTHONUNBUFFERED=1
t_start=$(date +%s); budget=${BUDGET_S:-540}
stamp() { echo "$(date +%T) $*" | tee -a "$log"; }
split() { tee -a "$log" | grep --line-buffered '^{' | tee -a "$res"; }
left() { echo $((budget - ($(date +%s) - t_start))); }

if [[ " $pa " != *" --device cpu "* ]]; then
  if ! nvidia-smi -L >/dev/null 2>&1 || [ -z "$(nvidia-smi -L 2>/dev/null)" ]; then
    echo "error: no NVIDIA GPU visible: run this on the GPU machine through the device 'run' tool (see the top of $0)" >&2
    exit 1
  fi
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee -a "$log"
fi
[ -f "$peers/jengahy/jenga_hyvideo.py" ] ||
  { echo "error: $peers/jengahy is missing: run bench/hunyuan_jenga_peers_prep.sh here and carry peers" >&2; exit 1; }
# The official blocks import einops; the GPU machine has it only if .whl brings it.
if ! python3 -c "import einops" 2>/dev/null; then
  if ls .whl/einops-*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site-jenga .whl/einops-*.whl &&
      export PYTHONPATH=/tmp/site-jenga${PYTHONPATH:+:$PYTHONPATH}
  fi
  python3 -c "import einops" 2>/dev/null ||
    { echo "error: no einops (carry .whl from bench/hunyuan_jenga_peers_prep.sh)" >&2; exit 1; }
fi
cat "$peers/jengahy/SOURCES.txt" | tee -a "$log"

if [ -n "${OURS:-}" ]; then
  stamp "ours: start ($OURS)"
  timeout $(( $(left) / 3 )) bash -c "$OURS" 2>&1 | split
  stamp "ours: rc=${PIPESTATUS[0]}"
fi

# The peer gets what is left less 25 s for the kill margin and the summary; inside, it stops
# starting configurations that would not finish (it knows the full-res forward time after one).
secs=$(( $(left) - 10 )); inner=$(( secs - 15 ))
stamp "peer: start (presets $presets, ${inner}s inner budget)"
timeout -k 15 "$secs" python3 bench/hunyuan_jenga_peer.py --jenga "$peers/jengahy" --presets "$presets" \
  --curve-cache "$peers/jengahy/curves_720p.pt" --budget-s "$inner" $pa 2>&1 | split
rc=${PIPESTATUS[0]}
stamp "peer: rc=$rc$([ "$rc" = 124 ] && echo " (timed out after ${secs}s)")"

python3 - "$res" >"$out/summary.md" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print("| preset | official DiT s (random weights) | at p=0 (floor) | computed / skipped forwards | formula (count x ms) | N x dense forward s |")
print("| --- | --- | --- | --- | --- | --- |")
for r in rows:
    if r.get("kind") == "jenga_hy_preset_estimate":
        print(f"| {r['preset']} | {r['dit_s']} | {r['dit_s_p0']} | {r['computed']} / {r['skipped']} | {r['formula']} | {r['dense_dit_s']} ({r['dense_sdpa']}) |")
print("\n| forward | grid | drop / top_k / p | density | ms | peak GB | used by |\n| --- | --- | --- | --- | --- | --- | --- |")
for r in rows:
    if r.get("kind") == "jenga_hy_forward":
        g = "x".join(map(str, r.get("grid", [])))
        print(f"| {r['what']}{' ' + r['sdpa'] if 'sdpa' in r else ''} | {g} | {r.get('drop', '')} / {r.get('top_k', '')} / {r.get('p', '')} "
              f"| {r.get('density', '')} | {r.get('ms', r.get('skipped_for'))} | {r.get('peak_gb', '')} | {','.join(r.get('used_by', []))} |")
EOF
cat "$out/summary.md"
exit "$rc"
