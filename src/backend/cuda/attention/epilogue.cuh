#pragma once
// Output: normalise the f32 accumulators, stage them as bf16 through the (free) Q tile in
// shared memory, then write 16-byte rows to global memory, skipping rows past q_len.
#include <cstdint>

#include "backend/cuda/attention/mma.cuh"
#include "backend/cuda/attention/traits.cuh"

namespace jenga::cuda::attn {

// One m16 row tile (rows row0 .. row0 + 15 of the CTA) into the staging tile.
template <class T>
__device__ __forceinline__ void stage_output(const float (&o)[T::kD / 8][4], const float (&inv)[2],
                                             __nv_bfloat16* stage, int row0, int lane) {
  const int g = lane >> 2, t = lane & 3;
  const int r0 = row0 + g;
#pragma unroll
  for (int n = 0; n < T::kD / 8; ++n) {
    *reinterpret_cast<uint32_t*>(stage + swizzled<T::kD>(r0, n) + 2 * t) =
        pack_bf16(o[n][0] * inv[0], o[n][1] * inv[0]);
    *reinterpret_cast<uint32_t*>(stage + swizzled<T::kD>(r0 + 8, n) + 2 * t) =
        pack_bf16(o[n][2] * inv[1], o[n][3] * inv[1]);
  }
}

// The staged 128-row tile to global memory (after a barrier).
template <class T>
__device__ __forceinline__ void store_output(const __nv_bfloat16* stage, __nv_bfloat16* out_base,
                                             int64_t out_row_stride, int row0, int len, int tid) {
#pragma unroll
  for (int it = 0; it < T::kBM * T::kChunks / T::kThreads; ++it) {
    const int i = it * T::kThreads + tid;
    const int r = i / T::kChunks, c = i % T::kChunks;
    if (row0 + r < len)
      *reinterpret_cast<uint4*>(out_base + static_cast<int64_t>(row0 + r) * out_row_stride + c * 8) =
          *reinterpret_cast<const uint4*>(stage + swizzled<T::kD>(r, c));
  }
}

}  // namespace jenga::cuda::attn
