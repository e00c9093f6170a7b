#!/usr/bin/env bash
# One-GPU check of the multi-GPU code path (issue #9): `jenga generate` on the built-in tiny
# model on CUDA, plain vs `mpirun -np 1` (sequence parallel through NCCL with a world of one:
# the q/k/v and attention all-to-alls, the head all-gather). Dense and a Jenga preset. Writes
# latents and logs under OUT; compare with tools or numpy (max abs diff).
#   OUT=/tmp/out bench/gpu_dist_np1.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:?set OUT}
export PATH=/usr/local/cuda/bin:$PATH NCCL_NVLS_ENABLE=0
{ command -v mpirun; mpirun --version | head -1; ls /usr/local/cuda/lib64/libnccl.so* /usr/lib/x86_64-linux-gnu/libnccl.so* 2>/dev/null; nvidia-smi -L; } > "$OUT/env.txt" 2>&1
# sm_80 code only (runs on the H100 through the mma.sync attention path): a quicker build.
cmake -S . -B build -G Ninja -DJENGA_CUDA_ARCHS=${JENGA_CUDA_ARCHS:-80} -DJENGA_TESTS=OFF > "$OUT/cmake.log" 2>&1
s=$SECONDS
ninja -C build jenga > "$OUT/build.log" 2>&1 || { echo "build failed"; tail -30 "$OUT/build.log"; exit 1; }
echo "build ${SECONDS}s -> $(($SECONDS - s))s"; grep "jenga:" "$OUT/cmake.log"
J=build/bin/jenga
run() {  # name, extra args
  local common="generate -p 'a corgi surfing' --seed 3 --device cuda -q $2"
  eval "$J $common -o $OUT/$1_plain.y4m --latents-out $OUT/$1_plain.safetensors" > "$OUT/$1_plain.log" 2>&1
  echo "$1 plain rc=$?"
  eval "mpirun --allow-run-as-root --oversubscribe -np 1 -x NCCL_NVLS_ENABLE=0 $J $common -o $OUT/$1_np1.y4m --latents-out $OUT/$1_np1.safetensors" > "$OUT/$1_np1.log" 2>&1
  echo "$1 np1 rc=$?"
  tail -3 "$OUT/$1_np1.log"
}
run dense "--size 128x128 --frames 5 --steps 4"
run base "--size 256x256 --frames 5 --steps 12 --preset base"
