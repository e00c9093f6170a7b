#pragma once
// Per-head-dim entry points of the production kernels, defined in attention_hdim{64,128}.cu
// (plain C++ declarations). The experiments live in bench/kernels/attention/.
#include "backend/cuda/attention.h"

namespace jenga::cuda::attn {

// mma.sync kernel (sm_80+): 8 warps x 16 query rows, 128-key tiles.
void launch_hdim64(const AttentionParams& p, void* stream);
void launch_hdim128(const AttentionParams& p, void* stream);
// The same kernel with 64-key tiles: less shared memory (96 KB at head dim 128), for GPUs that
// grant one block less than the 128-key tiles need (consumer Ampere / Ada / Blackwell: 99 KB).
void launch_hdim64_k64(const AttentionParams& p, void* stream);
void launch_hdim128_k64(const AttentionParams& p, void* stream);

// Shared memory of the mma.sync kernel (bf16 Q tile + double-buffered K and V tiles; traits.cuh
// Traits::kSmemBytes, checked there by static_assert).
constexpr size_t mma_smem_bytes(int head_dim, int key_tile) {
  return (size_t{128} * head_dim + size_t{2} * 2 * key_tile * head_dim) * 2;
}
// Key tile of the mma.sync kernel for a GPU that grants one block `smem_optin` bytes of shared
// memory: 128 (faster) where it fits, else 64; path 2 asks for 64 on any GPU.
constexpr int mma_key_tile(int head_dim, int path, size_t smem_optin) {
  return path != 2 && mma_smem_bytes(head_dim, 128) <= smem_optin ? 128 : 64;
}
// sm_90a warp-specialised TMA + wgmma kernel (launch_ws.cuh WsDefault). False, with nothing
// launched, when the strides do not fit a TMA tensor map.
bool launch_hdim64_ws(const AttentionParams& p, void* stream);
bool launch_hdim128_ws(const AttentionParams& p, void* stream);

}  // namespace jenga::cuda::attn
