#pragma once
// The driver's cuTensorMapEncodeTiled (Hopper TMA descriptors), found once through the runtime's
// driver entry point so nothing links libcuda directly. Encoding is host-only work (a few
// microseconds, no GPU work, no allocation). Used by the attention kernels and the VAE's conv.
#include <cuda.h>
#include <cuda_runtime.h>

namespace jenga::cuda {

using TensorMapEncodeTiled = CUresult (*)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*, const cuuint64_t*,
                                          const cuuint64_t*, const cuuint32_t*, const cuuint32_t*,
                                          CUtensorMapInterleave, CUtensorMapSwizzle, CUtensorMapL2promotion,
                                          CUtensorMapFloatOOBfill);

// Null when the driver has no such entry point (then callers use a kernel without TMA).
inline TensorMapEncodeTiled tensor_map_encoder() {
  static const TensorMapEncodeTiled fn = [] {
    void* f = nullptr;
    cudaDriverEntryPointQueryResult q{};
#if CUDART_VERSION >= 12050
    const cudaError_t e = cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000, cudaEnableDefault, &q);
#else
    const cudaError_t e = cudaGetDriverEntryPoint("cuTensorMapEncodeTiled", &f, cudaEnableDefault, &q);
#endif
    if (e != cudaSuccess || q != cudaDriverEntryPointSuccess) return TensorMapEncodeTiled{nullptr};
    return reinterpret_cast<TensorMapEncodeTiled>(f);
  }();
  return fn;
}

}  // namespace jenga::cuda
