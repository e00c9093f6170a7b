#!/usr/bin/env bash
# One GPU-machine call for the HunyuanVideo CUDA DiT (issue #23): build, its GPU tests, our
# full-size forward (720x1280x125, random bf16 weights) and, with `peer`, the official forward
# timed in the same call (../shared/peer-bench/anchor_hunyuan_step.py: SDPA flash and cuDNN).
#
# Before (CPU machine, from the checkout the device receives; both folders git-ignored):
#   peers/hyref/hyvideo/... laid out as ../shared/peer-bench/README.md says (from
#   /work/peers-src/Tencent+HunyuanVideo), peers/shim, and peer-bench/anchor_hunyuan_step.py.
# Then: run(command="bash bench/gpu_hunyuan_dit.sh build test bench peer", carry=[...]).
# Steps: build test bench peer (default: build test bench). Env: OUT, ITERS (2), WARMUP (1).
set -uo pipefail
out=${OUT:-$PWD/gpu-out}; mkdir -p "$out"
steps=${*:-build test bench}
has() { [[ " $steps " == *" $1 "* ]]; }
export PATH=/usr/local/cuda/bin:$PATH PYTHONUNBUFFERED=1
# The device image lacks PCRE2 / utf8proc: .gpu/deps.sh unpacks carried Debian packages (if present).
[ -f .gpu/deps.sh ] && source .gpu/deps.sh
stamp() { echo "$(date +%T) $*"; }
if has build; then
  stamp build
  cmake -S . -B build -G Ninja -DJENGA_CUDA_ARCHS=90a -DCMAKE_BUILD_TYPE=Release -DJENGA_WITH_LIBAV=OFF \
    >"$out/cfg.log" 2>&1 || { tail -20 "$out/cfg.log"; exit 1; }
  cmake --build build -j16 --target jenga jenga_tests >"$out/build.log" 2>&1 \
    || { grep -E "error|FAILED" "$out/build.log" | head -40; exit 1; }
  stamp built
fi
if has test; then
  timeout 240 ./build/bin/jenga_tests --gtest_filter='CudaHunyuanDit*:CudaDit*:CudaOps*:HunyuanDit*' \
    >"$out/tests.txt" 2>&1
  echo "tests rc=$?"
  grep -E "relative L2|^\[  FAILED|^\[  PASSED|Failure|error" "$out/tests.txt" | head -60
fi
if has bench; then
  stamp bench
  timeout 200 ./build/bin/jenga bench dit --config hunyuan --size 1280x720 --frames 125 \
    --iters "${ITERS:-2}" --warmup "${WARMUP:-1}" --breakdown 2>&1 | tee "$out/bench.txt"
fi
if has peer; then
  stamp peer
  PEERS=$PWD/peers timeout 240 python3 peer-bench/anchor_hunyuan_step.py 2>&1 | tail -8 | tee "$out/peer.txt"
fi
stamp done
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
