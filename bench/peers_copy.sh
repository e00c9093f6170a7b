# shellcheck shell=bash
# Sourced by the bench/*peers_prep.sh scripts: copies files of an official repository, unmodified,
# from a checkout or a bare git snapshot (the `fetch` tool's), into an ignored peers/ folder.
#   copy_official SRC DST FILE...   (each FILE relative to the repository root; fails naming the first missing one)
#   official_commit SRC             (the commit, or "unknown")
copy_official() {
  local src=$1 dst=$2 f; shift 2
  for f in "$@"; do
    mkdir -p "$dst/$(dirname "$f")"
    if [ -f "$src/$f" ]; then cp "$src/$f" "$dst/$f"
    else git --git-dir="$src" show "HEAD:$f" >"$dst/$f" 2>/dev/null ||
           git --git-dir="$src/.git" show "HEAD:$f" >"$dst/$f" 2>/dev/null ||
           { rm -rf "$dst"; echo "error: $src: no $f (is it the right checkout?)" >&2; return 1; }
    fi
  done
}
official_commit() {
  git -C "$1" rev-parse HEAD 2>/dev/null || git --git-dir="$1" rev-parse HEAD 2>/dev/null || echo unknown
}
