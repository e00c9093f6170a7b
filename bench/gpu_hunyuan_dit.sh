#!/usr/bin/env bash
# One GPU-machine call for the HunyuanVideo CUDA DiT (issue #23): build, its GPU tests, our
# full-size forward (720x1280x125, random bf16 weights) and, with `peer`, the official forward
# timed in the same call (../shared/peer-bench/anchor_hunyuan_step.py: SDPA flash and cuDNN).
#
# Before (CPU machine, from the checkout the device receives; both folders git-ignored):
#   peers/hyref/hyvideo/... laid out as ../shared/peer-bench/README.md says (from
#   /work/peers-src/Tencent+HunyuanVideo), peers/shim, and peer-bench/anchor_hunyuan_step.py.
#   (e.g. `MIRRORS=/work/.mirror bash ../shared/peer-bench/make_peers.sh` and copy
#   ../shared/peer-bench/*.py and shim/ into peers/bench/), and `bash bench/device_deps.sh fetch`.
# Then: run(command="bash bench/gpu_hunyuan_dit.sh build test bench peer ctrlc", carry=["peers", ".gpu"]).
# Steps: build test bench peer ctrlc (default: build test bench). Env: OUT, ITERS (2), WARMUP (1),
# PEER_BENCH (peers/bench: where anchor_hunyuan_step.py and its shim/ are).
# ctrlc: SIGINT to a running full-size forward loop; prints how long the process took to exit.
set -uo pipefail
out=${OUT:-$PWD/gpu-out}; mkdir -p "$out"
steps=${*:-build test bench}
has() { [[ " $steps " == *" $1 "* ]]; }
export PATH=/usr/local/cuda/bin:$PATH PYTHONUNBUFFERED=1
source bench/device_deps.sh  # PCRE2 / utf8proc the image lacks (carry .gpu)
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
  timeout 240 ./build/bin/jenga_tests --gtest_filter='CudaRunAhead*:CudaHunyuanDit*:CudaDit*:HunyuanDit*' \
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
  PEERS=$PWD/peers timeout 300 python3 "${PEER_BENCH:-peers/bench}/anchor_hunyuan_step.py" 2>&1 | tail -8 | tee "$out/peer.txt"
fi
if has ctrlc; then
  # Ctrl-C during a 720p forward (18 s each): the process should be gone within about a second.
  stamp ctrlc
  ./build/bin/jenga bench dit --config hunyuan --size 1280x720 --frames 125 --iters 5 --warmup 0 >"$out/ctrlc.txt" 2>&1 &
  pid=$!
  sleep "${CTRLC_AFTER_S:-60}"
  t0=$(date +%s.%N); kill -INT "$pid"; wait "$pid"; rc=$?; t1=$(date +%s.%N)
  echo "ctrlc: exit code $rc, $(python3 -c "print(round($t1 - $t0, 2))") s from SIGINT to exit" | tee -a "$out/ctrlc.txt"
  tail -3 "$out/ctrlc.txt"
fi
stamp done
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
