#include "backend/cuda/gemm.h"

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <tuple>

#include "backend/cuda/lt_plan.h"
#include "core/error.h"

namespace jenga::cuda {

struct GemmRunner::Impl {
  explicit Impl(size_t workspace_bytes) : lt(workspace_bytes) {}
  LtContext lt;
  // One plan per (m, n, k, epilogue, output type, x and y row strides, operand alignments), built once.
  LtPlanCache<std::tuple<int64_t, int64_t, int64_t, int, int, int64_t, int64_t, uint32_t, uint32_t, uint32_t>> plans;

  LtPlan& plan(int64_t m, int64_t n, int64_t k, Epilogue ep, cudaDataType_t out = CUDA_R_16BF, int64_t ldx = 0,
               int64_t ldy = 0, LtAlignment al = {}) {
    if (ldx == 0) ldx = k;
    if (ldy == 0) ldy = n;
    const auto key = std::make_tuple(m, n, k, static_cast<int>(ep), static_cast<int>(out), ldx, ldy, al.a, al.b, al.c);
    return plans.get(key, [&](LtPlan& p) {
      // Row-major y[M,N] = x[M,K] W[N,K]^T is column-major y^T[N,M]: cuBLAS sees A = W as
      // col-major [K,N] transposed, B = x as col-major [K,M], C = y as col-major [N,M].
      check_lt(cublasLtMatmulDescCreate(&p.op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "desc");
      const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
      check_lt(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta), "transa");
      check_lt(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb), "transb");
      cublasLtEpilogue_t e = CUBLASLT_EPILOGUE_DEFAULT;
      if (ep == Epilogue::Bias) e = CUBLASLT_EPILOGUE_BIAS;
      if (ep == Epilogue::BiasGeluTanh) e = CUBLASLT_EPILOGUE_GELU_BIAS;
      check_lt(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &e, sizeof e), "epilogue");
      if (ep != Epilogue::None) {
        const cudaDataType_t bt = CUDA_R_16BF;
        check_lt(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt), "bias type");
      }
      check_lt(cublasLtMatrixLayoutCreate(&p.a, CUDA_R_16BF, k, n, k), "layout a");
      check_lt(cublasLtMatrixLayoutCreate(&p.b, CUDA_R_16BF, k, m, ldx), "layout b");
      check_lt(cublasLtMatrixLayoutCreate(&p.c, out, n, m, ldy), "layout c");
      lt.choose_algo(p, al, fmt::format("a {}x{}x{} bf16 GEMM with this epilogue and output", m, n, k).c_str());
    });
  }
};

GemmRunner::GemmRunner(size_t workspace_bytes) : impl_(std::make_unique<Impl>(workspace_bytes)) {}

GemmRunner::~GemmRunner() = default;

void GemmRunner::linear(const void* x, const void* w, const void* bias, void* y, int64_t m, int64_t n,
                        int64_t k, Epilogue epilogue, void* stream) {
  if (m <= 0 || n <= 0 || k <= 0) fail("GEMM with empty shape {}x{}x{}", m, n, k);
  if (epilogue != Epilogue::None && !bias) fail("GEMM bias epilogue without a bias pointer");
  auto& p = impl_->plan(m, n, k, epilogue);
  if (epilogue != Epilogue::None)
    check_lt(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias), "bias");
  impl_->lt.matmul(p, 1.0f, w, x, 0.0f, y, stream);
}

void GemmRunner::linear_strided(const void* x, int64_t ldx, const void* w, const void* bias, void* y, int64_t ldy,
                                int64_t m, int64_t n, int64_t k, Epilogue epilogue, void* stream) {
  if (m <= 0 || n <= 0 || k <= 0) fail("GEMM with empty shape {}x{}x{}", m, n, k);
  if (ldx < k || ldy < n) fail("GEMM row strides {} / {} below the row widths {} / {}", ldx, ldy, k, n);
  if (epilogue != Epilogue::None && !bias) fail("GEMM bias epilogue without a bias pointer");
  // The heuristic may only assume the alignment every row start (and the bias) has.
  const auto align = [](const void* ptr, int64_t ld) {
    uint32_t a = 256;
    while (a > 2 && ((reinterpret_cast<uintptr_t>(ptr) | static_cast<uint64_t>(ld) * 2) % a)) a /= 2;
    return a;
  };
  LtAlignment al;
  al.a = align(w, k), al.b = align(x, ldx), al.c = align(y, ldy);
  if (bias) al.c = std::min(al.c, align(bias, 0));
  auto& p = impl_->plan(m, n, k, epilogue, CUDA_R_16BF, ldx, ldy, al);
  if (epilogue != Epilogue::None)
    check_lt(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias), "bias");
  impl_->lt.matmul(p, 1.0f, w, x, 0.0f, y, stream);
}

void GemmRunner::linear_f32(const void* x, const void* w, float* y, int64_t m, int64_t n, int64_t k, bool accumulate,
                            void* stream) {
  if (m <= 0 || n <= 0 || k <= 0) fail("GEMM with empty shape {}x{}x{}", m, n, k);
  auto& p = impl_->plan(m, n, k, Epilogue::None, CUDA_R_32F);
  impl_->lt.matmul(p, 1.0f, w, x, accumulate ? 1.0f : 0.0f, y, stream);
}

}  // namespace jenga::cuda
