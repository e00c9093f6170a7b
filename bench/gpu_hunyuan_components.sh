#!/usr/bin/env bash
# One GPU-machine session for the HunyuanVideo components of issues #21 (text encoders) and #22
# (VAE): build, their CUDA tests, our benchmarks and the official / transformers peers in the same
# run, with full-size random weights shared by both sides; parity (rel L2, PSNR vs f32) and timings.
#
# Before (on the CPU machine, once, from the repository root; folders are git-ignored):
#   bash bench/hunyuan_peers_prep.sh /work/peers-src/Tencent+HunyuanVideo   # -> peers/, .whl/
# Then two device calls (10 minutes each; the build stays on the warm machine between them):
#   run(command="bash bench/gpu_hunyuan_components.sh build test text", carry=["peers", ".whl", ".gpu"], timeout_s=600)
#   run(command="bash bench/gpu_hunyuan_components.sh build vae",       carry=["peers", ".whl", ".gpu"], timeout_s=600)
# (the second call's "build" is a no-op ninja when the machine is still warm, a full build if not).
# Steps: build test text vae (default: all, which does not fit one 10-minute call at full size).
# Env: OUT (default ./gpu-out), PEERS (default peers), VAE_SIZES ("848x480x33 1280x720x125"; none),
#      VAE_PARITY_FRAMES (33: parity vs official fp16/f32 up to this many frames; longer sizes time
#      ours and the official fp16 decode only), VAE_AB ("mma cold": A/B benches at the small
#      sizes: mma = the mma.sync conv kernel, cold = no warm-up at all (the headline bench warms
#      up on a small clip as the peer does), warm = one whole untimed decode first; also im2col
#      (every conv through im2col + cuBLASLt) and nostats (GroupNorm reads its input)),
#      VAE_AB_FRAMES (33: the encode and A/B benches run up to this many frames),
#      VAE_LAB (1: time the conv kernels per shape with build/bin/conv3d_lab first; 0: skip),
#      LLM_LAYERS (32; fewer for parity if the write is too slow - timing then covers fewer layers),
#      BUDGET_S (570: seconds from start after which steps are skipped; each step is cut to what is left),
#      PEER_ARGS (extra peer flags, e.g. "--device cpu --tiny" for a CPU rehearsal of this script).
# Results under $OUT (at most 8 files come back): summary.md (the table), results.jsonl (every JSON
# line: ours and peers), log.txt (everything else), tests.txt, build.log.
set -uo pipefail
out=${OUT:-$PWD/gpu-out}; mkdir -p "$out"
steps=${*:-build test text vae}
has() { [[ " $steps " == *" $1 "* ]]; }
peers=${PEERS:-peers}
vae_sizes=${VAE_SIZES:-848x480x33 1280x720x125}
[ "$vae_sizes" = none ] && vae_sizes=""  # VAE_SIZES=none: the vae step's tests and conv lab only
parity_frames=${VAE_PARITY_FRAMES:-33}  # sizes with more frames: speed and memory only (official fp16 alone)
vae_ab=${VAE_AB-mma cold}  # VAE_AB= (empty): none
ab_frames=${VAE_AB_FRAMES:-33}  # sizes with more frames skip the encode and A/B benches
llm_layers=${LLM_LAYERS:-32}
log=$out/log.txt res=$out/results.jsonl
export PATH=/usr/local/cuda/bin:$PATH PYTHONUNBUFFERED=1
source bench/device_deps.sh  # PCRE2 / utf8proc the image lacks (carry .gpu too)
stamp() { echo "$(date +%T) $*" | tee -a "$log"; }
# JSON lines go to results.jsonl (and the screen); anything else to the log.
split() { tee -a "$log" | grep --line-buffered '^{' | tee -a "$res"; }
# step NAME SECONDS CMD...: one bounded step; a hang or crash is recorded, the next steps still run.
t_start=$(date +%s); budget=${BUDGET_S:-570}  # stay inside the call's 600 s so the summary is written
step() {
  local name=$1 secs=$2; shift 2
  local left=$((budget - ($(date +%s) - t_start) - 20))
  if [ "$left" -lt 15 ]; then
    stamp "$name: skipped (the ${budget}s budget is spent)"; echo "{\"step\": \"$name\", \"rc\": \"skipped\"}" >>"$res"; return 99
  fi
  [ "$secs" -gt "$left" ] && secs=$left
  stamp "$name: start"
  timeout "$secs" "$@" 2>&1 | tee "$work/step.txt" | split
  local rc=${PIPESTATUS[0]}
  stamp "$name: rc=$rc$([ "$rc" = 124 ] && echo " (timed out after ${secs}s)")"
  # The step's last non-JSON line (an error: ... on failure) goes into its record.
  python3 -c 'import json, sys; print(json.dumps({"step": sys.argv[1], "rc": int(sys.argv[2]), "last": sys.argv[3][-300:]}))' \
    "$name" "$rc" "$(grep -v '^{' "$work/step.txt" | tail -1)" >>"$res"
  return "$rc"
}

