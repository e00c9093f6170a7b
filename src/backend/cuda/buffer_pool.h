#pragma once
// A caching pool of device buffers keyed by exact size (as PyTorch's caching allocator, minus
// splitting): a streamed decoder asks for the same shapes chunk after chunk, so after the first
// chunks no cudaMalloc/cudaFree happens. Buffers come from the Device::CUDA tensor allocator, so
// cuda::memory_stats() counts them. All work that touches pool buffers must run on one stream:
// a buffer returned to the pool may be handed out again before earlier kernels on it have run,
// which stream order makes safe.
#include <cstddef>
#include <map>
#include <memory>
#include <vector>

#include "core/tensor.h"

namespace jenga::cuda {

class BufferPool {
 public:
  BufferPool() = default;
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A device buffer of at least `bytes` (rounded up to 512 B); back in the pool when the last
  // copy of the returned pointer goes.
  std::shared_ptr<void> get(size_t bytes);
  // Frees the cached (unused) buffers, e.g. after shapes change.
  void trim();
  size_t cached_bytes() const;

 private:
  struct State {
    std::map<size_t, std::vector<Tensor>> free;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace jenga::cuda
