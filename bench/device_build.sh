#!/usr/bin/env bash
# Sourced by the bench/gpu_*.sh scripts: the GPU check and the build on the GPU machine.
source "$(dirname "${BASH_SOURCE[0]}")/device_deps.sh"  # PCRE2 / utf8proc the image lacks (carry .gpu)

# require_gpu LOG: the GPU's name and memory to stdout and LOG, or stop with what to do.
require_gpu() {
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee -a "$1" ||
    { echo "error: no NVIDIA GPU visible: run this through the device 'run' tool (see the top of $0), or DEVICE=cpu SIZE=tiny" >&2; exit 1; }
}

# build_on_device BUILD_LOG TARGET...: Release for sm_90a without libav (the image has no FFmpeg
# headers); on failure the errors to stdout and stop.
build_on_device() {
  local blog=$1; shift
  { cmake -S . -B build -G Ninja -DJENGA_CUDA_ARCHS=90a -DCMAKE_BUILD_TYPE=Release -DJENGA_WITH_LIBAV=OFF &&
    cmake --build build -j16 --target "$@"; } >"$blog" 2>&1 ||
    { grep -E "error|FAILED" "$blog" | head -30; exit 1; }
}
