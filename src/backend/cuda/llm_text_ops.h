#pragma once
// Kernels of the HunyuanVideo LLM text encoder's CUDA path (models/hunyuan/llama_text_encoder_cuda):
// f32 activations throughout (the GEMMs run on f32 operands too, see there). Plain C++ header:
// device pointers, fp16 tensors as void*, streams as void*.
#include <cstdint>

namespace jenga::cuda {

// dst[i] = f32(src[i]); src: fp16 [n].
void f16_to_f32(const void* src, float* dst, int64_t n, void* stream = nullptr);

}  // namespace jenga::cuda
