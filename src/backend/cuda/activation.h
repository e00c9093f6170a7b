#pragma once
// Activations the GEMM epilogues lack: SiLU in place (bf16), SiLU-gated product (f32 in, fp16 or
// f32 out, SwiGLU), quick / erf GELU (f32 in, fp16 or f32 out) and tanh-GELU-gated product (f32
// in, bf16 out). Plain C++ header: bf16 / fp16 tensors are void* (device), f32 tensors float*,
// streams void*.
#include <cstdint>

namespace jenga::cuda {

// x = SiLU(x) in place, bf16 [n] (an MLP activation the GEMM epilogues lack).
void silu_bf16(void* x, int64_t n, void* stream = nullptr);

// out[r, j] = silu(gu[r, j]) * gu[r, ffn + j], computed in f32: a SwiGLU MLP's product (the Llama
// encoder). gu: [rows, 2 ffn] f32 (gate | up outputs of one stacked GEMM); out: [rows, ffn] fp16
// (out_f16: the down projection's operand) or f32.
void silu_gated(const float* gu, void* out, bool out_f16, int64_t rows, int64_t ffn, void* stream = nullptr);
// y = quick-GELU x * sigmoid(1.702 x) (quick) or exact erf GELU of x, computed in f32 (CLIP's MLP).
// x: [n] f32; y: [n] fp16 (y_f16) or f32 (may be x).
void gelu(const float* x, void* y, bool y_f16, int64_t n, bool quick, void* stream = nullptr);

// out[r, j] = gelu_tanh(gf[r, j]) * gf[r, ffn + j]: a gated-GELU FFN's product (umT5), computed in f32.
// gf: [rows, 2 ffn] f32 (gate | fc1 outputs of one stacked GEMM); out: [rows, ffn] bf16.
void gated_gelu_tanh(const float* gf, void* out, int64_t rows, int64_t ffn, void* stream = nullptr);

}  // namespace jenga::cuda
