#pragma once
// Embeddings: token rows gathered from a bf16 table (umT5), and the sinusoidal timestep
// embedding computed in double as the official models do (the DiTs). Plain C++ header.
#include <cstdint>

namespace jenga::cuda {

// x[r] = f32(table[ids[r]]). table: [vocab, dim] bf16; ids: [rows] i32 (checked on the host);
// x: [rows, dim] f32.
void embedding_gather(const void* table, const int32_t* ids, float* x, int64_t rows, int64_t dim,
                      void* stream = nullptr);

// out: [dim] = [cos(t f_0..f_{h-1}), sin(t f_0..f_{h-1})], f_k = 10000^(-k/h), h = dim/2, in
// double; t read from device memory so a captured graph picks up each step's timestep.
void sinusoidal_embedding(const float* t, float* out, int64_t dim, void* stream = nullptr);

// The same with t passed by value (a constant of the run, e.g. an embedded guidance scale).
void sinusoidal_embedding_value(float t, float* out, int64_t dim, void* stream = nullptr);

}  // namespace jenga::cuda
