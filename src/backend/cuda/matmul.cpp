#include "backend/cuda/matmul.h"

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <fmt/format.h>

#include <compare>
#include <cstdint>

#include "backend/cuda/lt_plan.h"
#include "core/error.h"

namespace jenga::cuda {

namespace {
struct Key {
  int64_t m, n, k, lda, ldb, ldd;
  bool b_nk, d_bf16, d_f16, bias, ab_f32, ab_f16;
  uint32_t al_a, al_b, al_c;
  int64_t batch, stride_a, stride_b, stride_d;
  auto operator<=>(const Key&) const = default;
};

// The largest power of two (up to 256) dividing the address and, in a batch, every product's
// offset (stride_bytes apart): the heuristic otherwise assumes 256-byte aligned operands, and
// tiles of rows, q/k/v column slices or heads are not.
uint32_t alignment(const void* p, int64_t stride_bytes) {
  const auto a = reinterpret_cast<uintptr_t>(p) | static_cast<uintptr_t>(stride_bytes);
  uint32_t al = 256;
  while (al > 1 && a % al != 0) al >>= 1;
  return al;
}

cudaDataType_t ab_type(const MatmulArgs& g) { return g.ab_f32 ? CUDA_R_32F : g.ab_f16 ? CUDA_R_16F : CUDA_R_16BF; }
cudaDataType_t d_type(const MatmulArgs& g) { return g.d_bf16 ? CUDA_R_16BF : g.d_f16 ? CUDA_R_16F : CUDA_R_32F; }
int64_t ab_bytes(const MatmulArgs& g) { return g.ab_f32 ? 4 : 2; }
int64_t d_bytes(const MatmulArgs& g) { return g.d_bf16 || g.d_f16 ? 2 : 4; }

void set_batch(cublasLtMatrixLayout_t l, int64_t batch, int64_t stride) {
  const int32_t n = static_cast<int32_t>(batch);
  check_lt(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &n, sizeof n), "batch count");
  check_lt(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof stride),
           "batch stride");
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
    const bool batched = g.batch > 1;
    const LtAlignment al{alignment(g.b, batched ? g.stride_b * ab_bytes(g) : 0),
                         alignment(g.a, batched ? g.stride_a * ab_bytes(g) : 0),
                         alignment(g.d, batched ? g.stride_d * d_bytes(g) : 0)};
    const bool has_bias = g.bias != nullptr || g.bias16 != nullptr;
    const Key key{g.m,      g.n,      g.k,          g.lda,         g.ldb,    g.ldd,
                  g.b_nk,   g.d_bf16, g.d_f16,      has_bias,      g.ab_f32, g.ab_f16,
                  al.a,     al.b,     al.c,         g.batch,       batched ? g.stride_a : 0,
                  batched ? g.stride_b : 0, batched ? g.stride_d : 0};
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
      const cudaDataType_t ab = ab_type(g);
      if (g.b_nk)
        check_lt(cublasLtMatrixLayoutCreate(&p.a, ab, g.k, g.n, g.ldb), "layout a");
      else
        check_lt(cublasLtMatrixLayoutCreate(&p.a, ab, g.n, g.k, g.ldb), "layout a");
      check_lt(cublasLtMatrixLayoutCreate(&p.b, ab, g.k, g.m, g.lda), "layout b");
      check_lt(cublasLtMatrixLayoutCreate(&p.c, d_type(g), g.n, g.m, g.ldd), "layout c");
      if (batched) {
        set_batch(p.a, g.batch, g.stride_b);
        set_batch(p.b, g.batch, g.stride_a);
        set_batch(p.c, g.batch, g.stride_d);
      }
      lt.choose_algo(p, al,
                     fmt::format("a {}x{}x{} {} GEMM (lda {}, ldb {}, ldd {}, batch {})", g.m, g.n, g.k,
                                 g.ab_f32 ? "f32" : g.ab_f16 ? "fp16" : "bf16", g.lda, g.ldb, g.ldd, g.batch)
                         .c_str());
    });
  }
};

MatmulRunner::MatmulRunner(size_t workspace_bytes) : impl_(std::make_unique<Impl>(workspace_bytes)) {}

MatmulRunner::~MatmulRunner() = default;

void MatmulRunner::run(const MatmulArgs& g, void* stream) {
  if (g.m <= 0 || g.n <= 0 || g.k <= 0) fail("GEMM with empty shape {}x{}x{}", g.m, g.n, g.k);
  if (g.bias && (g.d_bf16 || g.d_f16)) fail("GEMM: an f32 bias needs an f32 result");
  if (g.ab_f32 && (g.d_bf16 || g.d_f16)) fail("GEMM: f32 operands need an f32 result");
  if (g.ab_f32 && g.ab_f16) fail("GEMM: operands are f32 or fp16, not both");
  if (g.d_f16 && !g.ab_f16) fail("GEMM: an fp16 result needs fp16 operands");
  if (g.d_bf16 && g.ab_f16) fail("GEMM: fp16 operands give an f32 or fp16 result, not bf16");
  if (g.batch < 1 || g.batch > INT32_MAX) fail("GEMM: batch {} must be in 1..2^31-1", g.batch);
  if (g.bias16 && (!(g.d_bf16 || g.d_f16) || g.bias)) fail("GEMM: a 16-bit bias needs a 16-bit result (and no f32 bias)");
  auto& p = impl_->plan(g);
  if (g.bias || g.bias16) {
    const void* bias = g.bias ? static_cast<const void*>(g.bias) : g.bias16;
    check_lt(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias), "bias");
  }
  impl_->lt.matmul(p, 1.0f, g.b, g.a, g.accumulate ? 1.0f : 0.0f, g.d, stream);
}

}  // namespace jenga::cuda
