#!/usr/bin/env bash
# One GPU-machine session for the umT5 encoder: build, the CUDA T5 tests, full-size umT5-XXL
# parity against the official PyTorch encoder (same random bf16 weights through safetensors with
# the official names, same token ids) and both timings, logs under $OUT.
# Usage (from a source tree on the GPU machine): OUT=dir PEERS=path/to/peers bash bench/gpu_t5.sh
set -u
out=${OUT:-/tmp/t5out}
peers=${PEERS:-peers}
mkdir -p "$out"
export PATH=/usr/local/cuda/bin:$PATH PYTHONUNBUFFERED=1
# The 11 GiB checkpoint lives in RAM when /dev/shm has room.
work=/dev/shm/jenga-t5
[ "$(df --output=avail -k /dev/shm | tail -1)" -gt 30000000 ] || work=/tmp/jenga-t5
mkdir -p $work
stamp() { echo "$(date +%T) $*" | tee -a "$out/steps.txt"; }

# Build on the CPUs while the official side writes the checkpoint and its reference output.
stamp build+parity start
(cmake -S . -B build -G Ninja -DJENGA_CUDA_ARCHS=90a >"$out/cmake.log" 2>&1 &&
 ninja -C build jenga jenga_tests >"$out/build.log" 2>&1; echo $? >$work/build.rc) &
bpid=$!
python3 bench/wan_t5_peer.py --peers "$peers" parity --ckpt $work/te.safetensors --ids $work/ids.safetensors \
  --out $work/ref.safetensors 2>&1 | tee -a "$out/peer.jsonl"
stamp parity done
wait $bpid
stamp build done rc=$(cat $work/build.rc)
[ "$(cat $work/build.rc)" = 0 ] || { tail -40 "$out/build.log"; exit 1; }

./build/bin/jenga_tests --gtest_filter='*CudaT5*:*WanT5*:CliT5Vae*:CudaGemm*:CudaOps*:*CudaDit*' >"$out/tests.txt" 2>&1
grep -E "^\[  (FAILED|PASSED|SKIPPED) |Failure|rel_l2|Expected|Which is" "$out/tests.txt" | head -40
stamp tests done
./build/bin/jenga debug encode-text --device cuda --text-encoder $work/te.safetensors --ids $work/ids.safetensors \
  --out $work/ours.safetensors 2>&1 | tee -a "$out/ours.txt"
stamp encode-text done
python3 bench/wan_t5_peer.py compare --ref $work/ref.safetensors --ours $work/ours.safetensors 2>&1 | tee -a "$out/peer.jsonl"
for t in 512 101; do
  ./build/bin/jenga bench text-encoder --tokens $t --iters 10 --json 2>&1 | tee -a "$out/bench.jsonl"
done
stamp bench done
python3 bench/wan_t5_peer.py --peers "$peers" time --ckpt $work/te.safetensors --ids $work/ids.safetensors 2>&1 |
  tee -a "$out/peer.jsonl"
stamp peer time done
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$out/steps.txt"
