#pragma once
// CUDA error checks that add file:line and throw jenga::Error. Safe in .cu files (no fmt).
#include <cuda_runtime.h>

#include "core/error_types.h"

namespace jenga::cuda {
[[noreturn]] void raise_cuda_error(cudaError_t e, const char* expr, const char* file, int line);
}

#define JENGA_CUDA_CHECK(expr)                                                   \
  do {                                                                           \
    const cudaError_t _jenga_e = (expr);                                         \
    if (_jenga_e != cudaSuccess)                                                 \
      ::jenga::cuda::raise_cuda_error(_jenga_e, #expr, __FILE__, __LINE__);      \
  } while (0)
