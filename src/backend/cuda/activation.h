#pragma once
// Activations the GEMM epilogues lack: SiLU in place (bf16), SiLU-gated product (f32, SwiGLU)
// and tanh-GELU-gated product (f32 in, bf16 out). Plain C++ header: bf16 tensors are void*
// (device), f32 tensors float*, streams void*.
#include <cstdint>

namespace jenga::cuda {

// x = SiLU(x) in place, bf16 [n] (an MLP activation the GEMM epilogues lack).
void silu_bf16(void* x, int64_t n, void* stream = nullptr);

// g = silu(g) * u (a SwiGLU MLP: the Llama encoder), n values f32.
void silu_mul(float* g, const float* u, int64_t n, void* stream = nullptr);

// out[r, j] = gelu_tanh(gf[r, j]) * gf[r, ffn + j]: a gated-GELU FFN's product (umT5), computed in f32.
// gf: [rows, 2 ffn] f32 (gate | fc1 outputs of one stacked GEMM); out: [rows, ffn] bf16.
void gated_gelu_tanh(const float* gf, void* out, int64_t rows, int64_t ffn, void* stream = nullptr);

}  // namespace jenga::cuda
