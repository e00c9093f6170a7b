#include "backend/cuda/device_upload.h"

#include <vector>

#include "backend/cuda/cuda_backend.h"

namespace jenga::cuda {

Tensor device_empty(DType dt, int64_t n) { return Tensor::empty(dt, Shape{n}, Device::CUDA); }

Tensor upload(const float* host, int64_t n, DType dt) {
  Tensor d = device_empty(dt, n);
  if (dt == DType::F32) {
    copy_to_device(d.data(), host, static_cast<size_t>(n) * 4);
  } else {
    std::vector<uint16_t> tmp(static_cast<size_t>(n));
    convert(host, DType::F32, tmp.data(), dt, static_cast<size_t>(n));
    copy_to_device(d.data(), tmp.data(), tmp.size() * 2);
  }
  return d;
}

}  // namespace jenga::cuda
