#pragma once
// The forward kernel (sm_80-style: cp.async double buffering, ldmatrix, mma.sync). One CTA =
// one 128-row query block of one (batch, head); each warp owns MT x 16 query rows and runs
// S = Q K^T, online softmax and O += P V per key tile (K/V fragments reused across its MT row
// tiles).
#include <cstdint>

#include "backend/cuda/attention.h"
#include "backend/cuda/attention/epilogue.cuh"
#include "backend/cuda/attention/mma.cuh"
#include "backend/cuda/attention/softmax.cuh"
#include "backend/cuda/attention/tile_load.cuh"
#include "backend/cuda/attention/tile_scheduler.cuh"
#include "backend/cuda/attention/traits.cuh"

namespace jenga::cuda::attn {

template <class T>
__global__ void __launch_bounds__(T::kThreads, T::kMinBlocks) attention_fwd_kernel(const AttentionParams p) {
  constexpr int D = T::kD, BN = T::kBN, NT = BN / 8, KS = D / 16, MT = T::kMT;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  __nv_bfloat16* sQ = reinterpret_cast<__nv_bfloat16*>(smem_raw);
  __nv_bfloat16* sKV = sQ + T::kQElems;  // stage s: K at 2*s, V at 2*s+1 (kKVElems each)

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
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
  const int warp_row0 = warp * T::kWarpRows;

  auto load_kv = [&](int t, int stage) {
    const int key0 = tiles.key0(t);
    load_tile<BN, D, T::kThreads>(sKV + (2 * stage) * T::kKVElems, kg, p.k_row_stride, key0, p.k_len, tid);
    load_tile<BN, D, T::kThreads>(sKV + (2 * stage + 1) * T::kKVElems, vg, p.v_row_stride, key0, p.k_len, tid);
  };
  auto q_frag_addr = [&](int mt, int ks) {
    return sQ + swizzled<D>(warp_row0 + mt * 16 + (lane & 15), ks * 2 + (lane >> 4));
  };

  load_tile<T::kBM, D, T::kThreads>(sQ, qg, p.q_row_stride, q0, p.q_len, tid);
  if (tiles.count > 0) load_kv(0, 0);
  cp_async_commit();

  float o[MT][D / 8][4];
#pragma unroll
  for (int m = 0; m < MT; ++m)
#pragma unroll
    for (int n = 0; n < D / 8; ++n) o[m][n][0] = o[m][n][1] = o[m][n][2] = o[m][n][3] = 0.f;
  OnlineSoftmax<NT> softmax[MT];
  // Q fragments stay in registers when the budget allows, else they are re-read from shared
  // memory each key tile (ldmatrix is cheap next to the MMAs it feeds).
  uint32_t qf[T::kQInRegs ? KS : 1][4];

  for (int t = 0; t < tiles.count; ++t) {
    const int stage = t & 1;
    if (t + 1 < tiles.count) {
      load_kv(t + 1, stage ^ 1);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    if (T::kQInRegs && t == 0) {
#pragma unroll
      for (int ks = 0; ks < KS; ++ks) ldmatrix_x4(qf[T::kQInRegs ? ks : 0], q_frag_addr(0, ks));
    }
    const __nv_bfloat16* sK = sKV + (2 * stage) * T::kKVElems;
    const __nv_bfloat16* sV = sKV + (2 * stage + 1) * T::kKVElems;

    // S = Q K^T for this warp's MT x 16 rows x BN keys.
    float s[MT][NT][4];
#pragma unroll
    for (int m = 0; m < MT; ++m)
#pragma unroll
      for (int n = 0; n < NT; ++n) s[m][n][0] = s[m][n][1] = s[m][n][2] = s[m][n][3] = 0.f;
#pragma unroll
    for (int ks = 0; ks < KS; ++ks) {
      uint32_t qa[MT][4];
#pragma unroll
      for (int m = 0; m < MT; ++m) {
        if (T::kQInRegs) {
#pragma unroll
          for (int e = 0; e < 4; ++e) qa[m][e] = qf[T::kQInRegs ? ks : 0][e];
        } else {
          ldmatrix_x4(qa[m], q_frag_addr(m, ks));
        }
      }
#pragma unroll
      for (int np = 0; np < NT / 2; ++np) {
        uint32_t b[4];
        ldmatrix_x4(b, sK + swizzled<D>(np * 16 + (lane & 7) + ((lane >> 4) << 3), ks * 2 + ((lane >> 3) & 1)));
#pragma unroll
        for (int m = 0; m < MT; ++m) {
          mma_bf16(s[m][2 * np], qa[m], b[0], b[1]);
          mma_bf16(s[m][2 * np + 1], qa[m], b[2], b[3]);
        }
      }
    }

    // Keys past k_len (only in the ragged last tile) drop out.
    const int key0 = tiles.key0(t);
    if (key0 + BN > p.k_len) {
      const int c0 = key0 + 2 * (lane & 3);
#pragma unroll
      for (int m = 0; m < MT; ++m)
#pragma unroll
        for (int n = 0; n < NT; ++n) {
          if (c0 + n * 8 >= p.k_len) s[m][n][0] = s[m][n][2] = -INFINITY;
          if (c0 + n * 8 + 1 >= p.k_len) s[m][n][1] = s[m][n][3] = -INFINITY;
        }
    }
    const float bias_log2 = bias ? bias[tiles.block(t)] * kLog2e : 0.f;
#pragma unroll
    for (int m = 0; m < MT; ++m) {
      float alpha[2];
      softmax[m].update(s[m], scale_log2, bias_log2, alpha);
#pragma unroll
      for (int n = 0; n < D / 8; ++n) {
        o[m][n][0] *= alpha[0], o[m][n][1] *= alpha[0];
        o[m][n][2] *= alpha[1], o[m][n][3] *= alpha[1];
      }
    }

    // O += P V, P straight from the S accumulators (C layout == A layout pairwise).
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) {
      uint32_t a[MT][4];
#pragma unroll
      for (int m = 0; m < MT; ++m) {
        a[m][0] = pack_bf16(s[m][2 * kk][0], s[m][2 * kk][1]);
        a[m][1] = pack_bf16(s[m][2 * kk][2], s[m][2 * kk][3]);
        a[m][2] = pack_bf16(s[m][2 * kk + 1][0], s[m][2 * kk + 1][1]);
        a[m][3] = pack_bf16(s[m][2 * kk + 1][2], s[m][2 * kk + 1][3]);
      }
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        uint32_t b[4];
        ldmatrix_x4_trans(b, sV + swizzled<D>(kk * 16 + (lane & 7) + (((lane >> 3) & 1) << 3), dp * 2 + (lane >> 4)));
#pragma unroll
        for (int m = 0; m < MT; ++m) {
          mma_bf16(o[m][2 * dp], a[m], b[0], b[1]);
          mma_bf16(o[m][2 * dp + 1], a[m], b[2], b[3]);
        }
      }
    }
    __syncthreads();  // this stage is refilled next iteration
  }
  if (tiles.count == 0) {
    cp_async_wait<0>();
    __syncthreads();
  }

#pragma unroll
  for (int m = 0; m < MT; ++m) {
    float inv[2];
    softmax[m].finish(inv);
    stage_output<T>(o[m], inv, sQ, warp_row0 + m * 16, lane);
  }
  __syncthreads();
  store_output<T>(sQ, og, p.out_row_stride, q0, p.q_len, tid);
}

}  // namespace jenga::cuda::attn
