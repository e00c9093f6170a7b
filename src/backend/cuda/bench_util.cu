// Device-side random fill and event timing for benchmarks.
#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>

#include "backend/cuda/bench_util.h"
#include "backend/cuda/cuda_check.h"
#include "core/rng.h"

namespace jenga::cuda {
namespace {
__global__ void normal_bf16_kernel(__nv_bfloat16* dst, size_t n, uint64_t seed, float stddev) {
  // Each counter gives 4 words -> 2 Box-Muller pairs -> 4 normals.
  for (size_t c = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; c * 4 < n;
       c += static_cast<size_t>(gridDim.x) * blockDim.x) {
    uint32_t w[4];
    philox_words(seed, c, w);
    float z[4];
    for (int k = 0; k < 2; ++k) {
      const float r = sqrtf(-2.f * logf(u32_to_unit(w[2 * k])));
      float s, co;
      sincospif(2.f * u32_to_unit(w[2 * k + 1]), &s, &co);
      z[2 * k] = r * co, z[2 * k + 1] = r * s;
    }
    for (int k = 0; k < 4 && c * 4 + k < n; ++k) dst[c * 4 + k] = __float2bfloat16_rn(stddev * z[k]);
  }
}
}  // namespace

void fill_normal_bf16(uint16_t* dst, size_t n, uint64_t seed, float stddev, void* stream) {
  if (n == 0) return;
  const int threads = 256;
  const int blocks = static_cast<int>(std::min<size_t>((n / 4 + threads) / threads, 65535));
  normal_bf16_kernel<<<blocks, threads, 0, static_cast<cudaStream_t>(stream)>>>(
      reinterpret_cast<__nv_bfloat16*>(dst), n, seed, stddev);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

GpuTimer::GpuTimer() {
  cudaEvent_t a, b;
  JENGA_CUDA_CHECK(cudaEventCreate(&a));
  JENGA_CUDA_CHECK(cudaEventCreate(&b));
  start_ = a, stop_ = b;
}
GpuTimer::~GpuTimer() {
  cudaEventDestroy(static_cast<cudaEvent_t>(start_));
  cudaEventDestroy(static_cast<cudaEvent_t>(stop_));
}
void GpuTimer::start(void* stream) {
  JENGA_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(start_), static_cast<cudaStream_t>(stream)));
}
float GpuTimer::stop_ms(void* stream) {
  JENGA_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(stop_), static_cast<cudaStream_t>(stream)));
  JENGA_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(stop_)));
  float ms = 0;
  JENGA_CUDA_CHECK(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start_), static_cast<cudaEvent_t>(stop_)));
  return ms;
}

std::vector<float> time_sorted_ms(int warmup, int iters, const std::function<void()>& f) {
  for (int i = 0; i < warmup; ++i) f();
  JENGA_CUDA_CHECK(cudaDeviceSynchronize());
  GpuTimer timer;
  std::vector<float> ms;
  for (int i = 0; i < iters; ++i) {
    timer.start();
    f();
    ms.push_back(timer.stop_ms());
  }
  std::sort(ms.begin(), ms.end());
  return ms;
}

}  // namespace jenga::cuda
