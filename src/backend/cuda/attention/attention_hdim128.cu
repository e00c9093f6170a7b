// Instantiations for head dim 128 (one file per head dim so builds compile them in parallel).
#include "backend/cuda/attention/launch.cuh"
#include "backend/cuda/attention/launch_hopper.cuh"
#include "backend/cuda/attention/launch_ws.cuh"
#include "backend/cuda/attention/dispatch.h"

namespace jenga::cuda::attn {

void launch_hdim128_wgmma(const AttentionParams& p, void* stream) {
  launch_hopper(p, static_cast<cudaStream_t>(stream));
}

bool launch_hdim128_ws(const AttentionParams& p, int variant, void* stream) {
  return launch_ws<128>(p, variant, static_cast<cudaStream_t>(stream));
}

void launch_hdim128(const AttentionParams& p, int key_tile, int warp_rows, void* stream) {
  const auto s = static_cast<cudaStream_t>(stream);
  if (key_tile == 128)
    launch<128, 128, 1>(p, s);  // 8 warps x 16 rows
  else if (warp_rows == 32)
    launch<128, 64, 2>(p, s);   // 4 warps x 32 rows (FlashAttention-2's sm80 layout)
  else
    launch<128, 64, 1>(p, s);
}

}  // namespace jenga::cuda::attn
