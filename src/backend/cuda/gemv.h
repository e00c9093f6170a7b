#pragma once
// Matrix-vector products y = W act(x) + b with f32 accumulation (the DiTs' timestep, guidance and
// modulation path, computed in f32 as the official models do): f32 weights, or bf16 weights
// with 16-byte loads. Plain C++ header.
#include <cstdint>

namespace jenga::cuda {

// y[N] = W[N,K] act(x[K]) + b[N], f32; act = SiLU when silu_input, else identity.
void linear_vec_f32(const float* x, const float* w, const float* b, float* y, int64_t n, int64_t k,
                    bool silu_input, void* stream = nullptr);

// y[N] (+)= W[N,K] act(x[K]) + b[N] with bf16 W and b (b may be null), f32 x, y and
// accumulation; accumulate: y += ... The modulation and embedding GEMVs of a bf16 DiT (memory
// bound: 16-byte weight loads, K % 8 == 0 and 16-byte aligned W rows, else a scalar loop).
void linear_vec_bf16(const float* x, const void* w, const void* b, float* y, int64_t n, int64_t k, bool silu_input,
                     bool accumulate, void* stream = nullptr);

}  // namespace jenga::cuda
