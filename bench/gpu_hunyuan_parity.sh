#!/usr/bin/env bash
# Full-size parity of the HunyuanVideo CUDA DiT with the OFFICIAL bf16 HYVideoDiffusionTransformer
# (issue #23 point 6), in one GPU call: one random bf16 checkpoint with the official key names
# (seeded, drawn on the GPU, saved once: 25.6 GB), random inputs at 720x1280x125 (latent
# 16x32x90x160, 256 text rows of which 57 real, pooled 768, t 900, guidance 6016 = bf16(6.0)*1000);
# the official forward (its own process, freed before ours) with forward hooks on all 60 blocks;
# `jenga debug dit-forward --device cuda --dump-blocks --dump-rows-stride S` on the same files;
# per-block and final rel L2 (pass < 1e-2); then the Jenga mask check: blocks MASK_LAYERS' q/k in
# the official curve order through the official AttenCarve builder and ours (carve-mask, CPU and GPU).
# Driver: bench/hunyuan_parity_peer.py (see its docstring).
#
# Before (CPU machine, once, from the repository root; all git-ignored):
#   bash bench/hunyuan_parity_prep.sh     # peers/hvofficial, peers/jengahy (+ 720p curve tables), .whl
#   bash bench/device_deps.sh fetch       # .gpu (PCRE2/utf8proc for the build), if absent
# Then, on the GPU machine (build first unless this warm machine already built build/bin/jenga):
#   run(command="bash bench/gpu_hunyuan_parity.sh build test", carry=["peers", ".whl", ".gpu"], timeout_s=600)
#   run(command="bash bench/gpu_hunyuan_parity.sh", carry=["peers", ".whl", ".gpu"], timeout_s=600)
# CPU rehearsal (tiny model, ours on the CPU in f32, official in f32):
#   DEVICE=cpu SIZE=tiny STRIDE=4 PY=/path/to/python-with-torch bash bench/gpu_hunyuan_parity.sh
# Steps: build test official ours precision compare mask (default: official ours compare mask).
# precision: the official forward once more in f32 and the three pairwise distances per block
#   (where a gap to the official bf16 forward comes from), e.g. SIZE=deep ... official ours precision.
# backends: the official bf16 forward once more with SDPA cuDNN instead of flash: how far the official
#   forward moves with nothing but its attention kernel changed (after precision: vs f32 too).
# Env: SIZE (full | mid: published widths, 1+1 blocks, small grid | deep: 20+40 blocks of hidden
#      1024, 8 heads, small grid | tiny), DEVICE (cuda | cpu), WORK (.parity: checkpoint, inputs, dumps, ~40 GB;
#      with KEEP=1 a second call on the warm machine reuses the checkpoint), OUT (gpu-out), STRIDE (16: image rows
#      kept per block dump), MASK_LAYERS (0,59: first double,
#      last single; tiny 0,3), CONFIGS (0.8:0.3,0.95:0.5 = full-res Turbo, Flash
#      stages), SEED (0), PY (python3), TOL (1e-2), KEEP (0: WORK is removed at the end).
set -uo pipefail
out=${OUT:-$PWD/gpu-out}; mkdir -p "$out"
work=${WORK:-$PWD/.parity}
case "$(realpath -m "$work")" in /|"$PWD"|"$HOME"|/tmp) echo "error: WORK=$work: give a folder of its own (it is removed at the end)" >&2; exit 2;; esac
mkdir -p "$work"
# ~40 GB would fill the GPU machine's disk for whatever runs next: removed on any exit unless KEEP=1
# (a second call on the same warm machine then reuses the checkpoint instead of drawing it again).
cleanup() { [ "${KEEP:-0}" = 1 ] || { rm -rf "$work"; echo "removed $work (KEEP=1 keeps it)"; }; }
trap cleanup EXIT
size=${SIZE:-full} dev=${DEVICE:-cuda} stride=${STRIDE:-16} py=${PY:-python3}
layers=${MASK_LAYERS:-0,59}; [ "$size" = tiny ] && layers=${MASK_LAYERS:-0,3}; [ "$size" = mid ] && layers=${MASK_LAYERS:-0,1}
steps=${*:-official ours compare mask}
has() { [[ " $steps " == *" $1 "* ]]; }
log=$out/parity-log.txt res=$out/parity.jsonl
export PATH=/usr/local/cuda/bin:$PATH PYTHONUNBUFFERED=1
stamp() { echo "$(date +%T) $*" | tee -a "$log"; }
# The peer's output: everything to the log, JSON lines also to $res, the rest (and short JSON) on stdout.
peer() { "$py" bench/hunyuan_parity_peer.py "$@" 2>&1 | tee -a "$log" | tee >(grep '^{' >>"$res") | grep -v '^{"kind": "hyparity_mask"'; return "${PIPESTATUS[0]}"; }
fail=0

source bench/device_build.sh  # require_gpu, build_on_device (and the PCRE2 / utf8proc of .gpu)
[ "$dev" != cuda ] || require_gpu "$log"
if has build; then
  stamp build
  build_on_device "$out/parity-build.log" jenga jenga_tests
  stamp built
