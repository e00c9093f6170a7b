#!/usr/bin/env bash
# Runs the libFuzzer targets for a bounded time (default 60 s each). Needs clang.
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
if ! command -v clang++ >/dev/null; then
  echo "fuzz: clang++ not found, skipping (scripts/setup.sh installs it)"; exit 0
fi
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DJENGA_CUDA=OFF -DJENGA_TESTS=OFF -DJENGA_FUZZ=ON >/dev/null
cmake --build build-fuzz --target safetensors_fuzz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp fuzz/corpus/safetensors/* "$work/"
build-fuzz/bin/safetensors_fuzz -max_total_time="$secs" -max_len=4096 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 "$work" 2>&1 | tail -n 15
