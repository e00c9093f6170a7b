#pragma once
// Hopper (sm_90a) forward kernel: the same CTA work as kernel.cuh (128 query rows, 128-key
// tiles, dense or CSR, bias, ragged masking), but the two GEMMs run as warpgroup MMAs (wgmma):
// two warpgroups of 64 query rows each; S = Q K^T with both operands in shared memory, O += P V
// with P from registers. Tiles are stored 128B-swizzled (two 64-column halves of 128-byte rows)
// as wgmma's descriptors expect, filled by cp.async double buffering.
// Lab version 2 (was path 2): the warp-specialised TMA kernel (ws_kernel.cuh) is production on sm_90a.
#include <cstdint>

#include "backend/cuda/attention.h"
#include "backend/cuda/attention/epilogue.cuh"
#include "backend/cuda/attention/softmax.cuh"
#include "backend/cuda/attention/tile_load.cuh"
#include "backend/cuda/attention/tile_scheduler.cuh"
#include "backend/cuda/attention/traits.cuh"
#include "backend/cuda/attention/wgmma.cuh"

namespace jenga::cuda::attn {

struct HopperTraits : Traits<128, 128, 1> {
  static constexpr int kHalfBytes = 128 * 64 * 2;            // one 64-column half of a 128-row tile
  static constexpr int kTileBytes = 2 * kHalfBytes;          // 128 rows x 128 columns
  static constexpr int kSmemBytes = 1024 + kTileBytes * 5;   // alignment slack + Q + 2 x (K, V)
};

template <int THREADS>
__device__ __forceinline__ void load_tile_sw128(__nv_bfloat16* tile, const __nv_bfloat16* base, int64_t stride,
                                                int row0, int len, int tid) {
#pragma unroll
  for (int it = 0; it < 128 * 16 / THREADS; ++it) {
    const int i = it * THREADS + tid;
    const int r = i >> 4, c = i & 15;
    const bool valid = row0 + r < len;
    const __nv_bfloat16* src = valid ? base + static_cast<int64_t>(row0 + r) * stride + c * 8 : base;
    cp_async_16(tile + sw128(r, c), src, valid);
  }
}

__global__ void __launch_bounds__(256, 1) attention_fwd_hopper_kernel(const AttentionParams p) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using T = HopperTraits;
  constexpr int NT = 16;  // 8-column tiles per 128-key tile
  extern __shared__ __align__(128) unsigned char smem_raw[];  // re-aligned to 1024 below
  unsigned char* smem = reinterpret_cast<unsigned char*>(
      (reinterpret_cast<uintptr_t>(smem_raw) + 1023) & ~static_cast<uintptr_t>(1023));
  auto* sQ = reinterpret_cast<__nv_bfloat16*>(smem);
  auto kv_tile = [&](int stage, int which) {  // which: 0 = K, 1 = V
    return reinterpret_cast<__nv_bfloat16*>(smem + T::kTileBytes * (1 + 2 * stage + which));
  };

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, wg = warp >> 2;
  const WorkTile w = work_tile();
  const KeyTiles<T> tiles(p, w);
  const int q0 = w.qb * kBlock;
  const auto* qg = reinterpret_cast<const __nv_bfloat16*>(p.q) + w.b * p.q_batch_stride + w.h * p.q_head_stride;
  const auto* kg = reinterpret_cast<const __nv_bfloat16*>(p.k) + w.b * p.k_batch_stride + w.h * p.k_head_stride;
  const auto* vg = reinterpret_cast<const __nv_bfloat16*>(p.v) + w.b * p.v_batch_stride + w.h * p.v_head_stride;
  auto* og = reinterpret_cast<__nv_bfloat16*>(p.out) + w.b * p.out_batch_stride + w.h * p.out_head_stride;
  const int k_blocks = (p.k_len + kBlock - 1) / kBlock;
  const float* bias = p.key_block_bias ? p.key_block_bias + static_cast<int64_t>(w.h) * k_blocks : nullptr;
  constexpr float kLog2e = 1.4426950408889634f;
  const float scale_log2 = p.scale * kLog2e;

