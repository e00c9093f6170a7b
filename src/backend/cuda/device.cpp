// Host side of the CUDA backend: device queries, allocation, copies, error text.
#include <cuda_runtime.h>

#include <algorithm>
#include <mutex>
#include <unordered_map>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "core/error.h"
#include "core/tensor.h"

namespace jenga::cuda {

// What to try when the GPU is full (the allocator's message and a failed CUDA call say the same).
constexpr const char* kOutOfMemoryHint =
    "try --offload (the DiT's blocks stream from host memory), a smaller size or fewer frames";

void raise_cuda_error(cudaError_t e, const char* expr, const char* file, int line) {
  throw Error(fmt::format("CUDA error {} ({}) in {} at {}:{}{}", cudaGetErrorName(e), cudaGetErrorString(e), expr,
                          file, line, e == cudaErrorMemoryAllocation ? fmt::format("; {}", kOutOfMemoryHint) : ""));
}

// A device present also means CUDA tensors can be made: the allocator is registered here too, so
// code (and a test run alone) that checks available() before allocating needs no separate init().
bool available() {
  int n = 0;
  const bool yes = cudaGetDeviceCount(&n) == cudaSuccess && n > 0 && unsupported_gpu().empty();
  if (yes) init();
  return yes;
}

std::string unsupported_gpu_reason(int device, const std::string& name, int major, int minor) {
  if (major >= 8) return "";
  return fmt::format("GPU {} ({}) has compute capability {}.{}; jenga.cpp's CUDA kernels need 8.0 or newer (A100, "
                     "RTX 30/40/50 series, L4/L40S, H100)", device, name, major, minor);
}

std::string no_gpu_reason() {
  std::string why = unsupported_gpu();
  return why.empty() ? "no CUDA device found" : why;
}

std::string unsupported_gpu() {
  int n = 0, dev = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n <= 0 || cudaGetDevice(&dev) != cudaSuccess) {
    cudaGetLastError();
    return "";
  }
  // Two attribute reads (cheap); the whole property struct, for the name, only for an old GPU.
  int major = 0, minor = 0;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) != cudaSuccess) {
    cudaGetLastError();
    return "";
  }
  if (unsupported_gpu_reason(dev, "", major, minor).empty()) return "";
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, dev) != cudaSuccess) cudaGetLastError();
  return unsupported_gpu_reason(dev, p.name, major, minor);
}

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
  return n;
}

void set_device(int device) { JENGA_CUDA_CHECK(cudaSetDevice(device)); }

int current_device() {
  int d = 0;
  JENGA_CUDA_CHECK(cudaGetDevice(&d));
  return d;
}

DeviceInfo device_info(int device) {
  cudaDeviceProp p{};
  JENGA_CUDA_CHECK(cudaGetDeviceProperties(&p, device));
  DeviceInfo d;
  d.name = p.name;
  d.major = p.major;
  d.minor = p.minor;
  d.sm_count = p.multiProcessorCount;
  d.total_memory = p.totalGlobalMem;
  d.shared_memory_per_block_optin = p.sharedMemPerBlockOptin;
  d.l2_bytes = static_cast<size_t>(p.l2CacheSize);
  return d;
}

namespace {
std::mutex g_mem_mutex;
std::unordered_map<void*, size_t> g_sizes;
MemoryStats g_stats;

void* device_alloc(size_t bytes) {
  void* p = nullptr;
  if (cudaMalloc(&p, bytes) != cudaSuccess) {
    cudaGetLastError();  // clear the error so later calls are not poisoned
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    fail("out of GPU memory: needed {} MiB, {} MiB free of {} MiB ({})", bytes >> 20, free_b >> 20, total_b >> 20,
         kOutOfMemoryHint);
  }
  std::lock_guard lock(g_mem_mutex);
  g_sizes[p] = bytes;
  g_stats.current += bytes;
  g_stats.peak = std::max(g_stats.peak, g_stats.current);
  return p;
}
void device_free(void* p) {
  {
    std::lock_guard lock(g_mem_mutex);
    auto it = g_sizes.find(p);
    if (it != g_sizes.end()) {
      g_stats.current -= it->second;
      g_sizes.erase(it);
    }
  }
  cudaFree(p);
}
}  // namespace

MemoryStats memory_stats() {
  std::lock_guard lock(g_mem_mutex);
  return g_stats;
}
void reset_peak_memory() {
  std::lock_guard lock(g_mem_mutex);
  g_stats.peak = g_stats.current;
}
size_t device_used_bytes() {
  size_t free_b = 0, total_b = 0;
  if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) return 0;
  return total_b - free_b;
}

void init() { register_device_allocator(Device::CUDA, {device_alloc, device_free}); }

void copy_to_device(void* dst, const void* src, size_t bytes) {
  JENGA_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}
void copy_to_host(void* dst, const void* src, size_t bytes) {
  JENGA_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}
void synchronize() { JENGA_CUDA_CHECK(cudaDeviceSynchronize()); }

}  // namespace jenga::cuda
