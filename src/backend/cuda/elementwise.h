#pragma once
// Elementwise f32/bf16 arithmetic over flat tensors: residual adds (gated, broadcast), row
// broadcast, axpby. Plain C++ header: bf16 tensors are void* (device), f32 tensors float*,
// streams void*.
#include <cstdint>

namespace jenga::cuda {

// x += y * gate (gate broadcast over rows; null gate = 1). x: [rows, dim] f32, y: bf16.
void gated_residual_add(float* x, const void* y, const float* gate, int64_t rows, int64_t dim,
                        void* stream = nullptr);

// out[i] = a[i] + b[i % b_len], f32, i < n (modulation = table + time projection).
void add_broadcast(const float* a, const float* b, float* out, int64_t n, int64_t b_len,
                   void* stream = nullptr);

// Every row of dst [rows, dim] (row stride dst_stride elements) = src [dim], bf16.
void broadcast_row_bf16(const void* src, void* dst, int64_t dst_stride, int64_t rows, int64_t dim,
                        void* stream = nullptr);

// y = a * x + b * y, f32 (b = 0 copies).
void axpby(float* y, float a, const float* x, float b, int64_t n, void* stream = nullptr);

}  // namespace jenga::cuda