if ! nvidia-smi -L >/dev/null 2>&1 || [ -z "$(nvidia-smi -L 2>/dev/null)" ]; then
  echo "error: no NVIDIA GPU visible (nvidia-smi lists none): run this on the GPU machine through the device 'run' tool (see the top of $0)" >&2
  exit 1
fi
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee -a "$log"
# The official VAE needs diffusers and einops; the machine has neither unless .whl brings them.
if ! python3 -c "import diffusers, einops" 2>/dev/null; then
  if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl &&
      export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
  fi
  python3 -c "import diffusers, einops" 2>/dev/null ||
    stamp "warning: no diffusers/einops (carry .whl: bench/hunyuan_peers_prep.sh); the official VAE peer will fail"
fi
# Weights live in RAM when /dev/shm has room (16 GB LLM + 1 GB VAE + ~5 GB of frames).
work=/dev/shm/jenga-hy
[ "$(df --output=avail -k /dev/shm 2>/dev/null | tail -1)" -gt 40000000 ] 2>/dev/null || work=/tmp/jenga-hy
mkdir -p "$work"
jenga=./build/bin/jenga
pa=${PEER_ARGS:-}

# The text weights are written on the GPU while the CPUs build.
if has text && [ ! -f "$work/te/ids_clip.safetensors" ]; then
  (timeout 300 python3 bench/hunyuan_text_peer.py $pa write --dir "$work/te" --layers "$llm_layers" >"$work/write.txt" 2>&1
   echo $? >"$work/write.rc") &
  wpid=$!
fi
if has build; then
  s=$(date +%s)
  stamp "build: start"
  { cmake -S . -B build -G Ninja -DJENGA_CUDA_ARCHS=90a -DCMAKE_BUILD_TYPE=Release &&
    cmake --build build -j16 --target jenga jenga_tests $(has vae && echo conv3d_lab); } >"$out/build.log" 2>&1
  brc=$?
  stamp "build: rc=$brc in $(($(date +%s) - s)) s"
  [ $brc = 0 ] || { tail -30 "$out/build.log"; [ -n "${wpid:-}" ] && wait "$wpid"; exit 1; }
fi
[ -x "$jenga" ] || { echo "error: $jenga is missing: run the 'build' step first" >&2; exit 1; }

if has test; then
  stamp "tests: start"
  timeout 300 ./build/bin/jenga_tests --gtest_filter='*Hunyuan*:*Llama*:*Clip*:*GemmAttention*' >"$out/tests.txt" 2>&1
  trc=$?
  grep -E "^\[  (FAILED|PASSED|SKIPPED) |Failure|rel" "$out/tests.txt" | head -30 | tee -a "$log"
  stamp "tests: rc=$trc"
  echo "{\"step\": \"tests\", \"rc\": $trc}" >>"$res"
fi

if has text; then
  if [ -n "${wpid:-}" ]; then wait "$wpid"; cat "$work/write.txt" | split; stamp "text write: rc=$(cat "$work/write.rc")"; fi
  te=$work/te
  step text-peer 240 python3 bench/hunyuan_text_peer.py $pa run --dir "$te" --ref "$work/text_ref.safetensors"
  step text-ours-llm 240 $jenga debug encode-text --device cuda --text-encoder "$te/text_encoder" \
    --ids "$te/ids_llm.safetensors" --crop-start 95 --out "$work/ours_llm.safetensors"
  step text-ours-clip 120 $jenga debug encode-text --device cuda --text-encoder "$te/text_encoder_2" \
    --ids "$te/ids_clip.safetensors" --out "$work/ours_clip.safetensors"
  step text-compare 60 python3 bench/hunyuan_text_peer.py compare --ref "$work/text_ref.safetensors" \
    --ours-llm "$work/ours_llm.safetensors" --ours-clip "$work/ours_clip.safetensors"
  step text-bench 240 $jenga bench text-encoder --model hunyuan --llm "$te/text_encoder" --clip "$te/text_encoder_2" \
    --valid 150 --iters 5 --json
fi

