#!/usr/bin/env bash
# Lays out, on the CPU machine, what bench/gpu_hunyuan_components.sh needs to carry to the GPU
# machine (both folders are git-ignored; the official code is never committed):
#   peers/hunyuanref/hyvideo/vae/{autoencoder_kl_causal_3d,vae,unet_causal_3d_blocks}.py
#       <- the official HunyuanVideo VAE (imported by bench/hunyuan_vae_peer.py without its
#          package __init__), with peers/hunyuanref/SOURCES.txt naming the commit;
#   .whl/  diffusers and einops wheels (the GPU machine has neither; the official VAE imports both).
# Usage, from the repository root: bash bench/hunyuan_peers_prep.sh [HUNYUANVIDEO_CHECKOUT_OR_GIT_DIR]
# (default /work/peers-src/Tencent+HunyuanVideo; a bare snapshot from `fetch` works too).
set -euo pipefail
src=${1:-/work/peers-src/Tencent+HunyuanVideo}
dst=peers/hunyuanref/hyvideo/vae
[ -d "$src" ] || { echo "error: $src: no such folder (give the official HunyuanVideo checkout)" >&2; exit 1; }
rm -rf peers/hunyuanref && mkdir -p "$dst"
for f in autoencoder_kl_causal_3d vae unet_causal_3d_blocks; do
  if [ -f "$src/hyvideo/vae/$f.py" ]; then cp "$src/hyvideo/vae/$f.py" "$dst/"
  else git --git-dir="$src" show "HEAD:hyvideo/vae/$f.py" >"$dst/$f.py" 2>/dev/null ||
         git --git-dir="$src/.git" show "HEAD:hyvideo/vae/$f.py" >"$dst/$f.py" ||
         { echo "error: $src: no hyvideo/vae/$f.py" >&2; exit 1; }
  fi
done
commit=$(git -C "$src" rev-parse HEAD 2>/dev/null || git --git-dir="$src" rev-parse HEAD 2>/dev/null || echo unknown)
echo "Tencent/HunyuanVideo $commit (hyvideo/vae/*.py)" >peers/hunyuanref/SOURCES.txt
mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .whl diffusers==0.39.0 einops==0.8.2
echo "peers/hunyuanref: $(cat peers/hunyuanref/SOURCES.txt); .whl: $(ls .whl | tr '\n' ' ')"
