// Instantiations for head dim 128 (one file per head dim so builds compile them in parallel).
#include "backend/cuda/attention/dispatch.h"
#include "backend/cuda/attention/launch.cuh"
#include "backend/cuda/attention/launch_ws.cuh"

namespace jenga::cuda::attn {

bool launch_hdim128_ws(const AttentionParams& p, void* stream) {
  WsMaps maps;
  if (!encode_ws_maps(p, maps)) return false;
  launch_ws_variant<WsDefault<128>>(p, maps, static_cast<cudaStream_t>(stream));
  return true;
}

void launch_hdim128(const AttentionParams& p, void* stream) {
  launch<128, 128, 1>(p, static_cast<cudaStream_t>(stream));  // 8 warps x 16 rows
}

void launch_hdim128_k64(const AttentionParams& p, void* stream) {
  launch<128, 64, 1>(p, static_cast<cudaStream_t>(stream));  // 8 warps x 16 rows, 64-key tiles
}

static_assert(Traits<128, 128, 1>::kSmemBytes == mma_smem_bytes(128, 128));
static_assert(Traits<128, 64, 1>::kSmemBytes == mma_smem_bytes(128, 64));
static_assert(mma_smem_bytes(128, 64) <= 99 * 1024, "fits the 99 KB a block gets on sm_86 / sm_89 / sm_120");

}  // namespace jenga::cuda::attn
