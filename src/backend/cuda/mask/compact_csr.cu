// CSR compaction of a u8 block mask: offsets by a device-wide prefix sum of the row counts,
// then one CTA per row writes its kept indices in ascending order (block scans over 256-wide
// chunks of the row).
#include <cub/block/block_scan.cuh>
#include <cub/device/device_scan.cuh>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/mask/kernels.h"

namespace jenga::cuda::mask {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads) compact_kernel(const uint8_t* mask, int k_blocks,
                                                           const int32_t* offsets, int32_t* indices) {
  using Scan = cub::BlockScan<int, kThreads>;
  __shared__ typename Scan::TempStorage tmp;
  const int64_t row = blockIdx.x;
  const uint8_t* m = mask + row * k_blocks;
  int32_t* out = indices + offsets[row];
  int base = 0;
  for (int c0 = 0; c0 < k_blocks; c0 += kThreads) {
    const int c = c0 + threadIdx.x;
    const int flag = c < k_blocks && m[c] ? 1 : 0;
    int pos, total;
    Scan(tmp).ExclusiveSum(flag, pos, total);
    if (flag) out[base + pos] = c;
    base += total;
    __syncthreads();  // tmp is reused by the next chunk
  }
}

__global__ void tally_kernel(const int32_t* offsets, int rows, unsigned long long* total) {
  *total += static_cast<unsigned long long>(offsets[rows]);
}

__global__ void key_block_bias_kernel(float* bias, int heads, int k_blocks, int first_biased, float value) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= heads * k_blocks) return;
  bias[i] = i % k_blocks >= first_biased ? value : 0.0f;
}

}  // namespace

void launch_key_block_bias(float* bias, int heads, int k_blocks, int first_biased, float value, cudaStream_t s) {
  const int n = heads * k_blocks;
  key_block_bias_kernel<<<(n + 255) / 256, 256, 0, s>>>(bias, heads, k_blocks, first_biased, value);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void launch_tally_kept(const int32_t* offsets, int rows, unsigned long long* total, cudaStream_t s) {
  tally_kernel<<<1, 1, 0, s>>>(offsets, rows, total);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

size_t scan_workspace_bytes(int rows) {
  size_t bytes = 0;
  JENGA_CUDA_CHECK(cub::DeviceScan::InclusiveSum(nullptr, bytes, static_cast<const int32_t*>(nullptr),
                                                 static_cast<int32_t*>(nullptr), rows));
  return bytes;
}

void launch_compact_csr(const uint8_t* mask, const int32_t* counts, int rows, int k_blocks, void* ws,
                        size_t ws_bytes, int32_t* offsets, int32_t* indices, cudaStream_t s) {
  JENGA_CUDA_CHECK(cudaMemsetAsync(offsets, 0, sizeof(int32_t), s));
  size_t bytes = ws_bytes;
  JENGA_CUDA_CHECK(cub::DeviceScan::InclusiveSum(ws, bytes, counts, offsets + 1, rows, s));
  compact_kernel<<<rows, kThreads, 0, s>>>(mask, k_blocks, offsets, indices);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda::mask
