#pragma once
// Elementwise f32/bf16 arithmetic over flat tensors: residual adds (gated, broadcast), row
// broadcast, axpby. Plain C++ header: bf16 tensors are void* (device), f32 tensors float*,
// streams void*.
#include <cstdint>

namespace jenga::cuda {

// A second set of modulation vectors for some rows (HunyuanVideo-I2V's token_replace: the first
// latent frame's tokens, wherever the token order puts them): row r < rows with mask[r] != 0
// reads its shift / scale / gate `offset` floats past the pointers given. Empty: every row the same.
struct RowModulation {
  const uint8_t* mask = nullptr;  // device [rows]
  int64_t rows = 0;
  int64_t offset = 0;
};

// x += y * gate (gate broadcast over rows; null gate = 1). x: [rows, dim] f32, y: bf16.
// alt: per-row gates (RowModulation; needs a gate).
void gated_residual_add(float* x, const void* y, const float* gate, int64_t rows, int64_t dim,
                        void* stream = nullptr, const RowModulation& alt = {});

// out[i] = a[i] + b[i % b_len], f32, i < n (modulation = table + time projection).
void add_broadcast(const float* a, const float* b, float* out, int64_t n, int64_t b_len,
                   void* stream = nullptr);

// Every row of dst [rows, dim] (row stride dst_stride elements) = src [dim], bf16.
void broadcast_row_bf16(const void* src, void* dst, int64_t dst_stride, int64_t rows, int64_t dim,
                        void* stream = nullptr);

// Column groups between two row layouts, bf16: for r < rows, g < groups, j < width,
// dst[r * dst_row + g * dst_group + j] = src[r * src_row + g * src_group + j]. A DiT whose head
// dim the attention kernel lacks (a tiny test model's 16 or 32) copies its q/k/v heads into
// slots of a supported head dim, zeros beyond (dot products unchanged), and the outputs back.
void copy_column_groups_bf16(const void* src, int64_t src_row, int64_t src_group, void* dst, int64_t dst_row,
                             int64_t dst_group, int64_t rows, int64_t groups, int64_t width, void* stream = nullptr);

// y = a * x + b * y, f32 (b = 0 copies).
void axpby(float* y, float a, const float* x, float b, int64_t n, void* stream = nullptr);

}  // namespace jenga::cuda
