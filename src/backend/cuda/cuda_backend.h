#pragma once
// Host-side entry points of the CUDA backend, usable from plain C++ (no CUDA headers).
#include <cstddef>
#include <cstdint>
#include <string>

namespace jenga::cuda {

// True when the library was built with CUDA and a usable GPU is present: compute capability 8.0
// or newer (the kernels use bf16 tensor cores, cp.async and ldmatrix). Never throws.
bool available();
// Why the current GPU is present but not used ("GPU 0 (Tesla T4) has compute capability 7.5; ..."),
// or "" when it is usable or there is none. For the messages of --device cuda / auto.
std::string unsupported_gpu();
// What to say when available() is false: unsupported_gpu(), else "no CUDA device found".
std::string no_gpu_reason();
// The rule behind both: empty when compute capability major.minor can run the kernels.
std::string unsupported_gpu_reason(int device, const std::string& name, int major, int minor);
int device_count();
struct DeviceInfo {
  std::string name;
  int major = 0, minor = 0;
  int sm_count = 0;
  size_t total_memory = 0;
  size_t shared_memory_per_block_optin = 0;
  size_t l2_bytes = 0;
};
DeviceInfo device_info(int device = 0);
// Makes `device` current for this host thread (one process per GPU under mpirun).
void set_device(int device);
// The device current for this host thread.
int current_device();
// Registers cudaMalloc/cudaFree as the allocator for Device::CUDA tensors (idempotent).
void init();

// Bytes held through the Device::CUDA tensor allocator: now and the peak since start/reset.
struct MemoryStats {
  size_t current = 0, peak = 0;
};
MemoryStats memory_stats();
void reset_peak_memory();
// Bytes in use on the device as the driver sees it (all allocations, context included).
size_t device_used_bytes();

// Elementwise smoke kernel: dst[i] = bf16(src[i]) with round-to-nearest-even; device pointers.
void convert_f32_to_bf16(const float* src, uint16_t* dst, size_t n);
void copy_to_device(void* dst, const void* src, size_t bytes);
void copy_to_host(void* dst, const void* src, size_t bytes);
void synchronize();

}  // namespace jenga::cuda
