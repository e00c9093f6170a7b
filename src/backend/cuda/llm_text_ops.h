#pragma once
// Kernels of the HunyuanVideo LLM text encoder's CUDA path (models/hunyuan/llama_text_encoder_cuda):
// f32 activations throughout (the GEMMs run on f32 operands too, see there). Plain C++ header:
// device pointers, fp16 tensors as void*, streams as void*.
#include <cstdint>

namespace jenga::cuda {

// dst[i] = f32(src[i]); src: fp16 [n].
void f16_to_f32(const void* src, float* dst, int64_t n, void* stream = nullptr);

// In place per row i of s: [len, len] f32, p = softmax_j(scale * s[i, j]) over keys j <= i with
// key_mask[j] != 0; a row with no such key gets 1/len everywhere (what torch's dtype-min mask
// gives). key_mask: [len] u8.
void causal_masked_softmax(float* s, const uint8_t* key_mask, int64_t len, float scale, void* stream = nullptr);

// g = silu(g) * u, n values f32.
void silu_mul(float* g, const float* u, int64_t n, void* stream = nullptr);

}  // namespace jenga::cuda
