#pragma once
// General row-major bf16 (or fp16, or f32) GEMMs through cuBLASLt with f32 accumulation, for the
// VAE's convolutions (im2col rows x packed kernels) and its attention, and the text encoders:
// leading dimensions, B given as [N, K] or [K, N], an f32 or 16-bit result, an f32 bias, an
// in-place accumulate (beta = 1) and strided batches (attention over heads).
// Plain C++ header: device pointers as void*, the stream as void* (cudaStream_t).
#include <cstddef>
#include <cstdint>
#include <memory>

namespace jenga::cuda {

struct MatmulArgs {
  int64_t m = 0, n = 0, k = 0;
  const void* a = nullptr;  // bf16 [M, K], row stride lda
  int64_t lda = 0;
  const void* b = nullptr;  // bf16 [N, K] (b_nk) or [K, N], row stride ldb
  int64_t ldb = 0;
  bool b_nk = true;
  void* d = nullptr;        // [M, N] row stride ldd, f32, or bf16 (d_bf16) / fp16 (d_f16)
  int64_t ldd = 0;
  bool d_bf16 = false;
  const float* bias = nullptr;  // f32 [N] or null; f32 results only
  const void* bias16 = nullptr; // [N] in the 16-bit result's type, or null; 16-bit results only
  bool accumulate = false;      // d += A B^T (d read as C), else d = A B^T
  bool ab_f32 = false;          // A and B f32 (exact f32 products, for reference runs); d must be f32
  bool ab_f16 = false;          // A and B fp16 (tensor cores; the text encoders' published precision)
  bool d_f16 = false;           // fp16 result (fp16 operands only)
  // Strided batch: product i reads a + i * stride_a, b + i * stride_b and writes d + i * stride_d
  // (strides in elements), e.g. one attention head per product.
  int64_t batch = 1, stride_a = 0, stride_b = 0, stride_d = 0;
};

class MatmulRunner {
 public:
  explicit MatmulRunner(size_t workspace_bytes = 32u << 20);
  ~MatmulRunner();
  MatmulRunner(const MatmulRunner&) = delete;
  MatmulRunner& operator=(const MatmulRunner&) = delete;

  // Plans (descriptors + heuristic algorithm) are built on first use of a shape and kept.
  void run(const MatmulArgs& args, void* stream = nullptr);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace jenga::cuda
