#include "core/tensor.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "core/error.h"

namespace jenga {

std::string_view device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

Shape::Shape(std::initializer_list<int64_t> d) : Shape(std::span<const int64_t>(d.begin(), d.size())) {}

Shape::Shape(std::span<const int64_t> d) {
  if (d.size() > kMaxDims)
    fail("tensor has {} dimensions; jenga supports at most {}", d.size(), kMaxDims);
  for (size_t i = 0; i < d.size(); ++i) {
    if (d[i] < 0) fail("negative dimension {} in a tensor shape", d[i]);
    dims[i] = d[i];
  }
  ndim = static_cast<int>(d.size());
}

int64_t Shape::operator[](int i) const {
  if (i < 0) i += ndim;
  JENGA_ASSERT(i >= 0 && i < ndim);
  return dims[i];
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < ndim; ++i) n *= dims[i];
  return n;
}

bool Shape::operator==(const Shape& o) const {
  if (ndim != o.ndim) return false;
  for (int i = 0; i < ndim; ++i)
    if (dims[i] != o.dims[i]) return false;
  return true;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < ndim; ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

namespace {
std::mutex g_alloc_mutex;
DeviceAllocator g_cuda_alloc;
}  // namespace

void register_device_allocator(Device device, DeviceAllocator a) {
  JENGA_ASSERT(device == Device::CUDA);
  std::lock_guard lock(g_alloc_mutex);
  g_cuda_alloc = a;
}

Buffer::Buffer(void* data, size_t bytes, Device device, std::function<void(void*)> deleter)
    : data_(data), bytes_(bytes), device_(device), deleter_(std::move(deleter)) {}

Buffer::~Buffer() {
  if (deleter_ && data_) deleter_(data_);
}

std::shared_ptr<Buffer> Buffer::allocate(size_t bytes, Device device) {
  const size_t n = bytes ? bytes : 1;
  if (device == Device::CPU) {
    // 256-byte alignment, as cudaMalloc gives, so arena offsets align the same on both.
    void* p = std::aligned_alloc(256, (n + 255) / 256 * 256);
    if (!p) fail("out of host memory: could not allocate {} MiB", bytes >> 20);
    return std::make_shared<Buffer>(p, bytes, device, [](void* q) { std::free(q); });
  }
  DeviceAllocator a;
  {
    std::lock_guard lock(g_alloc_mutex);
    a = g_cuda_alloc;
  }
  if (!a.alloc) fail("a CUDA tensor was requested but this jenga was built without CUDA");
  void* p = a.alloc(n);
  return std::make_shared<Buffer>(p, bytes, device, a.free);
}

Tensor::Tensor(DType dtype, Shape shape, Device device, void* data, std::shared_ptr<Buffer> owner)
    : dtype_(dtype), shape_(shape), device_(device), data_(data), owner_(std::move(owner)) {}

Tensor Tensor::empty(DType dtype, Shape shape, Device device) {
  const size_t bytes = static_cast<size_t>(shape.numel()) * dtype_size(dtype);
  auto buf = Buffer::allocate(bytes, device);
  void* p = buf->data();
  return Tensor(dtype, shape, device, p, std::move(buf));
}

Tensor Tensor::zeros(DType dtype, Shape shape) {
  Tensor t = empty(dtype, shape, Device::CPU);
  std::memset(t.data(), 0, t.nbytes());
  return t;
}

Tensor Tensor::from_f32(std::span<const float> values, Shape shape, DType dtype) {
  if (static_cast<int64_t>(values.size()) != shape.numel())
    fail("from_f32: {} values do not fill shape {}", values.size(), shape.str());
  Tensor t = empty(dtype, shape, Device::CPU);
  convert(values.data(), DType::F32, t.data(), dtype, values.size());
  return t;
}

std::array<int64_t, kMaxDims> Tensor::strides() const {
  std::array<int64_t, kMaxDims> s{};
  int64_t acc = 1;
  for (int i = shape_.ndim - 1; i >= 0; --i) {
    s[i] = acc;
    acc *= shape_.dims[i];
  }
  return s;
}

Tensor Tensor::reshape(std::initializer_list<int64_t> dims) const {
  std::vector<int64_t> d(dims);
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < d.size(); ++i) {
    if (d[i] == -1) {
      if (infer >= 0) fail("reshape: more than one -1 in {}", Shape(std::span<const int64_t>(d)).str());
      infer = static_cast<int>(i);
    } else {
      known *= d[i];
    }
  }
  if (infer >= 0) d[infer] = known ? numel() / known : 0;
  Shape s{std::span<const int64_t>(d)};
  if (s.numel() != numel()) fail("reshape: cannot view {} as {}", shape_.str(), s.str());
  return Tensor(dtype_, s, device_, data_, owner_);
}

Tensor Tensor::to(DType dtype) const {
  if (device_ != Device::CPU) fail("Tensor::to: only CPU tensors convert on the host");
  Tensor t = empty(dtype, shape_, Device::CPU);
  convert(data_, dtype_, t.data(), dtype, static_cast<size_t>(numel()));
  return t;
}

std::vector<float> Tensor::to_f32_vector() const {
  if (device_ != Device::CPU) fail("to_f32_vector: tensor is on {}", device_name(device_));
  std::vector<float> v(static_cast<size_t>(numel()));
  convert(data_, dtype_, v.data(), DType::F32, v.size());
  return v;
}

}  // namespace jenga
