#pragma once
// Warp-specialised Hopper (sm_90a) forward kernel, head dim 128 or 64 (FlashAttention-3's
// structure, written for our CSR layout). One CTA = one (batch, head, query block of 128) and 3 warpgroups:
//  - warpgroup 0, the producer: gives registers away (setmaxnreg) and one thread follows the
//    row's list of kept key blocks, loading Q once and each K/V tile by TMA into a ring of
//    kStages shared-memory slots; full/empty mbarriers hand slots to and from the consumers.
//  - warpgroups 1 and 2, the consumers, 64 query rows each: S = Q K^T (wgmma, both operands in
//    shared memory), online softmax in registers, O += P V (wgmma, P from registers).
//    Within a warpgroup the softmax of tile t runs while O += P(t-1) V(t-1) is still on the
//    tensor cores (S(t) is issued before that product, FA3's intra-warpgroup overlap); with
//    kPingPong the two warpgroups also take turns issuing their GEMMs (named barriers), so one
//    warpgroup's softmax overlaps the other's GEMMs.
// Ragged blocks: TMA fills rows past the tensor's end with zeros and clips them on the store;
// key columns past k_len are masked to -inf. Empty rows get zeros (l = 0 -> 1/l taken as 0).
#include <cstdint>

#include "backend/cuda/attention.h"
#include "backend/cuda/attention/mma.cuh"
#include "backend/cuda/attention/softmax.cuh"
#include "backend/cuda/attention/tile_scheduler.cuh"
#include "backend/cuda/attention/tma.cuh"
#include "backend/cuda/attention/traits.cuh"
#include "backend/cuda/attention/wgmma.cuh"

namespace jenga::cuda::attn {

// Tensor maps ({column, row, head, batch}, 128B swizzle): q and o with 64 x 64 boxes (one
// consumer's rows, one 64-column half), k and v with 64 x 128 boxes (a half of a key tile).
// Tiles are stored as D / 64 halves of 128-byte rows (wgmma.cuh's sw128 layout).
struct WsMaps {
  CUtensorMap q, k, v, o;
};

// OPT bits (the consumers' per-tile instruction count):
//   kOptFastExp: exp2 as a single MUFU.EX2 (softmax.cuh FAST);
//   kOptLazyRescale: O rescaled only when a row's reference max moved (softmax.cuh LAZY);
//   kOptWarpRelease: one arrival per consumer warp on the K/V empty barriers instead of one
//     per thread (after its wgmma wait the whole warp is done reading the slot);
//   kOptFp8QK: S = Q K^T from e4m3 Q/K (p.q8 / p.k8, per-block scales folded into the softmax
//     scale), wgmma k32; Q/K tiles are 128 rows x 128 bytes (one swizzle span). Head dim 128.
constexpr int kOptFastExp = 1, kOptLazyRescale = 2, kOptWarpRelease = 4, kOptAll = 7, kOptFp8QK = 8;

template <int D, int STAGES, bool PINGPONG, bool PERSISTENT = false, bool Q_IN_REGS = false, int OPT = 0>
struct WsTraits : Traits<D, 128, 1> {
  static constexpr int kStages = STAGES;
  static constexpr bool kPingPong = PINGPONG;
  // Persistent: one CTA per SM walks work tiles blockIdx.x, + gridDim.x, ...; the output is
  // staged in its own buffer so the next tile's Q (and K/V) load while this tile is stored.
  static constexpr bool kPersistent = PERSISTENT;
  // Q fragments read once per work tile into registers (S = Q K^T then reads only K from shared
  // memory, and Q's buffer is free for the next tile at once); costs D / 4 registers.
  static constexpr bool kQInRegs = Q_IN_REGS;
  static_assert(!Q_IN_REGS || PERSISTENT, "Q in registers needs the separate output buffer");
  static constexpr bool kFastExp = (OPT & kOptFastExp) != 0;
  static constexpr bool kLazyRescale = (OPT & kOptLazyRescale) != 0;
  static constexpr bool kWarpRelease = (OPT & kOptWarpRelease) != 0;
  static constexpr bool kFp8 = (OPT & kOptFp8QK) != 0;
  static_assert(!kFp8 || (D == 128 && !Q_IN_REGS), "FP8 Q/K: head dim 128, Q in shared memory");
  static constexpr int kThreads = 384;                  // producer + 2 consumer warpgroups
  static constexpr int kHalves = D / 64;
  static constexpr int kHalfBytes = 128 * 64 * 2;       // one 64-column half of a 128-row tile
  static constexpr int kTileBytes = kHalves * kHalfBytes;  // 128 rows x D columns, bf16
  static constexpr int kQKBytes = kFp8 ? 128 * 128 : kTileBytes;  // a Q or K tile as loaded
  static constexpr int kTiles = 1 + 2 * STAGES + (PERSISTENT ? 1 : 0);  // Q, K/V ring, O
  static constexpr int kBarriers = 2 + 4 * STAGES;      // Q full/empty, full/empty x K/V per stage
  static constexpr int kSmemBytes = 1024 + kTileBytes * kTiles + 8 * kBarriers;
  static_assert(kSmemBytes <= 227 * 1024, "shared memory of one H100 CTA");
  // 40 x 128 + 232 x 256 (24 x 128 + 240 x 256) <= 64K registers; the consumers hold O (D / 2),
  // S (64), P (32) and, with kQInRegs, Q (D / 4).
  static constexpr int kProducerRegs = Q_IN_REGS ? 24 : 40, kConsumerRegs = Q_IN_REGS ? 240 : 232;
};

template <class T>
__global__ void __launch_bounds__(384, 1)
    attention_fwd_ws_kernel(const __grid_constant__ AttentionParams p, const __grid_constant__ WsMaps maps) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  constexpr int S = T::kStages;
  extern __shared__ __align__(128) unsigned char smem_raw[];  // re-aligned to 1024 (swizzle atoms)
  unsigned char* smem = reinterpret_cast<unsigned char*>(
      (reinterpret_cast<uintptr_t>(smem_raw) + 1023) & ~static_cast<uintptr_t>(1023));
  auto* sQ = reinterpret_cast<__nv_bfloat16*>(smem);
  auto sK = [&](int s) { return reinterpret_cast<__nv_bfloat16*>(smem + T::kTileBytes * (1 + s)); };
  auto sV = [&](int s) { return reinterpret_cast<__nv_bfloat16*>(smem + T::kTileBytes * (1 + S + s)); };
  auto* sO = T::kPersistent ? reinterpret_cast<__nv_bfloat16*>(smem + T::kTileBytes * (1 + 2 * S)) : sQ;
  uint64_t* bars = reinterpret_cast<uint64_t*>(smem + T::kTileBytes * T::kTiles);
  uint64_t* bar_q = bars;
  uint64_t* empty_q = bars + 1;  // consumers are done with Q (persistent only)
  uint64_t* full_k = bars + 2;
  uint64_t* full_v = bars + 2 + S;
  uint64_t* empty_k = bars + 2 + 2 * S;
  uint64_t* empty_v = bars + 2 + 3 * S;
  constexpr int kConsumers = 256;
  constexpr int kReleasers = T::kWarpRelease ? kConsumers / 32 : kConsumers;  // K/V empty arrivals

