#pragma once
// bf16 GEMMs through cuBLASLt with fused epilogues (bias, bias + GELU-tanh), f32 accumulation.
// Plain C++ header: device pointers as void*, the stream as void* (cudaStream_t).
#include <cstddef>
#include <cstdint>
#include <memory>

namespace jenga::cuda {

enum class Epilogue { None, Bias, BiasGeluTanh };

class GemmRunner {
 public:
  // The workspace is allocated once here, never per call (graph capture safe).
  explicit GemmRunner(size_t workspace_bytes = 32u << 20);
  ~GemmRunner();
  GemmRunner(const GemmRunner&) = delete;
  GemmRunner& operator=(const GemmRunner&) = delete;

  // y[M,N] = x[M,K] W[N,K]^T (+ bias[N]) (then GELU-tanh): nn.Linear in row-major bf16.
  // bias is bf16 [N] (required for the Bias epilogues). x, y must not alias.
  void linear(const void* x, const void* w, const void* bias, void* y, int64_t m, int64_t n,
              int64_t k, Epilogue epilogue, void* stream = nullptr);

  // The same with row strides (elements, >= the row width): x rows ldx apart, y rows ldy apart,
  // e.g. writing one column slice of a wider buffer (HunyuanVideo's single-stream blocks put
  // the MLP activations next to the attention output that their second linear reads).
  void linear_strided(const void* x, int64_t ldx, const void* w, const void* bias, void* y, int64_t ldy,
                      int64_t m, int64_t n, int64_t k, Epilogue epilogue, void* stream = nullptr);

  // y[M,N] = x[M,K] W[N,K]^T with an f32 output; accumulate: y += x W^T (beta = 1), a residual
  // add fused into the GEMM with no bf16 rounding of the product. x, w bf16; must not alias y.
  void linear_f32(const void* x, const void* w, float* y, int64_t m, int64_t n, int64_t k, bool accumulate,
                  void* stream = nullptr);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace jenga::cuda
