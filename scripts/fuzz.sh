#!/usr/bin/env bash
# Runs the libFuzzer targets (safetensors header, PyTorch checkpoint) for a bounded total time,
# split evenly between them (default 60 s in all). Needs clang.
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
targets=(safetensors:4096 torch_pickle:8192)  # name:max input length
if ! command -v clang++ >/dev/null; then
  echo "fuzz: clang++ not found, skipping (scripts/setup.sh installs it)"; exit 0
fi
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DJENGA_CUDA=OFF -DJENGA_TESTS=OFF -DJENGA_FUZZ=ON >/dev/null
cmake --build build-fuzz --target "${targets[@]/%:*/_fuzz}"
each=$(( secs / ${#targets[@]} ))
(( each > 0 )) || each=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for t in "${targets[@]}"; do
  name=${t%%:*} max_len=${t##*:}
  mkdir -p "$work/$name"
  cp fuzz/corpus/"$name"/* "$work/$name/"
  echo "fuzz: $name for ${each} s"
  build-fuzz/bin/"$name"_fuzz -max_total_time="$each" -max_len="$max_len" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 "$work/$name" 2>&1 | tail -n 15
done
