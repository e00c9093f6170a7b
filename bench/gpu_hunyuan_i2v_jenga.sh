#!/usr/bin/env bash
# One GPU call (issue #25 point 6): the OFFICIAL HunyuanVideo-I2V DiT forward and the OFFICIAL
# Jenga I2V forward (jenga_hyi2v.py's ra_forward + Jenga's Triton block-sparse kernel) at 720p
# (SIZE, default 1248x704: the official 720p bucket of a 16:9 image) x 125 frames, random bf16
# weights shared by both, timed per stage configuration and multiplied out by the official step
# plans: dense I2V = 50 forwards, Jenga Base = 24 computed + 26 reused (bench/hunyuan_i2v_jenga_peer.py).
#
# Before (on the CPU machine, once, from the repository root; folders are git-ignored):
#   CURVES=1 PYTHON=/tmp/hyvenv/bin/python bash bench/hunyuan_i2v_peers_prep.sh   # -> peers/jengahyi2v, peers/hyi2vref, .whl
# Then one device call (~5-6 min at the default budget):
#   run(command="bash bench/gpu_hunyuan_i2v_jenga.sh", carry=["peers", ".whl"], timeout_s=600)
# Our loop in the same call (needs a build on the warm machine; it runs first, within OURS_S seconds,
# the peer gets the rest and skips what does not fit):
#   OURS='./build/bin/jenga bench denoise --config hunyuan-i2v --preset base --size 1248x704 --frames 125 --json'
# PEER=0 runs only OURS (with the whole budget).
# Env: OUT (default ./gpu-out), PEERS (default peers), SIZE, BUDGET_S (540: the whole script stays
#      inside it), OURS_S (default 300), PEER_ARGS (extra peer flags, default
#      "--dense cudnn,flash --p-floor --check"; "--tiny --device cpu --dense math --check" for a CPU
#      rehearsal). --check: Jenga's forward with every block kept vs the official dense forward
#      first (same weights and inputs; a jenga_hyi2v_check line, ok when rel L2 < 2e-2).
# Results under $OUT: results.jsonl (every JSON line), summary.md (estimates, forwards, ours),
# log.txt (everything). The summary and the key JSON lines are printed last.
set -uo pipefail
out=${OUT:-$PWD/gpu-out}; mkdir -p "$out"
peers=${PEERS:-peers}
size=${SIZE:-1248x704}
pa=${PEER_ARGS:---dense cudnn,flash --p-floor --check}
budget=${BUDGET_S:-540}
. "$(dirname "$0")/gpu_peer_lib.sh"
require_gpu "$pa"
for f in "$peers/jengahyi2v/jenga_hyi2v.py" "$peers/hyi2vref/hyvideo/modules/models.py"; do
  [ -f "$f" ] || { echo "error: $f is missing: run bench/hunyuan_i2v_peers_prep.sh here and carry peers" >&2; exit 1; }
done
require_einops
cat "$peers/jengahyi2v/SOURCES.txt" "$peers/hyi2vref/SOURCES.txt" | tee -a "$log"
cache="$peers/jengahyi2v/curves_$size.pt"
[ -f "$cache" ] || [[ " $pa " == *" --tiny "* ]] ||
  stamp "warning: no $cache (CURVES=1 bash bench/hunyuan_i2v_peers_prep.sh makes it): the peer builds the curve tables first (~10 s on this CPU)"

# Predictions (nothing measured yet; from the T2V figures in docs/BENCHMARKS.md), printed to set
# expectations in the log: peer ~5-6 min in all, ours Base ~4 min.
stamp "expected on an H100 (unmeasured): model ~10 s; check ~1 min; sparse ~30-50 s per configuration" \
      "(forward ~10-18 s); dense cuDNN ~20 s a forward (~45 s with warm-up), flash ~30 s; ours Base ~3-4 min"
if [ "${PEER:-1}" = 0 ]; then run_ours $(( $(left) - 5 )); else run_ours "${OURS_S:-300}"; fi

rc=0
if [ "${PEER:-1}" != 0 ]; then
  # What is left less 25 s for the kill margin and the summary; inside, the peer stops starting
  # forwards that would not finish (it predicts them from those already timed).
  secs=$(( $(left) - 10 )); inner=$(( secs - 15 ))
  stamp "peer: start (size $size, ${inner}s inner budget)"
  # shellcheck disable=SC2086
  timeout -k 15 "$secs" python3 bench/hunyuan_i2v_jenga_peer.py --jenga "$peers/jengahyi2v" --official "$peers/hyi2vref" \
    --size "$size" --curve-cache "$cache" --budget-s "$inner" $pa 2>&1 | split
  rc=${PIPESTATUS[0]}
  stamp "peer: rc=$rc$([ "$rc" = 124 ] && echo " (timed out after ${secs}s)")"
fi

python3 bench/jenga_peer_timing.py summary "$res" >"$out/summary.md"
echo "---- key lines ----"
grep -h -E '"kind": "jenga_hyi2v_(check|stage|preset_estimate|interrupted)"|"bench": "denoise"' "$res" | cut -c1-1500
cat "$out/summary.md"
exit "$rc"
