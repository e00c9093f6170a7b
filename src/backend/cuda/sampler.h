#pragma once
// Per-step latent updates on the GPU: classifier-free guidance combined into the sampler step
// (sampling/solver_update.h) and a NaN watch that records
// the first bad step in device memory instead of syncing every step. Plain C++ header.
#include <cstdint>

#include "sampling/solver_update.h"

namespace jenga::cuda {

// out = v_uncond + guide * (v_cond - v_uncond); v_uncond null = v_cond alone.
void cfg_combine(const float* v_cond, const float* v_uncond, float guide, float* out, int64_t n,
                 void* stream = nullptr);

struct SamplerBuffers {
  float* x = nullptr;
  float* last = nullptr;
  const float* h0 = nullptr;  // newest x0 prediction (read)
  float* m_out = nullptr;     // receives this step's x0 prediction (the caller rotates h0/h1)
  const float* h1 = nullptr;  // older prediction; may alias m_out (read before written)
  int* nan_step = nullptr;    // min() of `step` over elements where x becomes non-finite
};

// One guided sampler step in a single pass (v from v_cond / v_uncond as cfg_combine).
void sampler_step(const float* v_cond, const float* v_uncond, float guide, const SolverUpdate& u,
                  const SamplerBuffers& b, int step, int64_t n, void* stream = nullptr);

}  // namespace jenga::cuda
