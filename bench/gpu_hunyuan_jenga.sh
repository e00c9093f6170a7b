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
budget=${BUDGET_S:-540}
. "$(dirname "$0")/gpu_peer_lib.sh"
require_gpu "$pa"
[ -f "$peers/jengahy/jenga_hyvideo.py" ] ||
  { echo "error: $peers/jengahy is missing: run bench/hunyuan_jenga_peers_prep.sh here and carry peers" >&2; exit 1; }
require_einops
cat "$peers/jengahy/SOURCES.txt" | tee -a "$log"

run_ours $(( $(left) / 3 ))

# The peer gets what is left less 25 s for the kill margin and the summary; inside, it stops
# starting configurations that would not finish (it knows the full-res forward time after one).
secs=$(( $(left) - 10 )); inner=$(( secs - 15 ))
stamp "peer: start (presets $presets, ${inner}s inner budget)"
timeout -k 15 "$secs" python3 bench/hunyuan_jenga_peer.py --jenga "$peers/jengahy" --presets "$presets" \
  --curve-cache "$peers/jengahy/curves_720p.pt" --budget-s "$inner" $pa 2>&1 | split
rc=${PIPESTATUS[0]}
stamp "peer: rc=$rc$([ "$rc" = 124 ] && echo " (timed out after ${secs}s)")"

python3 bench/jenga_peer_timing.py summary "$res" >"$out/summary.md"
cat "$out/summary.md"
exit "$rc"
