// Host arrays onto the device, the way every model's CUDA weights are uploaded once at load.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/tensor.h"

namespace jenga::cuda {

// An uninitialised device tensor of n elements: [n].
Tensor device_empty(DType dt, int64_t n);

// A host f32 array on the device as `dt`: f32 is copied, bf16/f16 are rounded on the host first
// (GEMM operands in bf16, norm weights and tables in f32).
Tensor upload(const float* host, int64_t n, DType dt);

}  // namespace jenga::cuda
