// Instantiations for head dim 64 (one file per head dim so builds compile them in parallel).
#include "backend/cuda/attention/launch.cuh"
#include "backend/cuda/attention/dispatch.h"

namespace jenga::cuda::attn {

void launch_hdim64(const AttentionParams& p, int key_tile, void* stream) {
  if (key_tile == 128)
    launch<64, 128>(p, static_cast<cudaStream_t>(stream));
  else
    launch<64, 64>(p, static_cast<cudaStream_t>(stream));
}

}  // namespace jenga::cuda::attn
