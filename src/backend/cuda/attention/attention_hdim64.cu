// Instantiations for head dim 64 (one file per head dim so builds compile them in parallel).
#include "backend/cuda/attention/launch.cuh"
#include "backend/cuda/attention/launch_ws.cuh"
#include "backend/cuda/attention/dispatch.h"

namespace jenga::cuda::attn {

bool launch_hdim64_ws(const AttentionParams& p, int variant, void* stream) {
  return launch_ws<64>(p, variant, static_cast<cudaStream_t>(stream));
}

void launch_hdim64(const AttentionParams& p, int key_tile, int warp_rows, void* stream) {
  const auto s = static_cast<cudaStream_t>(stream);
  if (key_tile == 128)
    launch<64, 128, 1>(p, s);  // 8 warps x 16 rows
  else if (warp_rows == 32)
    launch<64, 64, 2>(p, s);   // 4 warps x 32 rows (FlashAttention-2's sm80 layout)
  else
    launch<64, 64, 1>(p, s);
}

}  // namespace jenga::cuda::attn
