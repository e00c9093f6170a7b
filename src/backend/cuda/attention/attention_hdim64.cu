// Instantiations for head dim 64 (one file per head dim so builds compile them in parallel).
#include "backend/cuda/attention/dispatch.h"
#include "backend/cuda/attention/launch.cuh"
#include "backend/cuda/attention/launch_ws.cuh"

namespace jenga::cuda::attn {

bool launch_hdim64_ws(const AttentionParams& p, void* stream) {
  WsMaps maps;
  if (!encode_ws_maps(p, maps)) return false;
  launch_ws_variant<WsDefault<64>>(p, maps, static_cast<cudaStream_t>(stream));
  return true;
}

void launch_hdim64(const AttentionParams& p, void* stream) {
  launch<64, 128, 1>(p, static_cast<cudaStream_t>(stream));  // 8 warps x 16 rows
}

void launch_hdim64_k64(const AttentionParams& p, void* stream) {
  launch<64, 64, 1>(p, static_cast<cudaStream_t>(stream));  // 8 warps x 16 rows, 64-key tiles
}

static_assert(Traits<64, 128, 1>::kSmemBytes == mma_smem_bytes(64, 128));
static_assert(Traits<64, 64, 1>::kSmemBytes == mma_smem_bytes(64, 64));
static_assert(mma_smem_bytes(64, 64) <= 99 * 1024, "fits the 99 KB a block gets on sm_86 / sm_89 / sm_120");

}  // namespace jenga::cuda::attn
