#!/usr/bin/env bash
# The GPU machine's image has no apt and lacks two -dev packages of the build (PCRE2, utf8proc).
# Carry them as Debian packages (the folder .gpu/ is git-ignored; name it in the run's carry):
#   here, once:     bash bench/device_deps.sh fetch     # apt-get download -> .gpu/debs
#   there, first:   source bench/device_deps.sh         # unpack under /tmp/dep, point pkg-config there
# Nothing is unpacked into / (a replaced system library can break the machine).
if [[ "${1:-}" == fetch ]]; then
  set -euo pipefail
  mkdir -p .gpu/debs && cd .gpu/debs
  apt-get download libpcre2-dev libpcre2-8-0 libpcre2-16-0 libpcre2-32-0 libpcre2-posix3 libutf8proc-dev libutf8proc2
  ls
  return 0 2>/dev/null || exit 0
fi
debs=$(dirname "${BASH_SOURCE[0]}")/../.gpu/debs
if pkg-config --exists libpcre2-8 libutf8proc 2>/dev/null; then
  :  # the image has them
elif ls "$debs"/*.deb >/dev/null 2>&1; then
  mkdir -p /tmp/dep && for f in "$debs"/*.deb; do dpkg -x "$f" /tmp/dep; done
  sed -i 's#^prefix=/usr$#prefix=/tmp/dep/usr#' /tmp/dep/usr/lib/x86_64-linux-gnu/pkgconfig/*.pc
  export PKG_CONFIG_PATH=/tmp/dep/usr/lib/x86_64-linux-gnu/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
  export LD_LIBRARY_PATH=/tmp/dep/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
else
  echo "device_deps: no PCRE2/utf8proc here and no $debs (run 'bash bench/device_deps.sh fetch' on the CPU machine, carry .gpu)" >&2
fi
