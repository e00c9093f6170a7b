// Versions 1, 17, 18: the mma.sync kernel (src/backend/cuda/attention/kernel.cuh) with each
// (key tile, rows per warp) we measured. Version 1 is production's instantiation.
#include "backend/cuda/attention/launch.cuh"
#include "lab.h"

namespace jenga::cuda::attn {

void lab_launch_mma(const AttentionParams& p, int key_tile, int warp_rows, void* stream) {
  const auto s = static_cast<cudaStream_t>(stream);
  if (p.head_dim == 64) {
    if (key_tile == 128) launch<64, 128, 1>(p, s);     // 8 warps x 16 rows
    else if (warp_rows == 32) launch<64, 64, 2>(p, s);  // 4 warps x 32 rows (FlashAttention-2's sm80 layout)
    else launch<64, 64, 1>(p, s);
  } else {
    if (key_tile == 128) launch<128, 128, 1>(p, s);
    else if (warp_rows == 32) launch<128, 64, 2>(p, s);
    else launch<128, 64, 1>(p, s);
  }
}

}  // namespace jenga::cuda::attn
