#pragma once
// Elementwise and normalisation kernels of the umT5 encoder (official wan/modules/t5.py): T5 RMS
// norms of the f32 residual stream, gated-GELU, token embedding gather and the softmax of the
// relative-position-biased attention. Plain C++ header: bf16 tensors are void* (device), f32
// tensors float*, streams void*. All row-major, contiguous.
#include <cstdint>

namespace jenga::cuda {

// x[r] = f32(table[ids[r]]). table: [vocab, dim] bf16; ids: [rows] i32 (checked on the host);
// x: [rows, dim] f32.
void embedding_gather(const void* table, const int32_t* ids, float* x, int64_t rows, int64_t dim,
                      void* stream = nullptr);

}  // namespace jenga::cuda
