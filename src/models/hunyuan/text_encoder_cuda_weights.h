#pragma once
// What the two CUDA text encoders (LLM, CLIP-L) share: their matrices uploaded once as fp16 (the
// published dtype; several stacked into one matrix so q|k|v or gate|up run as one GEMM), f32
// vectors (norms, biases), and the linear layer in either precision: fp16 operands on tensor
// cores with f32 accumulation (the default), or the f32 reference, which widens each fp16 matrix
// into a scratch buffer just before an f32 GEMM (exact products; for tests and parity runs).
#include <cstdint>
#include <string>
#include <vector>

#include "backend/cuda/matmul.h"
#include "core/tensor.h"
#include "models/hunyuan/text_encoder_weights.h"

namespace jenga::hunyuan {

enum class TextEncoderPrecision {
  F16,  // fp16 GEMM operands and attention, f32 accumulation, norms and residual stream
  F32,  // f32 throughout (fp16 weights widened per GEMM): the reference
};

// The named [rows_i, cols] matrices stacked by rows into one fp16 device matrix [sum rows_i, cols]:
// fp16 files are copied as stored, anything else (bf16, f32, scaled fp8) goes through f32 and
// rounds to fp16. Each tensor's shape is checked.
Tensor upload_f16_stacked(const EncoderWeights& w, const std::vector<std::string>& names,
                          const std::vector<int64_t>& rows, int64_t cols);
// The named [n_i] vectors concatenated into one f32 device vector.
Tensor upload_f32_concat(const EncoderWeights& w, const std::vector<std::string>& names,
                         const std::vector<int64_t>& n);

class EncoderLinearCuda {
 public:
  // max_weight: the most elements of any matrix this will run (the f32 mode's scratch).
  EncoderLinearCuda(TextEncoderPrecision p, int64_t max_weight);
  bool f16() const { return precision_ == TextEncoderPrecision::F16; }
  size_t element_bytes() const { return f16() ? 2 : 4; }
  // Element i of an activation buffer in the precision's type (a column slice of fused q|k|v rows).
  const void* element(const Tensor& t, int64_t i) const {
    return static_cast<const char*>(t.data()) + i * static_cast<int64_t>(element_bytes());
  }

  // y[m, n] (row stride ldy) = x[m, k] W^T (+ bias) (+ y when accumulate). x: activations in the
  // precision's type (fp16 or f32); w: fp16 [n, k] (PyTorch Linear layout); bias: f32 [n] or
  // null. y is f32 unless y_f16 (fp16 precision only; no bias then).
  void run(const void* x, const Tensor& w, const float* bias, int64_t m, int64_t n, int64_t k, void* y, int64_t ldy,
           bool accumulate, bool y_f16 = false);
  cuda::MatmulRunner& gemm() { return gemm_; }

 private:
  TextEncoderPrecision precision_;
  cuda::MatmulRunner gemm_;
  Tensor wide_;  // f32 scratch of max_weight elements (F32 only)
};

}  // namespace jenga::hunyuan
