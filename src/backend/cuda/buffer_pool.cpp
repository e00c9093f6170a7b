#include "backend/cuda/buffer_pool.h"

namespace jenga::cuda {

std::shared_ptr<void> BufferPool::get(size_t bytes) {
  bytes = (bytes + 511) / 512 * 512;
  if (bytes == 0) bytes = 512;
  Tensor t;
  auto& list = state_->free[bytes];
  if (!list.empty()) {
    t = std::move(list.back());
    list.pop_back();
  } else {
    t = Tensor::empty(DType::U8, Shape{static_cast<int64_t>(bytes)}, Device::CUDA);
  }
  void* p = t.data();
  // The deleter holds the tensor (and the pool state, weakly: a buffer outliving its pool is
  // simply freed).
  std::weak_ptr<State> ws = state_;
  auto holder = std::make_shared<Tensor>(std::move(t));
  return std::shared_ptr<void>(p, [ws, holder, bytes](void*) mutable {
    if (auto s = ws.lock()) s->free[bytes].push_back(std::move(*holder));
  });
}

void BufferPool::trim() { state_->free.clear(); }

size_t BufferPool::cached_bytes() const {
  size_t n = 0;
  for (const auto& [bytes, list] : state_->free) n += bytes * list.size();
  return n;
}

}  // namespace jenga::cuda
