#!/usr/bin/env bash
# One GPU call: our HunyuanVideo presets' whole DiT loop on random weights (issue #24 point 5) and
# a drift table of each preset against our dense run with the same seed (point 6: same weights,
# text and noise; ProRes presets start from their own smaller noise, as a user's run would).
#   run(command="bash bench/gpu_hunyuan_presets.sh build time drift", carry=[".gpu"], timeout_s=600)
# Steps: build (jenga, -DJENGA_WITH_LIBAV=OFF), time (PRESETS at SIZE x FRAMES), drift (dense +
# DRIFT_PRESETS at DRIFT_SIZE x DRIFT_FRAMES, final latents' rel L2 against dense).
# Env: OUT (./gpu-out), PRESETS (accvideo,3stage,flash,base; also turbo, dense), SIZE (1280x720),
#      FRAMES (125), DRIFT_PRESETS (turbo,base,flash,3stage), DRIFT_SIZE (512x288), DRIFT_FRAMES (125: Jenga needs whole 128-token blocks at every stage),
#      BUDGET_S (560: a run that would start with less than its predicted time left is skipped),
#      JENGA (build/bin/jenga), SEED (0).
# Output under $OUT: presets.jsonl (one `bench denoise --json` line per run, plus drift lines),
# presets-log.txt; the summary table is printed last.
set -uo pipefail
out=${OUT:-$PWD/gpu-out}; mkdir -p "$out"
jenga=${JENGA:-build/bin/jenga}
steps=${*:-time}
has() { [[ " $steps " == *" $1 "* ]]; }
log=$out/presets-log.txt res=$out/presets.jsonl
t_start=$(date +%s); budget=${BUDGET_S:-560}
left() { echo $((budget - ($(date +%s) - t_start))); }
stamp() { echo "$(date +%T) $*" | tee -a "$log"; }
work=$(mktemp -d /tmp/hypresets.XXXXXX); trap 'rm -rf "$work"' EXIT

source bench/device_build.sh  # require_gpu, build_on_device (and the PCRE2 / utf8proc of .gpu)
require_gpu "$log"
if has build; then
  stamp build
  build_on_device "$out/presets-build.log" jenga
  stamp built
fi
[ -x "$jenga" ] || { echo "error: $jenga not built: add the build step" >&2; exit 1; }

# Predicted seconds per run at 720x1280x125 on an H100 (measured + ~15 s of weights: Turbo 109 s,
# Base 154, Flash 137, 3stage 86, AccVideo 23), so a run that cannot finish is skipped, not killed.
predict() {
  case "$1" in accvideo) echo 45;; 3stage) echo 105;; flash) echo 160;; turbo) echo 130;; base) echo 175;;
    dense) echo 920;; *) echo 200;; esac
}
# bench denoise: $1 preset, $2 size, $3 frames, $4 latents out, $5 warm-up steps, then extra flags
bench() {
  local p=$1 extra=("${@:6}")
  [ "$p" = accvideo ] && extra+=(--accvideo)
  timeout -k 10 "$(left)" "$jenga" bench denoise --config hunyuan --preset "$p" "${extra[@]}" --size "$2" \
    --frames "$3" --warmup "$5" --seed "${SEED:-0}" --json -q --out "$4" 2>>"$log" | tee -a "$log" >>"$res"
  return "${PIPESTATUS[0]}"
}

if has time; then
  IFS=, read -ra presets <<<"${PRESETS:-accvideo,3stage,flash,base}"
  for p in "${presets[@]}"; do
    need=$(predict "$p")
    if [ "$(left)" -lt "$need" ]; then stamp "time $p: skipped ($(left) s left, ~$need s needed)"; continue; fi
    stamp "time $p at ${SIZE:-1280x720}x${FRAMES:-125}"
    # AccVideo's 5 steps are short enough for a cold first forward to show: one dense warm-up step.
    bench "$p" "${SIZE:-1280x720}" "${FRAMES:-125}" "$work/time_$p.safetensors" "$([ "$p" = accvideo ] && echo 1 || echo 0)"
    stamp "time $p: rc=$?"
  done
