#include "backend/cuda/gemm.h"

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <map>
#include <tuple>

#include "backend/cuda/cuda_check.h"
#include "core/error.h"

namespace jenga::cuda {

namespace {
void check_lt(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) fail("cuBLASLt {} failed with status {}", what, static_cast<int>(s));
}
}  // namespace

struct GemmRunner::Impl {
  cublasLtHandle_t handle = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  // One plan per (m, n, k, epilogue, output type): descriptors and the heuristic's algorithm,
  // built once.
  struct Plan {
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
  };
  std::map<std::tuple<int64_t, int64_t, int64_t, int, int>, Plan> plans;

  Plan& plan(int64_t m, int64_t n, int64_t k, Epilogue ep, cudaDataType_t out = CUDA_R_16BF) {
    auto key = std::make_tuple(m, n, k, static_cast<int>(ep), static_cast<int>(out));
    auto it = plans.find(key);
    if (it != plans.end()) return it->second;
    // Row-major y[M,N] = x[M,K] W[N,K]^T is column-major y^T[N,M] = W^T... i.e. cuBLAS sees
    // A = W as col-major [K,N] transposed, B = x as col-major [K,M], C = y as col-major [N,M].
    Plan p;
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
    cublasLtMatmulPreference_t pref;
    check_lt(cublasLtMatmulPreferenceCreate(&pref), "preference");
    check_lt(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                  &workspace_bytes, sizeof workspace_bytes), "workspace");
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    const cublasStatus_t hs = cublasLtMatmulAlgoGetHeuristic(handle, p.op, p.a, p.b, p.c, p.c, pref, 1, &result, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    if (hs != CUBLAS_STATUS_SUCCESS || found == 0)
      fail("cuBLASLt has no algorithm for a {}x{}x{} bf16 GEMM with this epilogue and output", m, n, k);
    p.algo = result.algo;
    return plans.emplace(key, p).first->second;
  }

  ~Impl() {
    for (auto& [k, p] : plans) {
      cublasLtMatrixLayoutDestroy(p.a);
      cublasLtMatrixLayoutDestroy(p.b);
      cublasLtMatrixLayoutDestroy(p.c);
      cublasLtMatmulDescDestroy(p.op);
    }
    if (workspace) cudaFree(workspace);
    if (handle) cublasLtDestroy(handle);
  }
};

GemmRunner::GemmRunner(size_t workspace_bytes) : impl_(std::make_unique<Impl>()) {
  check_lt(cublasLtCreate(&impl_->handle), "create");
  impl_->workspace_bytes = workspace_bytes;
  if (workspace_bytes) JENGA_CUDA_CHECK(cudaMalloc(&impl_->workspace, workspace_bytes));
}

GemmRunner::~GemmRunner() = default;

void GemmRunner::linear(const void* x, const void* w, const void* bias, void* y, int64_t m, int64_t n,
                        int64_t k, Epilogue epilogue, void* stream) {
  if (m <= 0 || n <= 0 || k <= 0) fail("GEMM with empty shape {}x{}x{}", m, n, k);
  if (epilogue != Epilogue::None && !bias) fail("GEMM bias epilogue without a bias pointer");
  auto& p = impl_->plan(m, n, k, epilogue);
  if (epilogue != Epilogue::None)
    check_lt(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias), "bias");
  const float alpha = 1.0f, beta = 0.0f;
  check_lt(cublasLtMatmul(impl_->handle, p.op, &alpha, w, p.a, x, p.b, &beta, y, p.c, y, p.c, &p.algo,
                          impl_->workspace, impl_->workspace_bytes, static_cast<cudaStream_t>(stream)),
           "matmul");
}

void GemmRunner::linear_f32(const void* x, const void* w, float* y, int64_t m, int64_t n, int64_t k, bool accumulate,
                            void* stream) {
  if (m <= 0 || n <= 0 || k <= 0) fail("GEMM with empty shape {}x{}x{}", m, n, k);
  auto& p = impl_->plan(m, n, k, Epilogue::None, CUDA_R_32F);
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  check_lt(cublasLtMatmul(impl_->handle, p.op, &alpha, w, p.a, x, p.b, &beta, y, p.c, y, p.c, &p.algo,
                          impl_->workspace, impl_->workspace_bytes, static_cast<cudaStream_t>(stream)),
           "matmul");
}

}  // namespace jenga::cuda