fi
[ -x build/bin/jenga ] || { echo "error: build/bin/jenga is missing: run the 'build' step first" >&2; exit 1; }
if has test; then
  timeout 120 ./build/bin/jenga_tests --gtest_filter='CudaCarveParity.*:CudaHunyuanDit.BlockDump*:HunyuanDit.DebugDitForward*' >"$out/parity-tests.txt" 2>&1
  echo "tests rc=$?"; grep -E "^\[  (FAILED|PASSED|SKIPPED) |Failure|carve-mask --device cuda:|rows differ" "$out/parity-tests.txt" | head -20
fi
# The official blocks import einops; the GPU machine has it only if .whl brings it.
if ! "$py" -c "import einops" 2>/dev/null; then
  ls .whl/einops-*.whl >/dev/null 2>&1 && "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --target /tmp/site-hyparity .whl/einops-*.whl && export PYTHONPATH=/tmp/site-hyparity${PYTHONPATH:+:$PYTHONPATH}
fi

if has official; then
  [ -f peers/hvofficial/hyvideo/modules/models.py ] ||
    { echo "error: peers/hvofficial is missing: run bench/hunyuan_parity_prep.sh on the CPU machine and carry peers" >&2; exit 1; }
  avail=$(df -BG --output=avail "$work" | tail -1 | tr -dc 0-9)
  [ "$size" != full ] || [ -f "$work/dit.safetensors" ] || [ "$avail" -ge 44 ] ||
    { echo "error: $work has ${avail} GB free; the checkpoint, dumps and q/k need about 44 GB (set WORK to a larger disk)" >&2; exit 1; }
  stamp "official: checkpoint + inputs + forward ($size, stride $stride)"
  peer official --official peers/hvofficial --work "$work" --size "$size" --device "$dev" --stride "$stride" \
    --mask-layers "$layers" --seed "${SEED:-0}" || { echo "official: rc=$?"; exit 1; }
fi
if has ours; then
  stamp "ours: jenga debug dit-forward --device $dev"
  s=$SECONDS
  ./build/bin/jenga debug dit-forward --device "$dev" --model "$work/dit.safetensors" --inputs "$work/inputs.safetensors" \
    --out "$work/ours.safetensors" --dump-blocks --dump-rows-stride "$stride" 2>&1 | tee -a "$log"
  rc=${PIPESTATUS[0]}
  stamp "ours: rc=$rc, $((SECONDS - s)) s with load and dumps"
  [ "$rc" = 0 ] || exit 1
fi
if has precision; then
  # Where the gap to the official bf16 forward comes from: the official forward again in f32 (same
  # weights' values, no TF32), then ours vs official bf16, ours vs official f32, official bf16 vs f32.
  stamp "precision: the official forward in f32"
  peer official --official peers/hvofficial --work "$work" --size "$size" --device "$dev" --stride "$stride" \
    --precision f32 --name official_f32 --seed "${SEED:-0}" || { echo "official f32: rc=$?"; exit 1; }
  nd=20; [ "$size" = tiny ] && nd=2; [ "$size" = mid ] && nd=1
  peer compare --work "$work" --double-blocks "$nd" --pairs ours:official,ours:official_f32,official:official_f32 |
    tee "$out/parity-precision-$size.txt"
fi
if has backends; then
  # The official bf16 forward's own spread: again with cuDNN's attention instead of flash (same
  # weights and inputs, only the attention kernel differs), then each pair side by side.
  stamp "backends: the official bf16 forward with SDPA cuDNN"
  peer official --official peers/hvofficial --work "$work" --size "$size" --device "$dev" --stride "$stride" \
    --attn-backend cudnn --name official_cudnn --mask-layers "" --seed "${SEED:-0}" || { echo "official cudnn: rc=$?"; exit 1; }
  nd=20; [ "$size" = tiny ] && nd=2; [ "$size" = mid ] && nd=1
  pairs=ours:official,ours:official_cudnn,official_cudnn:official
  [ -f "$work/official_f32.safetensors" ] && pairs=$pairs,official_cudnn:official_f32,official:official_f32,ours:official_f32
  peer compare --work "$work" --double-blocks "$nd" --pairs "$pairs" | tee "$out/parity-backends-$size.txt"
fi
if has compare; then
  stamp compare
  nd=20; [ "$size" = tiny ] && nd=2; [ "$size" = mid ] && nd=1
  peer compare --work "$work" --tol "${TOL:-1e-2}" --double-blocks "$nd" | tee "$out/parity-table.txt" | tail -8
  rc=${PIPESTATUS[0]}; [ "$rc" = 0 ] || fail=1
  echo "(per-block table: $out/parity-table.txt)"
fi
if has mask; then
  stamp "mask: blocks $layers, configs ${CONFIGS:-0.8:0.3,0.95:0.5}"
  cache=peers/jengahy/curves_hyparity_32x45x80.pt; [ "$size" = full ] || cache=$work/curves_$size.pt
  peer mask --work "$work" --jenga peers/jengahy --jenga-bin ./build/bin/jenga --device "$dev" \
    --configs "${CONFIGS:-0.8:0.3,0.95:0.5}" --curve-cache "$cache" || fail=1
fi
stamp "done (fail=$fail)"
df -h "$work" | tail -1
exit $fail
