#pragma once
// Global -> shared tile copies with cp.async (16 bytes a thread, zero-filled past the valid
// rows so ragged blocks need no padding by the caller).
#include <cstdint>

#include "backend/cuda/attention/traits.cuh"

namespace jenga::cuda::attn {

__device__ __forceinline__ void cp_async_16(void* smem, const void* gmem, bool valid) {
  const uint32_t s = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  const int bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

// Copies rows [row0, row0 + ROWS) of a [len, D] matrix with row stride `stride` (elements) into
// a swizzled tile; rows at or past `len` become zeros.
template <int ROWS, int D, int THREADS>
__device__ __forceinline__ void load_tile(__nv_bfloat16* tile, const __nv_bfloat16* base,
                                          int64_t stride, int row0, int len, int tid) {
  constexpr int kChunks = D / 8;
  static_assert((ROWS * kChunks) % THREADS == 0, "tile copy must split evenly");
#pragma unroll
  for (int it = 0; it < ROWS * kChunks / THREADS; ++it) {
    const int i = it * THREADS + tid;
    const int r = i / kChunks, c = i % kChunks;
    const bool valid = row0 + r < len;
    const __nv_bfloat16* src = valid ? base + static_cast<int64_t>(row0 + r) * stride + c * 8 : base;
    cp_async_16(tile + swizzled<D>(r, c), src, valid);
  }
}

}  // namespace jenga::cuda::attn
