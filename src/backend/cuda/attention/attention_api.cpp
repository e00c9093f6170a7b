// Host side of attention_forward: argument checks (before any launch), then the fastest kernel
// for the GPU and head dim. Nothing here allocates or synchronises.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include <cuda_runtime.h>

#include "backend/cuda/attention.h"
#include "backend/cuda/attention/dispatch.h"
#include "core/error.h"

namespace jenga::cuda {

void AttentionParams::set_blhd_strides() {
  const int64_t D = head_dim, H = heads;
  q_row_stride = H * D, q_head_stride = D, q_batch_stride = int64_t{q_len} * H * D;
  k_row_stride = H * D, k_head_stride = D, k_batch_stride = int64_t{k_len} * H * D;
  v_row_stride = k_row_stride, v_head_stride = k_head_stride, v_batch_stride = k_batch_stride;
  out_row_stride = q_row_stride, out_head_stride = q_head_stride, out_batch_stride = q_batch_stride;
}

void AttentionParams::set_bhld_strides() {
  const int64_t D = head_dim, H = heads;
  q_row_stride = D, q_head_stride = int64_t{q_len} * D, q_batch_stride = H * q_len * D;
  k_row_stride = D, k_head_stride = int64_t{k_len} * D, k_batch_stride = H * k_len * D;
  v_row_stride = k_row_stride, v_head_stride = k_head_stride, v_batch_stride = k_batch_stride;
  out_row_stride = q_row_stride, out_head_stride = q_head_stride, out_batch_stride = q_batch_stride;
}

namespace {
// An attribute of the current device, looked up once per device and attribute (no sync); 0 when
// the query fails.
template <cudaDeviceAttr kAttr>
int device_attribute() {
  static int value[64] = {};
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= 64) return 0;
  if (value[dev] == 0 && cudaDeviceGetAttribute(&value[dev], kAttr, dev) != cudaSuccess) value[dev] = 0;
  return value[dev];
}

[[maybe_unused]] bool device_is_sm90() { return device_attribute<cudaDevAttrComputeCapabilityMajor>() == 9; }

// Shared memory one block of the current device may opt in to.
size_t device_smem_optin() {
  return static_cast<size_t>(device_attribute<cudaDevAttrMaxSharedMemoryPerBlockOptin>());
}

void check_operand(const char* name, const void* ptr, int64_t sb, int64_t sh, int64_t sr) {
  if (ptr == nullptr) usage_fail("attention: {} is a null pointer", name);
  if (reinterpret_cast<uintptr_t>(ptr) % 16 != 0)
    usage_fail("attention: {} must be 16-byte aligned (rows are read 16 bytes at a time)", name);
  if (sb % 8 != 0 || sh % 8 != 0 || sr % 8 != 0 || sb < 0 || sh < 0 || sr <= 0)
    usage_fail("attention: {} strides ({}, {}, {}) must be non-negative multiples of 8 elements "
               "with a positive row stride", name, sb, sh, sr);
}
}  // namespace

void attention_forward(const AttentionParams& p, void* stream) {
  if (p.head_dim != 64 && p.head_dim != 128)
    usage_fail("attention: head dim {} is not supported (64 or 128)", p.head_dim);
  if (p.batch <= 0 || p.heads <= 0 || p.q_len < 0 || p.k_len <= 0)
    usage_fail("attention: bad sizes batch {} heads {} q_len {} k_len {} (need positive batch, "
               "heads, k_len)", p.batch, p.heads, p.q_len, p.k_len);
  if (p.batch > 65535 || p.heads > 65535)
    usage_fail("attention: batch {} / heads {} exceed the grid limit 65535", p.batch, p.heads);
  if (!(p.scale > 0.0f) || !std::isfinite(p.scale))
    usage_fail("attention: softmax scale {} must be positive and finite", p.scale);
  if ((p.block_offsets == nullptr) != (p.block_indices == nullptr))
    usage_fail("attention: give both block_offsets and block_indices, or neither (dense)");
  check_operand("q", p.q, p.q_batch_stride, p.q_head_stride, p.q_row_stride);
  check_operand("k", p.k, p.k_batch_stride, p.k_head_stride, p.k_row_stride);
  check_operand("v", p.v, p.v_batch_stride, p.v_head_stride, p.v_row_stride);
  check_operand("out", p.out, p.out_batch_stride, p.out_head_stride, p.out_row_stride);
  if (p.path < 0 || p.path > AttentionParams::kMaxPath)
    usage_fail("attention: path {} must be 0 (default), 1 (mma.sync) or 2 (mma.sync, 64-key tiles); the other "
               "kernels are experiments in the kernel lab (bench/kernels/attention)", p.path);
  if (p.q_len == 0) return;
  // Default on sm_90 (built for sm_90a): the warp-specialised TMA kernel (docs/BENCHMARKS.md
  // "GPU: attention"), checked by the same tests, memcheck and racecheck; strides a tensor map
  // cannot express fall back to the mma.sync kernel, as does every other GPU (with 64-key tiles
  // where the GPU grants a block less shared memory than the 128-key tiles need).
#if JENGA_HAVE_SM90A
  if (p.path == 0 && device_is_sm90() &&
      (p.head_dim == 128 ? attn::launch_hdim128_ws(p, stream) : attn::launch_hdim64_ws(p, stream)))
    return;
#endif
  const bool k64 = attn::mma_key_tile(p.head_dim, p.path, device_smem_optin()) == 64;
  if (p.head_dim == 64)
    k64 ? attn::launch_hdim64_k64(p, stream) : attn::launch_hdim64(p, stream);
  else
    k64 ? attn::launch_hdim128_k64(p, stream) : attn::launch_hdim128(p, stream);
}

double attention_flops(int batch, int heads, int q_len, int k_len, int head_dim,
                       const int32_t* offsets, const int32_t* indices) {
  const int64_t qb = (q_len + 127) / 128;
  double total = 0;
  for (int64_t r = 0; r < int64_t{batch} * heads * qb; ++r) {
    const int64_t i = r % qb;
    const double rows = static_cast<double>(std::min<int64_t>(128, q_len - i * 128));
    double keys = 0;
    if (offsets == nullptr) {
      keys = k_len;
    } else {
      for (int32_t e = offsets[r]; e < offsets[r + 1]; ++e)
        keys += static_cast<double>(std::min<int64_t>(128, k_len - int64_t{indices[e]} * 128));
    }
    total += rows * keys;
  }
  return 4.0 * head_dim * total;
}

}  // namespace jenga::cuda
