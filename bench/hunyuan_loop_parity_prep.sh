#!/usr/bin/env bash
# Lays out, on the CPU machine, what bench/gpu_hunyuan_loop_parity.sh carries (git-ignored; the
# official code is never committed), on top of bench/hunyuan_parity_prep.sh's peers/hvofficial and
# bench/hunyuan_jenga_peers_prep.sh's peers/jengahy (run here when absent):
#   peers/hvofficial/hyvideo/diffusion/schedulers/scheduling_flow_match_discrete.py  <- Tencent/HunyuanVideo
#   peers/jengahy/hyvideo/diffusion/schedulers/scheduling_flow_match_discrete.py     <- dvlab-research/Jenga
#       (its predict_x0_from_xt / add_noise_to_step drive the ProRes switch)
#   peers/jengahy/curves_720p.pt  <- the official curve tables at 720x1280x125 (pure Python here,
#       tens of seconds, instead of on the GPU machine)
# Usage, from the repository root: bash bench/hunyuan_loop_parity_prep.sh [HUNYUANVIDEO_GIT_DIR [JENGA_GIT_DIR]]
# (defaults: the bare mirrors under /work/.mirror). PYTHON: a python with torch (default python3).
set -euo pipefail
hv=${1:-/work/.mirror/Tencent+HunyuanVideo/repo}
jg=${2:-/work/.mirror/dvlab-research+Jenga/repo}
py=${PYTHON:-python3}
show() {  # <repo> <path> -> stdout: from a checkout or a bare git dir
  if [ -f "$1/$2" ]; then cat "$1/$2"
  else git --git-dir="$1" show "HEAD:$2" 2>/dev/null || git --git-dir="$1/.git" show "HEAD:$2"; fi
}
[ -f peers/hvofficial/hyvideo/modules/models.py ] || PYTHON=$py bash bench/hunyuan_parity_prep.sh "$hv" "$jg"
[ -f peers/jengahy/jenga_hyvideo.py ] || bash bench/hunyuan_jenga_peers_prep.sh "$jg"
s=hyvideo/diffusion/schedulers/scheduling_flow_match_discrete.py
for pair in "$hv:peers/hvofficial" "$jg:peers/jengahy"; do
  src=${pair%%:*} dst=${pair#*:}
  mkdir -p "$dst/$(dirname $s)"
  show "$src" "$s" >"$dst/$s" || { echo "error: $src: no $s" >&2; exit 1; }
done
[ -f peers/jengahy/curves_720p.pt ] ||
  "$py" bench/hunyuan_jenga_peer.py --jenga peers/jengahy --curves-only --curve-cache peers/jengahy/curves_720p.pt
ls -la peers/hvofficial/$s peers/jengahy/$s peers/jengahy/curves_720p.pt