  auto load_kv = [&](int t, int stage) {
    const int key0 = tiles.key0(t);
    load_tile_sw128<T::kThreads>(kv_tile(stage, 0), kg, p.k_row_stride, key0, p.k_len, tid);
    load_tile_sw128<T::kThreads>(kv_tile(stage, 1), vg, p.v_row_stride, key0, p.k_len, tid);
  };
  load_tile_sw128<T::kThreads>(sQ, qg, p.q_row_stride, q0, p.q_len, tid);
  if (tiles.count > 0) load_kv(0, 0);
  cp_async_commit();

  float o[64];
#pragma unroll
  for (int i = 0; i < 64; ++i) o[i] = 0.f;
  OnlineSoftmax<NT> softmax;

  for (int t = 0; t < tiles.count; ++t) {
    const int stage = t & 1;
    if (t + 1 < tiles.count) {
      load_kv(t + 1, stage ^ 1);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    fence_proxy_async();
    __syncthreads();
    const __nv_bfloat16* sK = kv_tile(stage, 0);
    const __nv_bfloat16* sV = kv_tile(stage, 1);

    // S = Q K^T: 8 k-steps of 16 over D = 128 (4 per 64-column half, 32 bytes apart).
    float s[64];
#pragma unroll
    for (int i = 0; i < 64; ++i) s[i] = 0.f;
    wgmma_fence();
#pragma unroll
    for (int ks = 0; ks < 8; ++ks) {
      const int off = (ks >> 2) * (128 * 64) + (ks & 3) * 16;  // elements
      const uint64_t da = smem_desc_sw128(sQ + off + wg * 64 * 64, 16, 1024);
      const uint64_t db = smem_desc_sw128(sK + off, 16, 1024);
      wgmma_m64n128k16_ss(s, da, db);
    }
    wgmma_commit();
    wgmma_wait_all();

    float (&s4)[NT][4] = *reinterpret_cast<float (*)[NT][4]>(s);
    const int key0 = tiles.key0(t);
    if (key0 + 128 > p.k_len) {
      const int c0 = key0 + 2 * (lane & 3);
#pragma unroll
      for (int n = 0; n < NT; ++n) {
        if (c0 + n * 8 >= p.k_len) s4[n][0] = s4[n][2] = -INFINITY;
        if (c0 + n * 8 + 1 >= p.k_len) s4[n][1] = s4[n][3] = -INFINITY;
      }
    }
    const float bias_log2 = bias ? bias[tiles.block(t)] * kLog2e : 0.f;
    float alpha[2];
    softmax.update(s4, scale_log2, bias_log2, alpha);
#pragma unroll
    for (int n = 0; n < NT; ++n) {
      o[4 * n] *= alpha[0], o[4 * n + 1] *= alpha[0];
      o[4 * n + 2] *= alpha[1], o[4 * n + 3] *= alpha[1];
    }

    // O += P V: 8 k-steps of 16 keys; V is MN-major (d contiguous), halves 16 KB apart.
    uint32_t a[8][4];
#pragma unroll
    for (int kk = 0; kk < 8; ++kk) {
      a[kk][0] = pack_bf16(s4[2 * kk][0], s4[2 * kk][1]);
      a[kk][1] = pack_bf16(s4[2 * kk][2], s4[2 * kk][3]);
      a[kk][2] = pack_bf16(s4[2 * kk + 1][0], s4[2 * kk + 1][1]);
      a[kk][3] = pack_bf16(s4[2 * kk + 1][2], s4[2 * kk + 1][3]);
    }
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < 8; ++kk)
      wgmma_m64n128k16_rs_tb(o, a[kk], smem_desc_sw128(sV + kk * 16 * 64, T::kHalfBytes, 1024));
    wgmma_commit();
    wgmma_wait_all();
    __syncthreads();  // this stage is refilled next iteration
  }
  if (tiles.count == 0) {
    cp_async_wait<0>();
    __syncthreads();
  }

  float inv[2];
  softmax.finish(inv);
  // The staging tile (plain swizzle, epilogue.cuh) reuses Q's shared memory.
  stage_output<T>(*reinterpret_cast<float (*)[16][4]>(o), inv, sQ, warp * 16, lane);
  __syncthreads();
  store_output<T>(sQ, og, p.out_row_stride, q0, p.q_len, tid);
#else
  __trap();  // built without sm_90a code: fail loudly rather than return garbage
#endif
}

}  // namespace jenga::cuda::attn
