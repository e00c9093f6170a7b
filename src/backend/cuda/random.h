#pragma once
// Device-side random fills (random weights for tests and benchmarks, noise): Philox normals,
// the same numbers as core/rng.h fill_normal. Plain C++ header.
#include <cstdint>

namespace jenga::cuda {

// Fills n values with shift + scale * N(0,1) (Philox, same stream as core/rng.h fill_normal).
void fill_normal_bf16(void* dst, int64_t n, uint64_t seed, uint64_t offset, float scale, float shift,
                      void* stream = nullptr);
void fill_normal_f32(float* dst, int64_t n, uint64_t seed, uint64_t offset, float scale, float shift,
                     void* stream = nullptr);

}  // namespace jenga::cuda
