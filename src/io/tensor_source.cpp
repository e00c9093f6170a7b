#include "io/tensor_source.h"

#include "core/error.h"

namespace jenga {

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const TensorInfo& TensorSource::info(const std::string& name) const {
  const TensorInfo* t = find(name);
  if (!t) fail("{}: has no tensor '{}'", path(), name);
  return *t;
}

Tensor TensorSource::load(const std::string& name, std::optional<DType> want) const {
  const TensorInfo& t = info(name);
  if (!t.dtype)
    fail("{}: tensor '{}' has dtype {}, which jenga does not load (convert the checkpoint to "
         "f32/bf16/f16/fp8)", path(), name, t.dtype_name);
  if (t.shape.size() > kMaxDims)
    fail("{}: tensor '{}' has {} dimensions; jenga supports at most {}", path(), name, t.shape.size(), kMaxDims);
  const Shape shape{std::span<const int64_t>(t.shape)};
  const DType dst = want.value_or(*t.dtype);
  const TensorBytes b = bytes(t);
  const auto addr = reinterpret_cast<uintptr_t>(b.bytes.data());
  if (dst == *t.dtype && addr % dtype_size(dst) == 0)
    return Tensor(dst, shape, Device::CPU, const_cast<uint8_t*>(b.bytes.data()), b.owner);
  Tensor out = Tensor::empty(dst, shape, Device::CPU);
  convert(b.bytes.data(), *t.dtype, out.data(), dst, static_cast<size_t>(t.numel()));
  return out;
}

}  // namespace jenga
