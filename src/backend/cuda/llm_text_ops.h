#pragma once
// Kernels of the HunyuanVideo LLM text encoder's CUDA path (models/hunyuan/llama_text_encoder_cuda):
// f32 activations throughout (the GEMMs run on f32 operands too, see there). Plain C++ header:
// device pointers, fp16 tensors as void*, streams as void*.
#include <cstdint>

namespace jenga::cuda {

}  // namespace jenga::cuda
