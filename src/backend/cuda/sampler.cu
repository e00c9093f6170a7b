#include <cuda_runtime.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/sampler.h"

namespace jenga::cuda {

namespace {

constexpr int kThreads = 256;
int blocks_for(int64_t n) { return static_cast<int>((n + kThreads - 1) / kThreads); }

__global__ void cfg_kernel(const float* vc, const float* vu, float g, float* out, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) out[i] = vu ? vu[i] + g * (vc[i] - vu[i]) : vc[i];
}

__global__ void step_kernel(const float* vc, const float* vu, float g, SolverUpdate u, SamplerBuffers b,
                            int step, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const float v = vu ? vu[i] + g * (vc[i] - vu[i]) : vc[i];
  float x = b.x[i];
  if (u.euler) {
    x += u.euler_d * v;
  } else {
    const float m = x - u.sigma * v;
    const float h0 = b.h0 ? b.h0[i] : 0.0f;
    if (u.correct) {
      const float h1 = b.h1 ? b.h1[i] : 0.0f;
      x = u.c_last * b.last[i] + u.c_h0 * h0 + u.c_h1 * h1 + u.c_m * m;
    }
    b.last[i] = x;
    x = u.p_x * x + u.p_m * m + u.p_h0 * h0;
    b.m_out[i] = m;
  }
  b.x[i] = x;
  if (b.nan_step && !isfinite(x)) atomicMin(b.nan_step, step);
}

}  // namespace

void cfg_combine(const float* v_cond, const float* v_uncond, float guide, float* out, int64_t n, void* stream) {
  if (n <= 0) return;
  cfg_kernel<<<blocks_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(v_cond, v_uncond, guide, out, n);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void sampler_step(const float* v_cond, const float* v_uncond, float guide, const SolverUpdate& u,
                  const SamplerBuffers& b, int step, int64_t n, void* stream) {
  if (n <= 0) return;
  step_kernel<<<blocks_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(v_cond, v_uncond, guide, u, b,
                                                                                   step, n);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda
