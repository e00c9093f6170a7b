#include "backend/cuda/lt_plan.h"

#include <cuda_runtime.h>

#include "backend/cuda/cuda_check.h"
#include "core/error.h"

namespace jenga::cuda {

void check_lt(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) fail("cuBLASLt {} failed with status {}", what, static_cast<int>(s));
}

LtContext::LtContext(size_t bytes) : workspace_bytes(bytes) {
  check_lt(cublasLtCreate(&handle), "create");
  if (bytes) JENGA_CUDA_CHECK(cudaMalloc(&workspace, bytes));
}

LtContext::~LtContext() {
  if (workspace) cudaFree(workspace);
  if (handle) cublasLtDestroy(handle);
}

void LtContext::choose_algo(LtPlan& p, const LtAlignment& al, const char* what) const {
  cublasLtMatmulPreference_t pref;
  check_lt(cublasLtMatmulPreferenceCreate(&pref), "preference");
  check_lt(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes,
                                                sizeof workspace_bytes),
           "workspace");
  for (auto [attr, v] : {std::pair{CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, al.a},
                         std::pair{CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, al.b},
                         std::pair{CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, al.c},
                         std::pair{CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, al.c}})
    check_lt(cublasLtMatmulPreferenceSetAttribute(pref, attr, &v, sizeof v), "alignment");
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  const cublasStatus_t hs = cublasLtMatmulAlgoGetHeuristic(handle, p.op, p.a, p.b, p.c, p.c, pref, 1, &result, &found);
  cublasLtMatmulPreferenceDestroy(pref);
  if (hs != CUBLAS_STATUS_SUCCESS || found == 0) fail("cuBLASLt has no algorithm for {}", what);
  p.algo = result.algo;
}

void LtContext::matmul(const LtPlan& p, float alpha, const void* a, const void* b, float beta, void* d,
                       void* stream) const {
  check_lt(cublasLtMatmul(handle, p.op, &alpha, a, p.a, b, p.b, &beta, d, p.c, d, p.c, &p.algo, workspace,
                          workspace_bytes, static_cast<cudaStream_t>(stream)),
           "matmul");
}

}  // namespace jenga::cuda