  const int tid = threadIdx.x;
  if (tid == 0) {
    mbar_init(bar_q, 1), mbar_init(empty_q, kConsumers);
#pragma unroll
    for (int s = 0; s < S; ++s) {
      mbar_init(&full_k[s], 1), mbar_init(&full_v[s], 1);
      mbar_init(&empty_k[s], kReleasers), mbar_init(&empty_v[s], kReleasers);
    }
    mbar_fence_init();
  }
  __syncthreads();

  // Work tiles, query blocks fastest (CTAs running together share a head's K/V in L2).
  const int q_blocks = (p.q_len + kBlock - 1) / kBlock;
  const int n_work = q_blocks * p.heads * p.batch;
  const int first = T::kPersistent ? static_cast<int>(blockIdx.x)
                                   : static_cast<int>(blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z));
  const int step = T::kPersistent ? static_cast<int>(gridDim.x) : n_work;
  auto work_at = [&](int i) {
    const int r = i / q_blocks;
    return WorkTile{r / p.heads, r % p.heads, i % q_blocks};
  };

  if (tid < 128) {
    // ---------------- producer ----------------
    regs_dealloc<T::kProducerRegs>();
    if (tid == 0) {
      prefetch_tensor_map(&maps.k), prefetch_tensor_map(&maps.v);
      int stage = 0;
      uint32_t phase = 0;
      auto load_k = [&](const WorkTile& w, int key0) {
        mbar_wait(&empty_k[stage], phase ^ 1);  // slot free (first round: passes at once)
        mbar_arrive_expect_tx(&full_k[stage], T::kQKBytes);
        if constexpr (T::kFp8) {
          tma_load_4d(sK(stage), &maps.k, &full_k[stage], 0, key0, w.h, w.b);
        } else {
#pragma unroll
          for (int half = 0; half < T::kHalves; ++half)
            tma_load_4d(sK(stage) + half * 128 * 64, &maps.k, &full_k[stage], half * 64, key0, w.h, w.b);
        }
      };
      auto load_v = [&](const WorkTile& w, int key0) {
        mbar_wait(&empty_v[stage], phase ^ 1);
        mbar_arrive_expect_tx(&full_v[stage], T::kTileBytes);
#pragma unroll
        for (int half = 0; half < T::kHalves; ++half)
          tma_load_4d(sV(stage) + half * 128 * 64, &maps.v, &full_v[stage], half * 64, key0, w.h, w.b);
        if (++stage == S) stage = 0, phase ^= 1;
      };
      uint32_t q_phase = 0;
      for (int item = first; item < n_work; item += step, q_phase ^= 1) {
        const WorkTile w = work_at(item);
        const KeyTiles<T> tiles(p, w);
        // K of the first tile goes out before Q, which waits for the previous tile's consumers.
        if (tiles.count > 0) load_k(w, tiles.key0(0));
        mbar_wait(empty_q, q_phase ^ 1);
        mbar_arrive_expect_tx(bar_q, T::kQKBytes);
        if constexpr (T::kFp8) {
#pragma unroll
          for (int r = 0; r < 2; ++r)
            tma_load_4d(smem + r * 64 * 128, &maps.q, bar_q, 0, w.qb * kBlock + r * 64, w.h, w.b);
        } else {
#pragma unroll
          for (int half = 0; half < T::kHalves; ++half)
#pragma unroll
            for (int r = 0; r < 2; ++r)
              tma_load_4d(sQ + half * 128 * 64 + r * 64 * 64, &maps.q, bar_q, half * 64, w.qb * kBlock + r * 64, w.h,
                          w.b);
        }
        for (int t = 0; t < tiles.count; ++t) {
          const int key0 = tiles.key0(t);
          if (t > 0) load_k(w, key0);
          load_v(w, key0);
        }
      }
    }
  } else {
    // ---------------- consumers ----------------
    regs_alloc<T::kConsumerRegs>();
    constexpr int NT = 16;          // 8-column accumulator tiles per 128-key tile
    constexpr int NO = T::kD / 8;   // 8-column accumulator tiles of the output
    const int ct = tid - 128, cw = ct >> 7, wq = (ct >> 5) & 3, lane = tid & 31;
    const int k_blocks = (p.k_len + kBlock - 1) / kBlock;
    constexpr float kLog2e = 1.4426950408889634f;
    const float scale_log2 = p.scale * kLog2e;
    const __nv_bfloat16* sQw = sQ + cw * 64 * 64;  // this warpgroup's 64 rows (both halves)
    __nv_bfloat16* sOw = sO + cw * 64 * 64;
    const bool leader = (ct & 127) == 0;           // issues this warpgroup's output stores

    float o[T::kD / 2];
    float s[64];
    uint32_t qf[T::kQInRegs ? T::kD / 16 : 1][4];  // Q fragments per 16-column k-step
    uint32_t a[8][4];
    OnlineSoftmax<NT, T::kFastExp, T::kLazyRescale> softmax;
    float alpha[2];

    auto issue_qk = [&](const __nv_bfloat16* k) {  // S = Q K^T: D / 16 k-steps
      wgmma_fence();
      if constexpr (T::kFp8) {  // D / 32 k-steps of 32 bytes within the 128-byte rows
        const unsigned char* q8 = smem + cw * 64 * 128;
        const auto* k8 = reinterpret_cast<const unsigned char*>(k);
#pragma unroll
        for (int ks = 0; ks < T::kD / 32; ++ks)
          wgmma_m64n128k32_e4m3_ss(s, smem_desc_sw128(q8 + ks * 32, 16, 1024), smem_desc_sw128(k8 + ks * 32, 16, 1024),
                                   ks > 0);
      } else {
#pragma unroll
        for (int ks = 0; ks < T::kD / 16; ++ks) {
          const int off = (ks >> 2) * (128 * 64) + (ks & 3) * 16;
          if constexpr (T::kQInRegs)
            wgmma_m64n128k16_rs(s, qf[ks], smem_desc_sw128(k + off, 16, 1024), ks > 0);
          else
            wgmma_m64n128k16_ss(s, smem_desc_sw128(sQw + off, 16, 1024), smem_desc_sw128(k + off, 16, 1024), ks > 0);
        }
      }
      wgmma_commit();
      fence_operand(s);
    };
    auto issue_pv = [&](const __nv_bfloat16* v) {  // O += P V: 8 k-steps of 16 keys, V MN-major
      fence_operand(o);
      wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < 8; ++kk) {
        const uint64_t dv = smem_desc_sw128(v + kk * 16 * 64, T::kHalfBytes, 1024);
        if constexpr (T::kD == 128)
          wgmma_m64n128k16_rs_tb(o, a[kk], dv);
        else
          wgmma_m64n64k16_rs_tb(o, a[kk], dv);
      }
      wgmma_commit();
      fence_operand(o);
    };
    // Logits of tile t -> probabilities (masking the ragged end), alpha = rescale of O.
    auto softmax_tile = [&](int key0, float bias_log2, float sl2) {
      float (&s4)[NT][4] = *reinterpret_cast<float (*)[NT][4]>(s);
      if (key0 + 128 > p.k_len) {
        const int c0 = key0 + 2 * (lane & 3);
#pragma unroll
        for (int n = 0; n < NT; ++n) {
          if (c0 + n * 8 >= p.k_len) s4[n][0] = s4[n][2] = -INFINITY;
          if (c0 + n * 8 + 1 >= p.k_len) s4[n][1] = s4[n][3] = -INFINITY;
        }
      }
      softmax.update(s4, sl2, bias_log2, alpha);
    };
    auto pack_p = [&] {
#pragma unroll
      for (int kk = 0; kk < 8; ++kk) {
        a[kk][0] = pack_bf16(s[8 * kk + 0], s[8 * kk + 1]);
        a[kk][1] = pack_bf16(s[8 * kk + 2], s[8 * kk + 3]);
        a[kk][2] = pack_bf16(s[8 * kk + 4], s[8 * kk + 5]);
        a[kk][3] = pack_bf16(s[8 * kk + 6], s[8 * kk + 7]);
      }
    };
    auto rescale_o = [&] {
      // Lazy: alpha is exactly 1 for rows whose reference max stayed; skip unless the warp has one.
      if constexpr (T::kLazyRescale) {
        if (!__any_sync(0xffffffffu, alpha[0] != 1.f || alpha[1] != 1.f)) return;
      }
#pragma unroll
      for (int n = 0; n < NO; ++n) {
        o[4 * n] *= alpha[0], o[4 * n + 1] *= alpha[0];
        o[4 * n + 2] *= alpha[1], o[4 * n + 3] *= alpha[1];
      }
    };
    // Ping-pong: warpgroup cw issues its GEMMs after the other one issued its own (named barrier
    // 1 + cw, 256 threads). The n + 1 issue slots of a row are balanced by warpgroup 1 skipping
    // its arrival in its last slot (its first arrival, below, opens warpgroup 0's first slot).
    auto turn_begin = [&] {
      if constexpr (T::kPingPong) named_bar_sync(1 + cw, 256);
    };
    auto turn_end = [&](bool last) {
      if constexpr (T::kPingPong) {
        if (!(last && cw == 1)) named_bar_arrive(2 - cw, 256);
      }
    };
    // The consumer side of a K/V slot is free (its wgmma wait passed in every lane).
    auto release = [&](uint64_t* bar) {
      if (!T::kWarpRelease || lane == 0) mbar_arrive(bar);
    };
    auto next_slot = [](int& slot, uint32_t& ph) {
      if (++slot == S) slot = 0, ph ^= 1;
    };

    int slot = 0;  // ring slot (and its phase) of the next key tile to consume
    uint32_t phase = 0, q_phase = 0;
    for (int item = first; item < n_work; item += step, q_phase ^= 1) {
      const WorkTile w = work_at(item);
      const KeyTiles<T> tiles(p, w);
      const float* bias = p.key_block_bias ? p.key_block_bias + static_cast<int64_t>(w.h) * k_blocks : nullptr;
      auto tile_bias = [&](int t) { return bias ? bias[tiles.block(t)] * kLog2e : 0.f; };
      // FP8: the logits come as (Q / sq)(K / sk)^T; the scales multiply the softmax scale.
      const int64_t bh = static_cast<int64_t>(w.b) * p.heads + w.h;
      const float q_sl2 = T::kFp8 ? scale_log2 * p.q8_scale[bh * q_blocks + w.qb] : scale_log2;
      auto tile_sl2 = [&](int t) { return T::kFp8 ? q_sl2 * p.k8_scale[bh * k_blocks + tiles.block(t)] : q_sl2; };
#pragma unroll
      for (int i = 0; i < T::kD / 2; ++i) o[i] = 0.f;
      softmax = decltype(softmax){};

      mbar_wait(bar_q, q_phase);
      if constexpr (T::kQInRegs) {
        // ldmatrix x4 per k-step: lanes 0-15 address rows 0-15 of chunk 2 ks, lanes 16-31 of 2 ks + 1.
        const int qr = cw * 64 + wq * 16 + (lane & 15);
#pragma unroll
        for (int ks = 0; ks < T::kD / 16; ++ks) ldmatrix_x4(qf[ks], sQ + sw128(qr, 2 * ks + (lane >> 4)));
        mbar_arrive(empty_q);  // Q lives in registers now: the producer may load the next tile's
      }
      const int n = tiles.count;
      if (n > 0) {
        if constexpr (T::kPingPong) {
          if (cw == 1) named_bar_arrive(1, 256);
        }
        int key0 = tiles.key0(0);
        float bias_log2 = tile_bias(0), sl2 = tile_sl2(0);
        turn_begin();
        mbar_wait(&full_k[slot], phase);
        issue_qk(sK(slot));
        turn_end(false);
        wgmma_wait<0>();
        fence_operand(s);
        release(&empty_k[slot]);
        if (!T::kQInRegs && n == 1) mbar_arrive(empty_q);  // the producer may load the next Q
        softmax_tile(key0, bias_log2, sl2);  // alpha unused: O is still zero
        pack_p();
        for (int t = 1; t < n; ++t) {
          int ns = slot;
          uint32_t nphase = phase;
          next_slot(ns, nphase);
          key0 = tiles.key0(t);
          bias_log2 = tile_bias(t), sl2 = tile_sl2(t);
          turn_begin();
          mbar_wait(&full_k[ns], nphase);
          issue_qk(sK(ns));
          mbar_wait(&full_v[slot], phase);
          issue_pv(sV(slot));
          turn_end(false);
          wgmma_wait<1>();  // S(t) done, P(t-1) V(t-1) may still run
          fence_operand(s);
          release(&empty_k[ns]);
          if (!T::kQInRegs && t == n - 1) mbar_arrive(empty_q);
          softmax_tile(key0, bias_log2, sl2);
          wgmma_wait<0>();
          fence_operand(o);
          release(&empty_v[slot]);
          rescale_o();
          pack_p();
          slot = ns, phase = nphase;
        }
        turn_begin();
        mbar_wait(&full_v[slot], phase);
        issue_pv(sV(slot));
        turn_end(true);
        wgmma_wait<0>();
        fence_operand(o);
        release(&empty_v[slot]);
        next_slot(slot, phase);
      } else if (!T::kQInRegs) {
        mbar_arrive(empty_q);
      }

      // Epilogue: normalise, stage bf16 into this warpgroup's rows of the output tile (the Q
      // tile itself unless persistent; same 128B swizzle as the O tensor map), then the leader
      // stores them by TMA. Persistent: the previous store must have read the buffer first.
      if constexpr (T::kPersistent) {
        if (leader) tma_store_wait_read();
        named_bar_sync(3 + cw, 128);
      }
      float inv[2];
      softmax.finish(inv);
      const int r0 = cw * 64 + wq * 16 + (lane >> 2), c = 2 * (lane & 3);
#pragma unroll
      for (int j = 0; j < NO; ++j) {
        *reinterpret_cast<uint32_t*>(sO + sw128(r0, j) + c) = pack_bf16(o[4 * j] * inv[0], o[4 * j + 1] * inv[0]);
        *reinterpret_cast<uint32_t*>(sO + sw128(r0 + 8, j) + c) =
            pack_bf16(o[4 * j + 2] * inv[1], o[4 * j + 3] * inv[1]);
      }
      fence_proxy_async();
      named_bar_sync(3 + cw, 128);
      if (leader) {
        const int row = w.qb * kBlock + cw * 64;
#pragma unroll
        for (int half = 0; half < T::kHalves; ++half)
          tma_store_4d(&maps.o, sOw + half * 128 * 64, half * 64, row, w.h, w.b);
        tma_store_commit();
      }
    }
    if (leader) tma_store_wait_read();  // shared memory must outlive the last store's reads
  }
#else
  __trap();  // built without sm_90a code: fail loudly rather than return garbage
#endif
}

}  // namespace jenga::cuda::attn
