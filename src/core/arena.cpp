#include "core/arena.h"

#include "core/error.h"

namespace jenga {

Arena::Arena(size_t capacity_bytes, Device device)
    : buffer_(Buffer::allocate(capacity_bytes, device)), capacity_(capacity_bytes), device_(device) {}

void* Arena::allocate(size_t bytes, size_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0)
    fail("arena: alignment {} is not a power of two", alignment);
  const size_t start = (offset_ + alignment - 1) & ~(alignment - 1);
  if (start > capacity_ || bytes > capacity_ - start)
    fail("activation arena exhausted: {} bytes requested with {} of {} bytes in use "
         "(the arena size estimate is too small; please report with your settings)",
         bytes, offset_, capacity_);
  offset_ = start + bytes;
  if (offset_ > high_water_) high_water_ = offset_;
  return static_cast<char*>(buffer_->data()) + start;
}

Tensor Arena::tensor(DType dtype, Shape shape) {
  const size_t bytes = static_cast<size_t>(shape.numel()) * dtype_size(dtype);
  return Tensor(dtype, shape, device_, allocate(bytes), buffer_);
}

void Arena::rewind(size_t m) {
  if (m > offset_) fail("arena: rewind to {} past the current offset {}", m, offset_);
  offset_ = m;
}

}  // namespace jenga
