#pragma once
// Launches the sm_90a wgmma kernel (lab version 2, head dim 128); included by wgmma_version.cu.
#include <cuda_runtime.h>

#include "hopper_kernel.cuh"
#include "backend/cuda/cuda_check.h"

namespace jenga::cuda::attn {

// The wgmma kernel (head dim 128, sm_90a only; the caller checks the device).
inline void launch_hopper(const AttentionParams& p, cudaStream_t stream) {
  static const bool configured = [] {
    JENGA_CUDA_CHECK(cudaFuncSetAttribute(attention_fwd_hopper_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          HopperTraits::kSmemBytes));
    return true;
  }();
  (void)configured;
  const dim3 grid((p.q_len + kBlock - 1) / kBlock, p.heads, p.batch);
  attention_fwd_hopper_kernel<<<grid, HopperTraits::kThreads, HopperTraits::kSmemBytes, stream>>>(p);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda::attn
