#pragma once
// Launches the warp-specialised TMA kernel (ws_kernel.cuh); included by attention_hdim{64,128}.cu
// and by the kernel lab (bench/kernels/attention/), which launches its other variants.
// The tensor maps are encoded on the host per call (backend/cuda/tensor_map.h).
#include <cuda.h>
#include <cuda_runtime.h>

#include "backend/cuda/attention/ws_kernel.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/tensor_map.h"

namespace jenga::cuda::attn {

// A [batch, heads, len, head_dim] bf16 view with the given element strides, boxes of 64 columns x
// box_rows rows, 128-byte swizzle; rows past len read as zeros and are not written.
inline bool encode_map(CUtensorMap* m, const void* base, const AttentionParams& p, int len, int64_t sb, int64_t sh,
                       int64_t sr, int box_rows) {
  const TensorMapEncodeTiled enc = tensor_map_encoder();
  if (enc == nullptr) return false;
  const cuuint64_t dims[4] = {static_cast<cuuint64_t>(p.head_dim), static_cast<cuuint64_t>(len), static_cast<cuuint64_t>(p.heads),
                              static_cast<cuuint64_t>(p.batch)};
  const cuuint64_t strides[3] = {static_cast<cuuint64_t>(sr) * 2, static_cast<cuuint64_t>(sh) * 2,
                                 static_cast<cuuint64_t>(sb) * 2};
  const cuuint32_t box[4] = {64, static_cast<cuuint32_t>(box_rows), 1, 1};
  const cuuint32_t elem[4] = {1, 1, 1, 1};
  return enc(m, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 4, const_cast<void*>(base), dims, strides, box, elem,
             CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
             CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

template <class T>
void launch_ws_variant(const AttentionParams& p, const WsMaps& maps, cudaStream_t stream) {
  static const bool configured = [] {
    JENGA_CUDA_CHECK(cudaFuncSetAttribute(attention_fwd_ws_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          T::kSmemBytes));
    return true;
  }();
  (void)configured;
  const int q_blocks = (p.q_len + kBlock - 1) / kBlock;
  dim3 grid(q_blocks, p.heads, p.batch);
  if constexpr (T::kPersistent) {  // one CTA per SM (the shared memory allows no second)
    static int sms[64] = {};
    int dev = 0;
    JENGA_CUDA_CHECK(cudaGetDevice(&dev));
    int& n = sms[dev & 63];
    if (n == 0) JENGA_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev));
    const int64_t work = int64_t{q_blocks} * p.heads * p.batch;
    grid = dim3(static_cast<unsigned>(work < n ? work : n), 1, 1);
  }
  attention_fwd_ws_kernel<T><<<grid, T::kThreads, T::kSmemBytes, stream>>>(p, maps);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

// The four tensor maps of p's q, k, v and out; false when the strides cannot be expressed
// (nothing launched then: the caller falls back to the mma.sync kernel).
inline bool encode_ws_maps(const AttentionParams& p, WsMaps& maps) {
  return encode_map(&maps.q, p.q, p, p.q_len, p.q_batch_stride, p.q_head_stride, p.q_row_stride, 64) &&
         encode_map(&maps.k, p.k, p, p.k_len, p.k_batch_stride, p.k_head_stride, p.k_row_stride, 128) &&
         encode_map(&maps.v, p.v, p, p.k_len, p.v_batch_stride, p.v_head_stride, p.v_row_stride, 128) &&
         encode_map(&maps.o, p.out, p, p.q_len, p.out_batch_stride, p.out_head_stride, p.out_row_stride, 64);
}

// The production instantiation per head dim: persistent (one CTA per SM), 2 K/V stages,
// ping-pong of the two consumer warpgroups, one-instruction exp2, lazy rescale, one K/V release
// per warp; Q in registers for head dim 128, in shared memory for 64. The fastest or within the
// run-to-run noise (~2%) of the fastest variant at every benchmark shape on H100
// (docs/BENCHMARKS.md "GPU: attention": kernel-lab versions 12 and 13). The other variants of
// this template are experiments in bench/kernels/attention/.
template <int D>
using WsDefault = WsTraits<D, 2, true, true, D == 128, kOptAll>;

}  // namespace jenga::cuda::attn
