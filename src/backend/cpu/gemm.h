#pragma once
// f32 GEMM on the CPU through OpenBLAS (the reference backend computes in f32).
#include <cstdint>

namespace jenga::cpu {

// C[M,N] = alpha * op(A) op(B) + beta * C, row-major; op(A) is [M,K], op(B) is [K,N].
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// y[M,N] = x[M,K] W[N,K]^T + bias[N] (PyTorch nn.Linear layout); bias may be null.
void linear(const float* x, const float* w, const float* bias, float* y, int64_t m, int64_t n, int64_t k);

}  // namespace jenga::cpu
