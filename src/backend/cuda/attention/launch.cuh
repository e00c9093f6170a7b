#pragma once
// Launches the forward kernel for one (head dim, key tile); included once per head dim by the
// attention_hdim*.cu files so those compile in parallel.
#include <cuda_runtime.h>

#include "backend/cuda/attention/kernel.cuh"
#include "backend/cuda/cuda_check.h"

namespace jenga::cuda::attn {

template <int D, int BN, int MT>
void launch(const AttentionParams& p, cudaStream_t stream) {
  using T = Traits<D, BN, MT>;
  // The opt-in to > 48 KB of shared memory is a function attribute: set once, not per call.
  static const bool configured = [] {
    JENGA_CUDA_CHECK(cudaFuncSetAttribute(attention_fwd_kernel<T>,
                                          cudaFuncAttributeMaxDynamicSharedMemorySize, T::kSmemBytes));
    return true;
  }();
  (void)configured;
  const dim3 grid((p.q_len + kBlock - 1) / kBlock, p.heads, p.batch);
  attention_fwd_kernel<T><<<grid, T::kThreads, T::kSmemBytes, stream>>>(p);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda::attn
