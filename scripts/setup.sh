#!/usr/bin/env bash
# Installs the Debian packages jenga needs (when apt can), then configures and builds into build/.
#   scripts/setup.sh                 # apt install (if missing) + Release build, CUDA if nvcc is found
#   scripts/setup.sh --no-apt        # skip apt (machines where it cannot download)
#   scripts/setup.sh -- -DJENGA_CUDA_ARCHS=90a   # extra CMake flags after --
set -euo pipefail
cd "$(dirname "$0")/.."

use_apt=1
cmake_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-apt) use_apt=0 ;;
    --) shift; cmake_args+=("$@"); break ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "error: unknown option '$1' (see scripts/setup.sh --help)" >&2; exit 2 ;;
  esac
  shift
done

packages=(build-essential cmake ninja-build ccache git pkg-config
          nlohmann-json3-dev libfmt-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
          libopenblas-dev libsentencepiece-dev libpcre2-dev libutf8proc-dev libpng-dev libjpeg62-turbo-dev libwebp-dev libopenmpi-dev openmpi-bin
          libavcodec-dev libavformat-dev libavutil-dev libswscale-dev
          clang libclang-rt-14-dev
          python3-pip)  # scripts/fetch_test_tokenizers.sh: pip download of the test tokenizer wheels

if [[ $use_apt == 1 ]] && command -v apt-get >/dev/null && command -v dpkg-query >/dev/null; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    echo "setup: installing ${missing[*]}"
    if $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
      :
    else
      echo "setup: warning: apt could not install ${missing[*]}; continuing with what is present" >&2
    fi
  fi
fi

# nvcc is often installed but not on PATH.
if ! command -v nvcc >/dev/null && [[ -x /usr/local/cuda/bin/nvcc ]]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release ${JENGA_CUDA_ARCHS:+-DJENGA_CUDA_ARCHS=$JENGA_CUDA_ARCHS} "${cmake_args[@]}"
cmake --build build
echo "setup: built build/bin/jenga"
