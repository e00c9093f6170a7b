#!/usr/bin/env bash
# Lays out, on the CPU machine, what bench/gpu_hunyuan_jenga.sh carries to the GPU machine (both
# folders are git-ignored; the official code is never committed):
#   peers/jengahy/  <- from the official Jenga checkout (dvlab-research/Jenga), files unmodified:
#       jenga_hyvideo.py (ra_forward, build_multi_curve, non_skip_steps), gilbert.py,
#       hyvideo/modules/{models_mul_block_gc_ha_multigpu, attention_block_triton_diffres, attenion,
#         activation_layers, norm_layers, embed_layers, posemb_layers, mlp_layers, modulate_layers,
#         token_refiner}.py, hyvideo/utils/helpers.py,
#       scripts/{hyvideo_jenga_base,hyvideo_jenga_turbo,hyvideo_jenga_flash,hyvideo_jenga_3stage,
#         accvideo_jenga}.sh (the preset flags bench/hunyuan_jenga_peer.py reads),
#       SOURCES.txt (the commit);
#   .whl/           the einops wheel (the GPU machine lacks it; the official blocks import it).
# Usage, from the repository root:
#   bash bench/hunyuan_jenga_peers_prep.sh [JENGA_CHECKOUT_OR_GIT_DIR]
# (default /work/peers-src/dvlab-research+Jenga; a bare snapshot from `fetch` works too).
# Optional: CURVES=1 also builds the official curve tables for 720x1280x125 into
# peers/jengahy/curves_720p.pt with the CPU here (needs torch and numpy in $PYTHON, default python3), so the GPU
# call does not spend its minutes on gilbert.py's pure-Python loops.
set -euo pipefail
src=${1:-/work/peers-src/dvlab-research+Jenga}
dst=peers/jengahy
[ -e "$src" ] || { echo "error: $src: no such folder (give the official Jenga checkout)" >&2; exit 1; }
files="jenga_hyvideo.py gilbert.py hyvideo/utils/helpers.py
  scripts/hyvideo_jenga_base.sh scripts/hyvideo_jenga_turbo.sh scripts/hyvideo_jenga_flash.sh
  scripts/hyvideo_jenga_3stage.sh scripts/accvideo_jenga.sh"
for m in models_mul_block_gc_ha_multigpu attention_block_triton_diffres attenion activation_layers norm_layers \
         embed_layers posemb_layers mlp_layers modulate_layers token_refiner; do
  files="$files hyvideo/modules/$m.py"
done
. "$(dirname "$0")/peers_copy.sh"
rm -rf "$dst" && mkdir -p "$dst"
# shellcheck disable=SC2086
copy_official "$src" "$dst" $files
commit=$(official_commit "$src")
echo "dvlab-research/Jenga $commit" >"$dst/SOURCES.txt"
if [ "${CURVES:-0}" = 1 ]; then
  "${PYTHON:-python3}" bench/hunyuan_jenga_peer.py --jenga "$dst" --curves-only --curve-cache "$dst/curves_720p.pt"
fi
mkdir -p .whl
ls .whl/einops-*.whl >/dev/null 2>&1 ||
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl einops==0.8.2
echo "peers/jengahy: $(cat "$dst/SOURCES.txt"), $(find "$dst" -type f | wc -l) files; .whl: $(ls .whl | tr '\n' ' ')"
