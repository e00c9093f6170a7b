#!/usr/bin/env bash
# One GPU-machine call: are the CUDA outputs of two source trees bit-identical, and is the new one
# not slower? (issue #19 point 7: a refactor must change nothing for users.) Builds the current
# checkout ("new") and an older tree ("old", a source copy carried as an ignored folder), writes a
# random bf16 Wan2.1-1.3B DiT, runs `debug denoise --device cuda` for every preset with both
# binaries and hashes the outputs, then times the 832x480x81 dense loop (50 steps, cfg: 100
# forwards) with each binary.
#
# Before (CPU machine, repository root): git archive <old-commit> | tar -x -C .hw/old (ignored),
#   bash bench/device_deps.sh fetch
# Then: run(command="OLD=.hw/old bash bench/gpu_bit_identity.sh", carry=[".hw", ".gpu"]).
# Env: OUT (default ./gpu-out), OLD (required), GTEST (a gtest filter run with the new binary
# after the builds, default 'Cuda*'), SPEED (1: time the 480p loop; 0: skip).
set -uo pipefail
out=${OUT:-$PWD/gpu-out}; mkdir -p "$out"
old=${OLD:?set OLD to the old source tree}
export PATH=/usr/local/cuda/bin:$PATH PYTHONUNBUFFERED=1
source bench/device_deps.sh
stamp() { echo "$(date +%T) $*"; }
cfg=(-G Ninja -DJENGA_CUDA_ARCHS=90a -DCMAKE_BUILD_TYPE=Release -DJENGA_WITH_LIBAV=OFF)
stamp build
cmake -S . -B build "${cfg[@]}" >"$out/cfg-new.log" 2>&1 && cmake -S "$old" -B /tmp/build-old "${cfg[@]}" >"$out/cfg-old.log" 2>&1 \
  || { tail -20 "$out"/cfg-*.log; exit 1; }
# Both builds at once: each has long single-file CUDA compiles, so sharing the cores overlaps them.
cmake --build build -j10 --target jenga jenga_tests >"$out/build-new.log" 2>&1 & pn=$!
cmake --build /tmp/build-old -j8 --target jenga >"$out/build-old.log" 2>&1 & po=$!
wait $pn || { grep -E "error|FAILED" "$out/build-new.log" | head -30; exit 1; }
wait $po || { grep -E "error|FAILED" "$out/build-old.log" | head -30; exit 1; }
stamp built
NEW=./build/bin/jenga OLDBIN=/tmp/build-old/bin/jenga
W=/tmp/bitid; mkdir -p $W
if [ -n "${GTEST-Cuda*}" ]; then
  timeout 300 ./build/bin/jenga_tests --gtest_filter="${GTEST-Cuda*}" >"$out/tests.txt" 2>&1
  echo "tests rc=$?"; grep -E "^\[  FAILED|^\[  PASSED|tests ran" "$out/tests.txt" | head -30
fi
$NEW debug make-tiny --family wan --size 1.3b --dtype bf16 --dit-only --out $W/dit13 >/dev/null || exit 1
python3 - "$W" <<'PY'
import sys, torch
from safetensors.torch import save_file
w = sys.argv[1]
g = torch.Generator().manual_seed(0)
t, lh, lw = 3, 32, 32  # 256x256x9
def grid(r): return int(lh * r) // 2 * 2, int(lw * r) // 2 * 2
ctx = torch.randn(24, 4096, generator=g) * 0.1; ctxn = torch.randn(48, 4096, generator=g) * 0.1
for name, rates in {"full": [1.0], "two": [0.75, 1.0], "three": [0.5, 0.75, 1.0]}.items():
    d = {"context": ctx, "context_null": ctxn}
    for i, r in enumerate(rates):
        key = "noise" if i == 0 else ("noise_full" if r == 1.0 else f"noise_{i}")
        d[key] = torch.randn(16, t, *grid(r), generator=g)
    save_file(d, f"{w}/in_{name}.safetensors")
PY
run_case() {  # tag inputs args...
  local tag=$1 in=$2; shift 2
  for side in old new; do
    local bin=$NEW; [ $side = old ] && bin=$OLDBIN
    timeout 120 $bin debug denoise --model $W/dit13 --inputs $W/in_$in.safetensors --out $W/${side}_$tag.safetensors \
      --device cuda --steps 30 --save-steps 3 10 -q "$@" >$W/${side}_$tag.log 2>&1 || { echo "$tag $side: FAILED: $(tail -1 $W/${side}_$tag.log)"; }
  done
  python3 - "$W/old_$tag.safetensors" "$W/new_$tag.safetensors" "$tag" <<'PY'
import sys, hashlib
from safetensors import safe_open
def h(p):
    try:
        with safe_open(p, "pt") as f: return {k: hashlib.sha256(f.get_tensor(k).contiguous().view(-1).view(dtype=__import__("torch").uint8).numpy().tobytes()).hexdigest()[:16] for k in sorted(f.keys())}
    except Exception as e: return {"error": str(e)}
a, b = h(sys.argv[1]), h(sys.argv[2])
print(f"bitid {sys.argv[3]}: {'IDENTICAL' if a == b and 'error' not in a else 'DIFFERENT'} keys={sorted(a)} old={a.get('latents')} new={b.get('latents')}")
PY
}
stamp bitid
run_case dense full --preset dense
run_case base full --preset base
run_case turbo two --preset turbo
run_case flash two --preset flash
run_case 3stage three --preset 3stage
run_case svg full --attention svg
run_case turbo_offload two --preset turbo --offload
run_case euler full --preset dense --solver euler
if [ "${SPEED:-1}" = 1 ]; then
  stamp speed
  python3 bench/wan_denoise_inputs.py --size 832x480 --frames 81 --out $W/in480.safetensors >/dev/null
  for side in old new; do
    bin=$NEW; [ $side = old ] && bin=$OLDBIN
    s=$(date +%s.%N)
    timeout 150 $bin debug denoise --model $W/dit13 --inputs $W/in480.safetensors --out $W/${side}_480.safetensors \
      --device cuda --steps 50 --cfg-scale 6 -q >$W/${side}_480.log 2>&1; rc=$?
    e=$(date +%s.%N)
    echo "speed $side: rc=$rc $(python3 -c "print(round($e - $s, 2))") s (832x480x81, 50 steps, cfg 6, incl. load)"
  done
  python3 - $W/old_480.safetensors $W/new_480.safetensors <<'PY'
import sys
from safetensors.torch import load_file
a, b = load_file(sys.argv[1])["latents"], load_file(sys.argv[2])["latents"]
print("speed latents:", "IDENTICAL" if a.equal(b) else f"DIFFERENT rel {((a-b).norm()/a.norm()).item():.3e}")
PY
fi
stamp done
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
