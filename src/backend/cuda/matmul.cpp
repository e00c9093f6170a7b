#include "backend/cuda/matmul.h"

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <fmt/format.h>

#include <cstdint>
#include <tuple>

#include "backend/cuda/lt_plan.h"
#include "core/error.h"

namespace jenga::cuda {

namespace {
using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, bool, bool, bool, uint32_t, uint32_t, uint32_t,
                       bool, bool>;

// The largest power of two (up to 256) dividing the address: the heuristic otherwise assumes
// 256-byte aligned operands, and tiles of rows or q/k/v column slices are not.
uint32_t alignment(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  uint32_t al = 256;
  while (al > 1 && a % al != 0) al >>= 1;
  return al;
}
}  // namespace

struct MatmulRunner::Impl {
  explicit Impl(size_t workspace_bytes) : lt(workspace_bytes) {}
  LtContext lt;
  LtPlanCache<Key> plans;

  // Row-major D[M,N] = A[M,K] op(B) is column-major D^T[N,M] = op(B)^T A^T: cuBLAS's "A" is our
  // B ([N,K] row-major = col-major [K,N], transposed; or [K,N] row-major = col-major [N,K]),
  // cuBLAS's "B" is our A (col-major [K,M]), C/D col-major [N,M] with ld = ldd.
  LtPlan& plan(const MatmulArgs& g) {
    const LtAlignment al{alignment(g.b), alignment(g.a), alignment(g.d)};
    const bool has_bias = g.bias != nullptr || g.bias16 != nullptr;
    const Key key{g.m, g.n, g.k, g.lda, g.ldb, g.ldd, g.b_nk, g.d_bf16, has_bias, al.a, al.b, al.c, g.ab_f32, g.f16};
    return plans.get(key, [&](LtPlan& p) {
      check_lt(cublasLtMatmulDescCreate(&p.op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "desc");
      const cublasOperation_t ta = g.b_nk ? CUBLAS_OP_T : CUBLAS_OP_N, tb = CUBLAS_OP_N;
      check_lt(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta), "transa");
      check_lt(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb), "transb");
      const cublasLtEpilogue_t e = has_bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
      check_lt(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &e, sizeof e), "epilogue");
      if (g.bias) {
        const cudaDataType_t bt = CUDA_R_32F;
        check_lt(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt), "bias type");
      }
      const cudaDataType_t half = g.f16 ? CUDA_R_16F : CUDA_R_16BF;
      const cudaDataType_t ab = g.ab_f32 ? CUDA_R_32F : half;
      if (g.b_nk)
        check_lt(cublasLtMatrixLayoutCreate(&p.a, ab, g.k, g.n, g.ldb), "layout a");
      else
        check_lt(cublasLtMatrixLayoutCreate(&p.a, ab, g.n, g.k, g.ldb), "layout a");
      check_lt(cublasLtMatrixLayoutCreate(&p.b, ab, g.k, g.m, g.lda), "layout b");
      check_lt(cublasLtMatrixLayoutCreate(&p.c, g.d_bf16 ? half : CUDA_R_32F, g.n, g.m, g.ldd), "layout c");
      lt.choose_algo(p, al,
                     fmt::format("a {}x{}x{} {} GEMM (lda {}, ldb {}, ldd {})", g.m, g.n, g.k, g.ab_f32 ? "f32" : g.f16 ? "fp16" : "bf16",
                                 g.lda, g.ldb, g.ldd)
                         .c_str());
    });
  }
};

MatmulRunner::MatmulRunner(size_t workspace_bytes) : impl_(std::make_unique<Impl>(workspace_bytes)) {}

MatmulRunner::~MatmulRunner() = default;

void MatmulRunner::run(const MatmulArgs& g, void* stream) {
  if (g.m <= 0 || g.n <= 0 || g.k <= 0) fail("GEMM with empty shape {}x{}x{}", g.m, g.n, g.k);
  if (g.bias && g.d_bf16) fail("GEMM: an f32 bias needs an f32 result");
  if (g.ab_f32 && g.d_bf16) fail("GEMM: f32 operands need an f32 result");
  if (g.bias16 && (!g.d_bf16 || g.bias)) fail("GEMM: a 16-bit bias needs a 16-bit result (and no f32 bias)");
  if (g.ab_f32 && g.f16) fail("GEMM: f32 and fp16 operands at once");
  auto& p = impl_->plan(g);
  if (g.bias || g.bias16) {
    const void* bias = g.bias ? static_cast<const void*>(g.bias) : g.bias16;
    check_lt(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias), "bias");
  }
  impl_->lt.matmul(p, 1.0f, g.b, g.a, g.accumulate ? 1.0f : 0.0f, g.d, stream);
}

}  // namespace jenga::cuda