if has vae; then
  # The CUDA VAE's own tests (decode and encode vs the official goldens, the workspace) first: seconds.
  # If they fail (or hang: 90 s), the rest runs on the mma.sync conv kernel so the call still
  # brings back numbers.
  # Failures only where the Hopper kernel sums GroupNorm statistics: keep the kernel, drop the sums.
  if ! step vae-tests 90 ./build/bin/jenga_tests --gtest_filter='CudaHunyuanVae*:CudaConv3dIgemm*'; then
    if grep -q "fastest kernel, with stats" "$work/step.txt" && ! grep -q "fastest kernel, no stats" "$work/step.txt" &&
       ! grep -q "mma.sync kernel" "$work/step.txt"; then
      export JENGA_HY_VAE_FUSED_STATS=0
      stamp "vae: tests failed (statistics only): the rest runs with JENGA_HY_VAE_FUSED_STATS=0"
    else
      export JENGA_HY_VAE_CONV=mma
      stamp "vae: tests failed: the rest runs with JENGA_HY_VAE_CONV=mma"
    fi
  fi
  # The conv kernels alone per VAE shape (wgmma, mma.sync, cuBLASLt GEMM): ~20 s.
  [ "${VAE_LAB:-1}" = 1 ] && [ -x build/bin/conv3d_lab ] && step vae-conv-lab 60 build/bin/conv3d_lab --frames 8 --iters 5
  for sz in $vae_sizes; do
    wh=${sz%x*}; fr=${sz##*x}; d=$work/vae_$sz
    step "vae-write-$sz" 120 python3 bench/hunyuan_vae_peer.py --hv "$peers/hunyuanref" $pa write --dir "$work/vae" \
      --latents "$d.z.safetensors" --size "$wh" --frames "$fr"
    if [ "$fr" -le "$parity_frames" ]; then
      # Parity (PSNR vs the official fp16 and f32 decodes) at the small sizes. Ours first: a crash
      # must not cost the peer's numbers.
      step "vae-ours-$sz" 240 $jenga debug vae-decode --device cuda --vae "$work/vae" --latents "$d.z.safetensors" \
        --out "$d.ours.safetensors"
      step "vae-peer-$sz" 360 python3 bench/hunyuan_vae_peer.py --hv "$peers/hunyuanref" $pa run --dir "$work/vae" \
        --latents "$d.z.safetensors" --ref16 "$d.ref16.safetensors" --ref32 "$d.ref32.safetensors"
      step "vae-compare-$sz" 120 python3 bench/hunyuan_vae_peer.py compare --ours "$d.ours.safetensors" \
        --ref16 "$d.ref16.safetensors" --ref32 "$d.ref32.safetensors"
      grep -q "\"step\": \"vae-ours-$sz\", \"rc\": 0" "$res" || { stamp "vae-bench-$sz: skipped (our decode failed)"; continue; }
    fi
    # Speed and peak memory, ours and (at the large sizes, where parity was not run) the official
    # fp16 decode alone, in the same call.
    # --warmup-small: one untimed decode of latents 2x16x16 first, as the peer warms up.
    step "vae-bench-$sz" 240 $jenga bench vae --model hunyuan --weights "$work/vae" --size "$wh" --frames "$fr" \
      --iters 1 --warmup 0 --warmup-small --json --breakdown
    if [ "$fr" -gt "$parity_frames" ]; then
      step "vae-peer-fp16-$sz" 150 python3 bench/hunyuan_vae_peer.py --hv "$peers/hunyuanref" $pa run --dir "$work/vae" \
        --latents "$d.z.safetensors" --no-f32
    fi
    [ "$fr" -le "$ab_frames" ] || continue  # encode and A/B benches at the small sizes only
    step "vae-bench-encode-$sz" 120 $jenga bench vae --model hunyuan --encode --weights "$work/vae" --size "$wh" \
      --frames "$fr" --iters 1 --warmup 0 --json
    # A/B at the small sizes (VAE_AB): mma = the mma.sync implicit GEMM instead of the Hopper one,
    # im2col = every conv through im2col + cuBLASLt.
    for ab in $vae_ab; do
      abenv=JENGA_VAE_AB=$ab warm="--warmup 0 --warmup-small"
      case $ab in
        mma) abenv=JENGA_HY_VAE_CONV=mma ;;
        im2col) abenv=JENGA_HY_VAE_IM2COL=1 ;;
        nostats) abenv=JENGA_HY_VAE_FUSED_STATS=0 ;;
        cold) warm="--warmup 0" ;;  # the process's first decode: module loads and GEMM plans included
        warm) warm="--warmup 1" ;;  # one whole untimed decode first
        *) stamp "VAE_AB: unknown '$ab' (mma, im2col, nostats, cold, warm)"; continue ;;
      esac
      step "vae-bench-$ab-$sz" 120 env $abenv $jenga bench vae --model hunyuan \
        --weights "$work/vae" --size "$wh" --frames "$fr" --iters 1 $warm --json --breakdown
    done
  done
  rm -f "$work"/vae_*.safetensors
fi

python3 - "$res" >"$out/summary.md" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print("| what | key numbers |\n| --- | --- |")
for r in rows:
    what = r.get("step") if "bench" not in r else f"jenga bench {r['bench']}"
    who = r.get("peer", "ours" if "bench" in r else "")
    keys = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in r.items()
            if k not in ("peer", "step", "bench", "commit", "dir")}
    print(f"| {who} {what} | " + ", ".join(f"{k}={v}" for k, v in keys.items()) + " |")
EOF
cat "$out/summary.md"
