#pragma once
// Elementwise and normalisation kernels of the umT5 encoder (official wan/modules/t5.py): T5 RMS
// norms of the f32 residual stream, gated-GELU, token embedding gather and the softmax of the
// relative-position-biased attention. Plain C++ header: bf16 tensors are void* (device), f32
// tensors float*, streams void*. All row-major, contiguous.
#include <cstdint>

namespace jenga::cuda {

// out[r, j] = gelu_tanh(gf[r, j]) * gf[r, ffn + j]: the gated FFN's product, computed in f32.
// gf: [rows, 2 ffn] f32 (gate | fc1 outputs of one stacked GEMM); out: [rows, ffn] bf16.
void t5_gated_gelu(const float* gf, void* out, int64_t rows, int64_t ffn, void* stream = nullptr);

// x[r] = f32(table[ids[r]]). table: [vocab, dim] bf16; ids: [rows] i32 (checked on the host);
// x: [rows, dim] f32.
void embedding_gather(const void* table, const int32_t* ids, float* x, int64_t rows, int64_t dim,
                      void* stream = nullptr);

}  // namespace jenga::cuda
