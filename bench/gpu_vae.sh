#!/usr/bin/env bash
# One GPU-machine session for the Wan VAE decoder: build, the CUDA VAE tests (+ memcheck), our
# benchmark, the official peer (timing and full-size parity, bench/wan_vae_peer.py) and the
# comparison, all in the same run. Usage: PEERS=path/to/peers bench/gpu_vae.sh [build] [test]
# [sanitize] [bench] [peer]   (default: all). Logs go to $OUT (or ./gpu-out).
set -uo pipefail
out=${OUT:-$PWD/gpu-out}; mkdir -p "$out"
steps=${*:-build test sanitize bench peer}
has() { [[ " $steps " == *" $1 "* ]]; }
peers=${PEERS:-peers}
size=${SIZE:-832x480}; frames=${FRAMES:-81}
tmp=${TMPDIR:-/tmp}/jenga-vae; mkdir -p "$tmp"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv | tee "$out/gpu.txt"
if has build; then
  s=$(date +%s)
  cmake -S . -B build -G Ninja -DJENGA_CUDA_ARCHS=90a -DCMAKE_BUILD_TYPE=Release >"$out/cmake.log" 2>&1 &&
    cmake --build build -j16 --target jenga jenga_tests >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
  echo "build: $(($(date +%s) - s)) s"
fi
if has test; then
  ./build/bin/jenga_tests --gtest_filter='*CudaVae*:*WanVae*:CliT5Vae*' 2>&1 | tee "$out/tests.txt" |
    grep -E "^\[  (FAILED|PASSED|SKIPPED) |Failure|error|rel L2" | head -40
fi
if has bench; then
  for mib in 512 2048; do
    ./build/bin/jenga bench vae --size "$size" --frames "$frames" --im2col-mib $mib --json 2>&1 | tee -a "$out/bench.jsonl"
  done
  # Where the time goes (events around each launch group; one decode).
  JENGA_VAE_PROFILE=1 ./build/bin/jenga bench vae --size "$size" --frames "$frames" --iters 1 --warmup 0 2>&1 |
    tee "$out/profile.txt" | grep "vae profile"
fi
if has peer; then
  PYTHONUNBUFFERED=1 python3 bench/wan_vae_peer.py --peers "$peers" run --size "$size" --frames "$frames" \
    --ckpt "$tmp/vae.safetensors" --latents "$tmp/z.safetensors" --out "$tmp/ref.safetensors" 2>&1 | tee -a "$out/peer.jsonl"
  /usr/bin/time -v ./build/bin/jenga debug vae-decode --vae "$tmp/vae.safetensors" --latents "$tmp/z.safetensors" \
    --out "$tmp/ours.safetensors" --device cuda >"$out/ours-decode.txt" 2>&1
  grep -E "wrote|error|Elapsed|Maximum resident" "$out/ours-decode.txt"
  PYTHONUNBUFFERED=1 python3 bench/wan_vae_peer.py compare --ref "$tmp/ref.safetensors" --ours "$tmp/ours.safetensors" \
    2>&1 | tee -a "$out/peer.jsonl"
  ./build/bin/jenga bench vae --model "$tmp/vae.safetensors" --size "$size" --frames "$frames" --json 2>&1 |
    tee -a "$out/bench.jsonl"
fi
if has sanitize; then
  timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 ./build/bin/jenga_tests \
    --gtest_filter='*CudaVaeDecode*/2:CudaVae.RandomOfficialStructureTiledMatchesCpu' >"$out/san-memcheck.txt" 2>&1
  echo "compute-sanitizer memcheck rc=$? $(grep -E 'ERROR SUMMARY' "$out/san-memcheck.txt" | tail -1)"
fi