fi

# One drift line: $1 preset, $2 size, $3 frames, $4 latents, $5 reference latents, $6 reference name.
drift_line() {
  python3 - "$@" >>"$res" <<'EOF'
import json, sys
from safetensors.torch import load_file
p, size, frames, a, b, ref = sys.argv[1:]
x, y = load_file(a)["latents"].float(), load_file(b)["latents"].float()
print(json.dumps({"kind": "drift", "preset": p, "size": size, "frames": int(frames), "reference": ref,
                  "rel_l2": float((x - y).norm() / y.norm()), "finite": bool(x.isfinite().all())}))
EOF
}
# Stages of a preset (the count of its --sa-drop-rates), from the plan the binary prints.
stages_of() {
  "$jenga" debug schedule --model hunyuan --preset "$1" 2>/dev/null |
    python3 -c 'import json, sys; print(len(json.load(sys.stdin)["sa_drop_rates"]))'
}

if has drift; then
  ds=${DRIFT_SIZE:-512x288} df=${DRIFT_FRAMES:-125}
  stamp "drift at ${ds}x${df}: dense first"
  if bench dense "$ds" "$df" "$work/drift_dense.safetensors" 0; then
    IFS=, read -ra presets <<<"${DRIFT_PRESETS:-turbo,base,flash,3stage}"
    for p in "${presets[@]}"; do
      [ "$(left)" -lt 30 ] && { stamp "drift $p: skipped ($(left) s left)"; continue; }
      bench "$p" "$ds" "$df" "$work/drift_$p.safetensors" 0 || { stamp "drift $p: failed"; continue; }
      drift_line "$p" "$ds" "$df" "$work/drift_$p.safetensors" "$work/drift_dense.safetensors" dense
      # The same preset with every drop rate 0 (every block kept: dense attention, same ProRes
      # stages, noise and reuse list): a ProRes preset starts from its own smaller noise, so against
      # the plain dense run its drift mixes the sampling path with attention; against this twin it
      # is AttenCarve's alone.
      [ "${DRIFT_MATCHED:-1}" = 1 ] || continue
      [ "$(left)" -lt 30 ] && { stamp "drift $p (drop 0 twin): skipped ($(left) s left)"; continue; }
      nst=$(stages_of "$p")
      bench "$p" "$ds" "$df" "$work/drift_${p}_drop0.safetensors" 0 --sa-drop-rates $(printf '0 %.0s' $(seq "$nst")) ||
        { stamp "drift $p (drop 0 twin): failed"; continue; }
      drift_line "$p" "$ds" "$df" "$work/drift_$p.safetensors" "$work/drift_${p}_drop0.safetensors" "$p with drop rates 0"
    done
  else
    stamp "drift: the dense run failed"
  fi
fi

# Summary, printed last (the device keeps only the tail of stdout).
python3 - "$res" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def computed(d):  # the report's "forwards" counts every step's forward call, reused ones too
    return d["forwards"] - d["forwards_reused"] if "forwards" in d and "forwards_reused" in d else "?"
print("| run | size x frames | steps | DiT loop s | computed / reused | mean density | peak GiB | stages (s) |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for r in rows:
    if r.get("bench") != "denoise":
        continue
    d = r.get("denoise", {})
    st = ", ".join(f"{s.get('seconds', 0):.2f}" for s in d.get("stages", []))
    print(f"| {r['preset']} | {r['size']}x{r['frames']} | {r['steps']} | {r['seconds']:.2f} | "
          f"{computed(d)} / {d.get('forwards_reused', '?')} | {d.get('sparse_block_density', '-')} | "
          f"{d.get('peak_gpu_alloc_gib', '?')} | {st} |")
for r in rows:
    if r.get("kind") == "drift":
        print(f"drift {r['preset']} vs {r.get('reference', 'dense')} at {r['size']}x{r['frames']}: "
              f"rel L2 {r.get('rel_l2', r.get('rel_l2_vs_dense')):.4g} (finite {r['finite']})")
print("device:", rows[0].get("device") if rows else "?", " commit:", rows[0].get("commit") if rows else "?")
EOF
