#!/usr/bin/env bash
# Lays out, on the CPU machine, what bench/gpu_hunyuan_parity.sh carries to the GPU machine (all
# git-ignored; the official code is never committed):
#   peers/hvofficial/hyvideo/modules/{models,attenion,activation_layers,norm_layers,embed_layers,
#       posemb_layers,mlp_layers,modulate_layers,token_refiner}.py, hyvideo/utils/helpers.py
#       <- Tencent/HunyuanVideo, unmodified (empty package __init__ files: the real ones import the
#          whole pipeline), SOURCES.txt naming the commit;
#   peers/jengahy/ and .whl/einops  <- bench/hunyuan_jenga_peers_prep.sh (Jenga's gilbert.py and mask builder);
#   peers/jengahy/curves_hyparity_32x45x80.pt  <- the official curve + neighbour tables at 720x1280x125
#       (gilbert.py is pure Python: tens of seconds here instead of on the GPU machine).
# Usage, from the repository root:
#   bash bench/hunyuan_parity_prep.sh [HUNYUANVIDEO_GIT_DIR [JENGA_GIT_DIR]]
# (defaults /work/.mirror/Tencent+HunyuanVideo/repo and /work/.mirror/dvlab-research+Jenga/repo;
# checkouts work too). PYTHON: a python with torch for the curve tables (default python3).
set -euo pipefail
hv=${1:-/work/.mirror/Tencent+HunyuanVideo/repo}
jg=${2:-/work/.mirror/dvlab-research+Jenga/repo}
py=${PYTHON:-python3}
[ -e "$hv" ] || { echo "error: $hv: no such folder (give the Tencent/HunyuanVideo checkout or bare mirror)" >&2; exit 1; }
show() {  # <repo> <path> -> stdout: from a checkout or a bare git dir
  if [ -f "$1/$2" ]; then cat "$1/$2"
  else git --git-dir="$1" show "HEAD:$2" 2>/dev/null || git --git-dir="$1/.git" show "HEAD:$2"; fi
}
dst=peers/hvofficial/hyvideo
rm -rf peers/hvofficial && mkdir -p "$dst/modules" "$dst/utils"
: >"$dst/__init__.py"; : >"$dst/modules/__init__.py"; : >"$dst/utils/__init__.py"
for m in models attenion activation_layers norm_layers embed_layers posemb_layers mlp_layers modulate_layers token_refiner; do
  show "$hv" "hyvideo/modules/$m.py" >"$dst/modules/$m.py" ||
    { echo "error: $hv: no hyvideo/modules/$m.py (is it Tencent/HunyuanVideo?)" >&2; exit 1; }
done
show "$hv" hyvideo/utils/helpers.py >"$dst/utils/helpers.py"
commit=$(git -C "$hv" rev-parse HEAD 2>/dev/null || git --git-dir="$hv" rev-parse HEAD 2>/dev/null || echo unknown)
echo "Tencent/HunyuanVideo $commit (hyvideo/modules/*.py, hyvideo/utils/helpers.py)" >peers/hvofficial/SOURCES.txt
# Jenga's files: laid out unless there (hunyuan_jenga_peers_prep.sh empties peers/jengahy first,
# which would drop other cached tables such as its curves_720p.pt).
if [ -f peers/jengahy/gilbert.py ] && [ -f peers/jengahy/hyvideo/modules/attention_block_triton_diffres.py ] &&
   ls .whl/einops-*.whl >/dev/null 2>&1; then
  echo "peers/jengahy: already laid out ($(cat peers/jengahy/SOURCES.txt 2>/dev/null))"
else
  bash bench/hunyuan_jenga_peers_prep.sh "$jg"
fi
"$py" bench/hunyuan_parity_peer.py curves --jenga peers/jengahy --grid 32,45,80 \
  --curve-cache peers/jengahy/curves_hyparity_32x45x80.pt
echo "peers/hvofficial: $(cat peers/hvofficial/SOURCES.txt)"
du -sh peers/hvofficial peers/jengahy .whl
