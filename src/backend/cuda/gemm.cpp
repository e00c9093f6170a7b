#include "backend/cuda/gemm.h"

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <fmt/format.h>

#include <tuple>

#include "backend/cuda/lt_plan.h"
#include "core/error.h"

namespace jenga::cuda {

struct GemmRunner::Impl {
  explicit Impl(size_t workspace_bytes) : lt(workspace_bytes) {}
  LtContext lt;
  // One plan per (m, n, k, epilogue, output type), built once.
  LtPlanCache<std::tuple<int64_t, int64_t, int64_t, int, int>> plans;

  LtPlan& plan(int64_t m, int64_t n, int64_t k, Epilogue ep, cudaDataType_t out = CUDA_R_16BF) {
    return plans.get(std::make_tuple(m, n, k, static_cast<int>(ep), static_cast<int>(out)), [&](LtPlan& p) {
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
      check_lt(cublasLtMatrixLayoutCreate(&p.b, CUDA_R_16BF, k, m, k), "layout b");
      check_lt(cublasLtMatrixLayoutCreate(&p.c, out, n, m, n), "layout c");
      lt.choose_algo(p, LtAlignment{}, fmt::format("a {}x{}x{} bf16 GEMM with this epilogue and output", m, n, k).c_str());
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

void GemmRunner::linear_f32(const void* x, const void* w, float* y, int64_t m, int64_t n, int64_t k, bool accumulate,
                            void* stream) {
  if (m <= 0 || n <= 0 || k <= 0) fail("GEMM with empty shape {}x{}x{}", m, n, k);
  auto& p = impl_->plan(m, n, k, Epilogue::None, CUDA_R_32F);
  impl_->lt.matmul(p, 1.0f, w, x, accumulate ? 1.0f : 0.0f, y, stream);
}

}  // namespace jenga::cuda
