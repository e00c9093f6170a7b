#!/usr/bin/env bash
# Lays out, on the CPU machine, what bench/gpu_hunyuan_i2v_jenga.sh carries to the GPU machine
# (git-ignored folders; the official code is never committed), files unmodified:
#   peers/jengahyi2v/  <- dvlab-research/Jenga: jenga_hyi2v.py (ra_forward, build_multi_curve,
#       step_calc), gilbert.py, hyvideo_i2v/modules/{models_mul, attention_block_triton_diffres,
#       attenion, activation_layers, norm_layers, embed_layers, posemb_layers, mlp_layers,
#       modulate_layers, token_refiner}.py, hyvideo_i2v/utils/helpers.py,
#       hyvideo_i2v/diffusion/schedulers/scheduling_flow_match_discrete.py,
#       scripts/hyi2v_jenga_base.sh (the Base flags), SOURCES.txt;
#   peers/hyi2vref/    <- Tencent/HunyuanVideo-I2V: hyvideo/modules/{models, attenion, ...}.py (the
#       official token_replace DiT), hyvideo/utils/helpers.py,
#       hyvideo/diffusion/schedulers/scheduling_flow_match_discrete.py, SOURCES.txt;
#   .whl/              the einops wheel (the official blocks import it; the GPU machine lacks it).
# Usage, from the repository root:
#   bash bench/hunyuan_i2v_peers_prep.sh [JENGA_CHECKOUT_OR_GIT_DIR] [HUNYUANVIDEO_I2V_CHECKOUT_OR_GIT_DIR]
# (defaults: the bare snapshots /work/.mirror/dvlab-research+Jenga/repo and
#  /work/.mirror/Tencent+HunyuanVideo-I2V/repo, as the `fetch` tool leaves them).
# CURVES=1 also builds the official curve tables of the grid of SIZE (default 1248x704, 125
# frames: 32x44x78) into peers/jengahyi2v/curves_<SIZE>.pt with $PYTHON (torch + numpy; default
# python3), so the GPU call does not spend a minute in gilbert.py's pure-Python loops.
set -euo pipefail
jsrc=${1:-/work/.mirror/dvlab-research+Jenga/repo}
osrc=${2:-/work/.mirror/Tencent+HunyuanVideo-I2V/repo}
size=${SIZE:-1248x704}
for s in "$jsrc" "$osrc"; do [ -e "$s" ] || { echo "error: $s: no such folder (give the official checkout)" >&2; exit 1; }; done
. "$(dirname "$0")/peers_copy.sh"
mods="attenion activation_layers norm_layers embed_layers posemb_layers mlp_layers modulate_layers token_refiner"

jf="jenga_hyi2v.py gilbert.py hyvideo_i2v/utils/helpers.py scripts/hyi2v_jenga_base.sh
    hyvideo_i2v/diffusion/schedulers/scheduling_flow_match_discrete.py"
for m in models_mul attention_block_triton_diffres $mods; do jf="$jf hyvideo_i2v/modules/$m.py"; done
rm -rf peers/jengahyi2v && mkdir -p peers/jengahyi2v
# shellcheck disable=SC2086
copy_official "$jsrc" peers/jengahyi2v $jf
echo "dvlab-research/Jenga $(official_commit "$jsrc")" >peers/jengahyi2v/SOURCES.txt

of="hyvideo/utils/helpers.py hyvideo/diffusion/schedulers/scheduling_flow_match_discrete.py"
for m in models $mods; do of="$of hyvideo/modules/$m.py"; done
rm -rf peers/hyi2vref && mkdir -p peers/hyi2vref
# shellcheck disable=SC2086
copy_official "$osrc" peers/hyi2vref $of
echo "Tencent/HunyuanVideo-I2V $(official_commit "$osrc")" >peers/hyi2vref/SOURCES.txt

if [ "${CURVES:-0}" = 1 ]; then
  "${PYTHON:-python3}" bench/hunyuan_i2v_jenga_peer.py --jenga peers/jengahyi2v --size "$size" --curves-only \
    --curve-cache "peers/jengahyi2v/curves_$size.pt"
fi
mkdir -p .whl
ls .whl/einops-*.whl >/dev/null 2>&1 ||
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl einops==0.8.2
echo "peers/jengahyi2v: $(cat peers/jengahyi2v/SOURCES.txt), $(find peers/jengahyi2v -type f | wc -l) files;" \
     "peers/hyi2vref: $(cat peers/hyi2vref/SOURCES.txt), $(find peers/hyi2vref -type f | wc -l) files; .whl: $(ls .whl | tr '\n' ' ')"
