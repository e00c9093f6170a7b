#pragma once
// Small f32 vector ops for the timestep path (computed in f32 as the official model does) and
// device-side random fills for benchmark weights. Plain C++ header.
#include <cstdint>

namespace jenga::cuda {

// out: [dim] = [cos(t f_0..f_{h-1}), sin(t f_0..f_{h-1})], f_k = 10000^(-k/h), h = dim/2, in
// double; t read from device memory so a captured graph picks up each step's timestep.
void sinusoidal_embedding(const float* t, float* out, int64_t dim, void* stream = nullptr);

// The same with t passed by value (a constant of the run, e.g. an embedded guidance scale).
void sinusoidal_embedding_value(float t, float* out, int64_t dim, void* stream = nullptr);

// y[N] = W[N,K] act(x[K]) + b[N], f32; act = SiLU when silu_input, else identity.
void linear_vec_f32(const float* x, const float* w, const float* b, float* y, int64_t n, int64_t k,
                    bool silu_input, void* stream = nullptr);

// y[N] (+)= W[N,K] act(x[K]) + b[N] with bf16 W and b (b may be null), f32 x, y and
// accumulation; accumulate: y += ... The modulation and embedding GEMVs of a bf16 DiT (memory
// bound: 16-byte weight loads, K % 8 == 0 and 16-byte aligned W rows, else a scalar loop).
void linear_vec_bf16(const float* x, const void* w, const void* b, float* y, int64_t n, int64_t k, bool silu_input,
                     bool accumulate, void* stream = nullptr);

// Fills n values with shift + scale * N(0,1) (Philox, same stream as core/rng.h fill_normal).
void fill_normal_bf16(void* dst, int64_t n, uint64_t seed, uint64_t offset, float scale, float shift,
                      void* stream = nullptr);
void fill_normal_f32(float* dst, int64_t n, uint64_t seed, uint64_t offset, float scale, float shift,
                     void* stream = nullptr);

}  // namespace jenga::cuda
