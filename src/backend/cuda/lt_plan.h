#pragma once
// What GemmRunner and MatmulRunner share: one cuBLASLt handle with its workspace (allocated once,
// never per call), and plans (descriptors + the heuristic's algorithm) cached per shape key.
#include <cublasLt.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <utility>

namespace jenga::cuda {

void check_lt(cublasStatus_t s, const char* what);

struct LtPlan {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
};

// Operand alignments the heuristic may assume (it assumes 256 bytes unless told).
struct LtAlignment {
  uint32_t a = 256, b = 256, c = 256;
};

class LtContext {
 public:
  explicit LtContext(size_t workspace_bytes);
  ~LtContext();
  LtContext(const LtContext&) = delete;
  LtContext& operator=(const LtContext&) = delete;

  // Picks the heuristic's first algorithm for p (op and layouts set); fails with `what` in the
  // message when cuBLASLt has none.
  void choose_algo(LtPlan& p, const LtAlignment& al, const char* what) const;
  // y = alpha op(A) op(B) + beta C with C = D = d (cuBLAS's column-major view).
  void matmul(const LtPlan& p, float alpha, const void* a, const void* b, float beta, void* d, void* stream) const;

  cublasLtHandle_t handle = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
};

// Plans by key, destroyed with the cache.
template <class Key>
class LtPlanCache {
 public:
  LtPlanCache() = default;
  LtPlanCache(const LtPlanCache&) = delete;
  LtPlanCache& operator=(const LtPlanCache&) = delete;
  ~LtPlanCache() {
    for (auto& [k, p] : plans_) {
      cublasLtMatrixLayoutDestroy(p.a);
      cublasLtMatrixLayoutDestroy(p.b);
      cublasLtMatrixLayoutDestroy(p.c);
      cublasLtMatmulDescDestroy(p.op);
    }
  }
  // The cached plan for key, or make(plan) fills a new one.
  template <class Make>
  LtPlan& get(const Key& key, Make&& make) {
    auto it = plans_.find(key);
    if (it != plans_.end()) return it->second;
    LtPlan p;
    make(p);
    return plans_.emplace(key, p).first->second;
  }

 private:
  std::map<Key, LtPlan> plans_;
};

}  // namespace jenga::cuda
