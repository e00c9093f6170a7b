#pragma once
// Bump allocator for activations: sized once up front, reset per forward, so the step loop
// never calls malloc/cudaMalloc. Mark/rewind gives scoped scratch space.
#include <cstddef>
#include <memory>

#include "core/tensor.h"

namespace jenga {

class Arena {
 public:
  Arena(size_t capacity_bytes, Device device);

  void* allocate(size_t bytes, size_t alignment = 256);  // throws jenga::Error when full
  Tensor tensor(DType dtype, Shape shape);                // a tensor backed by the arena

  size_t mark() const { return offset_; }
  void rewind(size_t mark);  // frees everything allocated after mark
  void reset() { rewind(0); }

  size_t capacity() const { return capacity_; }
  size_t used() const { return offset_; }
  size_t high_water() const { return high_water_; }
  Device device() const { return device_; }

 private:
  std::shared_ptr<Buffer> buffer_;
  size_t capacity_;
  size_t offset_ = 0;
  size_t high_water_ = 0;
  Device device_;
};

}  // namespace jenga
