#include "backend/cuda/rel_attention.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "backend/cuda/softmax.h"
#include "core/error.h"

namespace jenga::cuda {

namespace {
void check_blas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) fail("cuBLAS {} failed with status {}", what, static_cast<int>(s));
}
}  // namespace

struct RelAttention::Impl {
  cublasHandle_t handle = nullptr;
  ~Impl() {
    if (handle) cublasDestroy(handle);
  }
};

RelAttention::RelAttention() : impl_(std::make_unique<Impl>()) {
  check_blas(cublasCreate(&impl_->handle), "create");
  check_blas(cublasSetMathMode(impl_->handle, CUBLAS_DEFAULT_MATH), "math mode");
}

RelAttention::~RelAttention() = default;

void RelAttention::forward(const RelAttentionParams& p, void* stream) {
  if (p.len <= 0 || p.heads <= 0 || p.head_dim <= 0) fail("relative attention with empty shape");
  if (p.center < p.len - 1) fail("relative attention: bucket table center {} < len - 1 = {}", p.center, p.len - 1);
  cublasHandle_t h = impl_->handle;
  check_blas(cublasSetStream(h, static_cast<cudaStream_t>(stream)), "set stream");
  const int L = static_cast<int>(p.len), d = static_cast<int>(p.head_dim), H = static_cast<int>(p.heads);
  const float one = 1.0f, zero = 0.0f;
  // Row-major S_h[i, j] = q_i . k_j is column-major S_h^T [L(j), L(i)] = K_h (Q_h)^T, where a
  // row-major [L, d] slice with row stride rs is a column-major [d, L] matrix with ld rs.
  check_blas(cublasGemmStridedBatchedEx(h, CUBLAS_OP_T, CUBLAS_OP_N, L, L, d, &one, p.k, CUDA_R_16BF,
                                        static_cast<int>(p.row_stride), d, p.q, CUDA_R_16BF,
                                        static_cast<int>(p.row_stride), d, &zero, p.scores, CUDA_R_32F, L,
                                        static_cast<long long>(L) * L, H, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
             "scores GEMM");
  softmax_rel_bias(p.scores, p.probs, p.pos, p.bucket, p.center, p.key_mask, p.heads, p.len, stream);
  // Row-major O_h [L, d] = P_h V_h is column-major O_h^T [d, L] = V_h^T P_h^T.
  check_blas(cublasGemmStridedBatchedEx(h, CUBLAS_OP_N, CUBLAS_OP_N, d, L, L, &one, p.v, CUDA_R_16BF,
                                        static_cast<int>(p.row_stride), d, p.probs, CUDA_R_16BF, L,
                                        static_cast<long long>(L) * L, &zero, p.out, CUDA_R_16BF,
                                        static_cast<int>(p.out_row_stride), d, H, CUBLAS_COMPUTE_32F,
                                        CUBLAS_GEMM_DEFAULT),
             "PV GEMM");
}

}  // namespace jenga::cuda
