#pragma once
// Elementwise dtype conversions on the device (f32 -> bf16, f32 -> fp16, fp16 -> f32). Plain C++ header:
// bf16 / fp16 tensors are void* (device), f32 tensors float*, streams void*.
// (convert_f32_to_bf16 in cuda_backend.h is the same f32 -> bf16 kernel on the default stream.)
#include <cstdint>

namespace jenga::cuda {

// dst = bf16(src) (round to nearest even), n values.
void f32_to_bf16(const float* src, void* dst, int64_t n, void* stream = nullptr);

// dst = fp16(src) (round to nearest even), n values.
void f32_to_f16(const float* src, void* dst, int64_t n, void* stream = nullptr);

// dst[i] = f32(src[i]); src: fp16 [n].
void f16_to_f32(const void* src, float* dst, int64_t n, void* stream = nullptr);

}  // namespace jenga::cuda
