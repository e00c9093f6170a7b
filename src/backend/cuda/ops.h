#pragma once
// Fused elementwise/normalisation kernels for the DiT blocks. Plain C++ header: bf16 tensors
// are void* (device), f32 tensors float*, streams void*. All row-major, contiguous.
#include <cstdint>

namespace jenga::cuda {

// Every row of dst [rows, dim] (row stride dst_stride elements) = src [dim], bf16.
void broadcast_row_bf16(const void* src, void* dst, int64_t dst_stride, int64_t rows, int64_t dim,
                        void* stream = nullptr);

// x += y * gate (gate broadcast over rows; null gate = 1). x: [rows, dim] f32, y: bf16.
void gated_residual_add(float* x, const void* y, const float* gate, int64_t rows, int64_t dim,
                        void* stream = nullptr);

// out[i] = a[i] + b[i % b_len], f32, i < n (modulation = table + time projection).
void add_broadcast(const float* a, const float* b, float* out, int64_t n, int64_t b_len,
                   void* stream = nullptr);

}  // namespace jenga::cuda
