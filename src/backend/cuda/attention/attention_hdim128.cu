// Instantiations for head dim 128 (one file per head dim so builds compile them in parallel).
#include "backend/cuda/attention/launch.cuh"
#include "backend/cuda/attention/dispatch.h"

namespace jenga::cuda::attn {

void launch_hdim128(const AttentionParams& p, int key_tile, void* stream) {
  if (key_tile == 128)
    launch<128, 128>(p, static_cast<cudaStream_t>(stream));
  else
    launch<128, 64>(p, static_cast<cudaStream_t>(stream));
}

}  // namespace jenga::cuda::attn
