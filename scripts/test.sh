#!/usr/bin/env bash
# Builds what changed and runs every test.
#   scripts/test.sh              # tests of the build/ tree (GPU tests skip without a GPU)
#   scripts/test.sh --sanitize   # a separate address+undefined sanitizer build (build-asan/), CPU only
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

if [[ "${1:-}" == "--sanitize" ]]; then
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJENGA_CUDA=OFF \
        -DJENGA_SANITIZE=address,undefined >/dev/null
  cmake --build build-asan
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs"
  exit 0
fi
[[ $# -eq 0 ]] || { echo "error: unknown option '$1' (use --sanitize or nothing)" >&2; exit 2; }

if [[ ! -f build/build.ninja ]]; then
  scripts/setup.sh --no-apt
fi
cmake --build build
ctest --test-dir build --output-on-failure -j "$jobs"
