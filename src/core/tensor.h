#pragma once
// Tensor: a plain value type {dtype, shape (<= 5 dims), contiguous row-major strides, data,
// device, owning buffer}. No autograd, no views with custom strides: ops take contiguous data.
#include <array>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace jenga {

enum class Device : uint8_t { CPU, CUDA };
std::string_view device_name(Device d);

constexpr int kMaxDims = 5;

struct Shape {
  std::array<int64_t, kMaxDims> dims{};
  int ndim = 0;

  Shape() = default;
  Shape(std::initializer_list<int64_t> d);
  explicit Shape(std::span<const int64_t> d);

  int64_t operator[](int i) const;  // negative i counts from the end
  int64_t numel() const;
  bool operator==(const Shape& o) const;
  std::string str() const;  // "[2, 3, 4]"
};

// A block of memory and how to free it. CPU buffers are malloc'ed or borrow an mmap.
class Buffer {
 public:
  Buffer(void* data, size_t bytes, Device device, std::function<void(void*)> deleter);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

  static std::shared_ptr<Buffer> allocate(size_t bytes, Device device);

 private:
  void* data_;
  size_t bytes_;
  Device device_;
  std::function<void(void*)> deleter_;
};

// The CUDA backend registers its allocator here so core never links CUDA.
struct DeviceAllocator {
  void* (*alloc)(size_t bytes) = nullptr;  // throws jenga::Error on failure
  void (*free)(void* ptr) = nullptr;
};
void register_device_allocator(Device device, DeviceAllocator a);

class Tensor {
 public:
  Tensor() = default;
  Tensor(DType dtype, Shape shape, Device device, void* data, std::shared_ptr<Buffer> owner);

  static Tensor empty(DType dtype, Shape shape, Device device = Device::CPU);
  static Tensor zeros(DType dtype, Shape shape);  // CPU
  // Copies f32 values into a new CPU tensor of the given dtype (converting).
  static Tensor from_f32(std::span<const float> values, Shape shape, DType dtype = DType::F32);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return shape_.ndim; }
  int64_t dim(int i) const { return shape_[i]; }
  int64_t numel() const { return shape_.numel(); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  Device device() const { return device_; }
  // Presence: a default Tensor has no dims, so its numel() is 1 (a scalar's count), not 0; an
  // optional weight (a missing bias, a table not kept) is tested with defined(), never numel().
  bool defined() const { return data_ != nullptr || numel() == 0; }
  std::array<int64_t, kMaxDims> strides() const;  // in elements

  void* data() { return data_; }
  const void* data() const { return data_; }
  template <typename T> T* data_as() { return static_cast<T*>(data_); }
  template <typename T> const T* data_as() const { return static_cast<const T*>(data_); }

  // Same data, new shape with the same element count (one dim may be -1).
  Tensor reshape(std::initializer_list<int64_t> dims) const;
  // A CPU copy in another dtype (or the same).
  Tensor to(DType dtype) const;
  std::vector<float> to_f32_vector() const;  // CPU tensors only

 private:
  DType dtype_ = DType::F32;
  Shape shape_;
  Device device_ = Device::CPU;
  void* data_ = nullptr;
  std::shared_ptr<Buffer> owner_;
};

}  // namespace jenga
