#!/usr/bin/env bash
# One GPU-machine call for Sparse VideoGen on HunyuanVideo (issue #23 point 4): build, its GPU
# tests, and one 720x1280x125 HunyuanVideo forward (random bf16 weights) dense vs --attention svg
# (the official HunyuanVideo script's settings: sparsity 0.25, 1 dense layer of 60), each in its
# own process with the same seed and inputs. With `peer`: the official SVG HunyuanVideo attention
# (svg/models/hyvideo/attention.py, one layer call at that shape: sample_mse, Triton placement,
# compiled flex attention) timed per layer (bench/svg_hunyuan_attn_peer.py, needs peers/svgref).
# Steps: build test bench peer (default: build test bench). Env: OUT, ITERS (1), WARMUP (1).
# Before (CPU machine): `bash bench/device_deps.sh fetch` (carry .gpu); for peer,
#   mkdir -p peers/svgref && git --git-dir=<Sparse-VideoGen mirror> archive HEAD svg | tar x -C peers/svgref
# Then: run(command="bash bench/gpu_hunyuan_svg.sh build test bench", carry=[".gpu"]).
set -uo pipefail
out=${OUT:-$PWD/gpu-out}; mkdir -p "$out"
steps=${*:-build test bench}
has() { [[ " $steps " == *" $1 "* ]]; }
export PATH=/usr/local/cuda/bin:$PATH PYTHONUNBUFFERED=1
source bench/device_deps.sh
stamp() { echo "$(date +%T) $*"; }
if has build; then  # the same configure + build as the HunyuanVideo DiT's GPU script
  OUT=$out bash bench/gpu_hunyuan_dit.sh build || exit 1
fi
if has test; then
  timeout 240 ./build/bin/jenga_tests --gtest_filter='CudaHunyuanSvg*:CudaSvg*:SvgHunyuan*:SvgPolicy*' >"$out/tests.txt" 2>&1
  echo "tests rc=$?"
  grep -E "rel L2|^\[  FAILED|^\[  PASSED|^\[       OK|Failure|error" "$out/tests.txt" | head -60
fi
if has bench; then
  for a in dense svg; do
    stamp "bench $a"
    timeout 150 ./build/bin/jenga bench dit --config hunyuan --size 1280x720 --frames 125 --attention "$a" \
      --iters "${ITERS:-1}" --warmup "${WARMUP:-1}" --breakdown --json 2>&1 | tee "$out/bench_$a.json"
  done
fi
if has peer; then
  stamp peer
  timeout 150 python3 bench/svg_hunyuan_attn_peer.py --svg peers/svgref --frames 125 --size 1280x720 2>&1 \
    | tail -6 | tee "$out/peer.txt"
fi
stamp done
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
