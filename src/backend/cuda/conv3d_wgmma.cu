// Hopper (sm_90a) kernel of conv3x3x3_igemm (conv3d_igemm.h): the same implicit GEMM over the
// replicate-padded clip P, with TMA loads and wgmma instead of cp.async and mma.sync.
// A K-step of 64 channels of tap (dt, di, dj) reads 128 consecutive rows of P starting at row
// r0 + (dt*(h+2) + di)*(w+2) + dj, a plain 2-D box of P [rows, cin]; B is a box of the kernel
// [cout, ldk]. Both land 128B-swizzled in shared memory (rows past P's end or cout read as
// zeros), where wgmma reads them through descriptors.
// One persistent CTA per SM walks output tiles of 128 rows x BN channels with three warpgroups:
// warpgroup 0 is the producer (one thread issues the TMA loads into a ring of STAGES slots,
// full/empty mbarriers hand slots over), warpgroups 1 and 2 each multiply 64 rows x BN and store
// their tile from registers (bias, residual, fp16 or f32: conv3d_epilogue.cuh) while the
// producer is already loading the next tile.
#include <cuda.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "backend/cuda/attention/tma.cuh"
#include "backend/cuda/attention/wgmma.cuh"
#include "backend/cuda/conv3d_epilogue.cuh"
#include "backend/cuda/conv3d_igemm.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/tensor_map.h"
#include "backend/cuda/wgmma_f16.cuh"
#include "core/error_types.h"

namespace jenga::cuda {
namespace {

template <int BN, int STAGES>
struct WgConv {
  static constexpr int kBM = 128, kBK = 64, kThreads = 384;
  static constexpr int kABytes = kBM * kBK * 2, kBBytes = BN * kBK * 2, kStageBytes = kABytes + kBBytes;
  // 1024 bytes of slack to align the slots to the swizzle atom, then the ring, then the barriers.
  static constexpr int kSmemBytes = 1024 + STAGES * kStageBytes + 2 * STAGES * 8;
  // With stats, after the barriers: per consumer warp its 16 rows' column sums of one tile (f32
  // [8][2 BN]), then the CTA's running sums (f64 [2 cout], cout <= kMaxStatsChannels).
  static constexpr int kSlotBytes = 8 * 2 * BN * 4;
  static constexpr int kStatsBytes = kSlotBytes + 2 * kMaxStatsChannels * 8;
  static_assert(kSmemBytes + kStatsBytes <= 227 * 1024, "shared memory of one H100 CTA");
  static_assert(kBBytes % 1024 == 0, "B slots must stay 1024-byte aligned");
};

// mbar_wait with a watchdog: a phase that never completes (a lost TMA transaction or arrival)
// traps after ~2^26 polls (well over 0.1 s; a healthy wait is microseconds), so a broken kernel
// fails with a launch error instead of hanging the process.
__device__ __forceinline__ void mbar_wait_or_trap(uint64_t* bar, uint32_t parity) {
  for (uint32_t polls = 0; !attn::mbar_try_wait(bar, parity); ++polls)
    if (polls == (1u << 26)) __trap();
}

__device__ __forceinline__ void prefetch_l2(const void* p) { asm volatile("prefetch.global.L2 [%0];" ::"l"(p)); }

struct WgMaps {
  CUtensorMap a, b;  // P [rows, cin] with 64 x 128 boxes; the kernel [cout, ldk] with 64 x BN boxes
};

template <int BN, int STAGES>
__global__ void __launch_bounds__(384, 1)
    conv3x3x3_wgmma_kernel(const __grid_constant__ Conv3x3x3Params p, const __grid_constant__ WgMaps maps) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using T = WgConv<BN, STAGES>;
  constexpr int S = STAGES;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  unsigned char* smem = reinterpret_cast<unsigned char*>(
      (reinterpret_cast<uintptr_t>(smem_raw) + 1023) & ~static_cast<uintptr_t>(1023));
  auto slot_a = [&](int s) { return smem + s * T::kStageBytes; };
  auto slot_b = [&](int s) { return smem + s * T::kStageBytes + T::kABytes; };
  uint64_t* full = reinterpret_cast<uint64_t*>(smem + S * T::kStageBytes);
  uint64_t* empty = full + S;
  float* warp_sums = reinterpret_cast<float*>(empty + S);                          // [8][2 BN]
  double* col_stats = reinterpret_cast<double*>(warp_sums + 8 * 2 * BN);           // [cout] x (sum, sq)
  constexpr int kConsumerWarps = 8;  // one release per consumer warp

  const int tid = threadIdx.x;
  if (p.stats) {
    for (int i = tid; i < 2 * p.cout; i += T::kThreads) col_stats[i] = 0.0;  // owned per thread below, no atomics
  }
  if (tid == 0) {
#pragma unroll
    for (int s = 0; s < S; ++s) attn::mbar_init(&full[s], 1), attn::mbar_init(&empty[s], kConsumerWarps);
    attn::mbar_fence_init();
  }
  __syncthreads();

  const int hp = static_cast<int>(p.h + 2), wp = static_cast<int>(p.w + 2), cin = static_cast<int>(p.cin);
  const int64_t M = p.tout * hp * wp;
  const int nb = static_cast<int>((p.cout + BN - 1) / BN);
  const int tiles = static_cast<int>((M + T::kBM - 1) / T::kBM) * nb;  // column blocks of a row block adjacent
  const int ktiles = 27 * (cin / T::kBK);

  if (tid < 128) {
    // ---------------- producer ----------------
    attn::regs_dealloc<40>();
    if (tid == 0) {
      attn::prefetch_tensor_map(&maps.a), attn::prefetch_tensor_map(&maps.b);
      int stage = 0;
      uint32_t phase = 0;
      for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        const int r0 = (tile / nb) * T::kBM, n0 = (tile % nb) * BN;
        int tap = 0, c0 = 0;
        for (int kt = 0; kt < ktiles; ++kt) {
          const int off = ((tap / 9) * hp + (tap / 3) % 3) * wp + tap % 3;
          mbar_wait_or_trap(&empty[stage], phase ^ 1);  // slot free (first round: passes at once)
          attn::mbar_arrive_expect_tx(&full[stage], T::kStageBytes);
          attn::tma_load_2d(slot_a(stage), &maps.a, &full[stage], c0, r0 + off);
          attn::tma_load_2d(slot_b(stage), &maps.b, &full[stage], tap * cin + c0, n0);
          if (++stage == S) stage = 0, phase ^= 1;
          if ((c0 += T::kBK) == cin) c0 = 0, ++tap;
        }
      }
    }
  } else {
    // ---------------- consumers ----------------
    attn::regs_alloc<232>();
    const int ct = tid - 128, cw = ct >> 7, wq = (ct >> 5) & 3, lane = tid & 31;
    float acc[BN / 2];
    int stage = 0;
    uint32_t phase = 0;
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
      const int64_t r0 = static_cast<int64_t>(tile / nb) * T::kBM;
      const int n0 = (tile % nb) * BN;
      if (p.accumulate) {  // the residual this tile adds, towards L2 while the main loop runs
        const int64_t elem = p.y_f32 ? 4 : 2, cols = p.cout - n0 < BN ? p.cout - n0 : BN;
        const int64_t lines = (cols * elem + 127) / 128;  // every address inside y
#pragma unroll
        for (int hf = 0; hf < 2; ++hf) {
          const int64_t orow = conv_out_offset(p, r0 + cw * 64 + wq * 16 + (lane >> 2) + 8 * hf);
          if (orow < 0) continue;
          const char* row = static_cast<const char*>(p.y) + (orow + n0) * elem;
          for (int64_t l = lane & 3; l < lines; l += 4) prefetch_l2(row + l * 128);
        }
      }
      int prev = 0;
      for (int kt = 0; kt < ktiles; ++kt) {
        mbar_wait_or_trap(&full[stage], phase);
        const __half* a = reinterpret_cast<const __half*>(slot_a(stage)) + cw * 64 * T::kBK;  // this warpgroup's rows
        const __half* b = reinterpret_cast<const __half*>(slot_b(stage));
        attn::fence_operand(acc);
        attn::wgmma_fence();
#pragma unroll
        for (int ks = 0; ks < T::kBK / 16; ++ks)
          wgmma_f16_ss<BN>(acc, attn::smem_desc_sw128(a + ks * 16, 16, 1024), attn::smem_desc_sw128(b + ks * 16, 16, 1024),
                           (kt > 0 || ks > 0) ? 1 : 0);
        attn::wgmma_commit();
        attn::fence_operand(acc);
        attn::wgmma_wait<1>();  // the previous K-step's products are done: its slot is free
        attn::fence_operand(acc);
        if (kt > 0 && lane == 0) attn::mbar_arrive(&empty[prev]);
        prev = stage;
        if (++stage == S) stage = 0, phase ^= 1;
      }
      attn::wgmma_wait<0>();
      attn::fence_operand(acc);
      if (lane == 0) attn::mbar_arrive(&empty[prev]);

      // Epilogue from registers: accumulator 4j + 2hf + e is (row 16 wq + lane/4 + 8 hf, column
      // 8j + 2(lane%4) + e); with stats, the column sums of the stored values gather in col_stats.
      int64_t orow[2];
#pragma unroll
      for (int hf = 0; hf < 2; ++hf) orow[hf] = conv_out_offset(p, r0 + cw * 64 + wq * 16 + (lane >> 2) + 8 * hf);
      float* my_sums = warp_sums + (cw * 4 + wq) * 2 * BN;
      // In groups of column blocks (up to 8): the residual's old values are all loaded, then stored.
      constexpr int kJG = BN == 256 ? 2 : BN / 8 < 8 ? BN / 8 : 8;  // 256: no registers for more
#pragma unroll
      for (int j0 = 0; j0 < BN / 8; j0 += kJG) {
        float2 old[kJG][2];
#pragma unroll
        for (int jj = 0; jj < kJG; ++jj)
#pragma unroll
          for (int hf = 0; hf < 2; ++hf) {
            const int c = n0 + 8 * (j0 + jj) + 2 * (lane & 3);
            old[jj][hf] = p.accumulate && orow[hf] >= 0 && c < p.cout ? conv_load_old(p, orow[hf], c)
                                                                        : make_float2(0.f, 0.f);
          }
#pragma unroll
        for (int jj = 0; jj < kJG; ++jj) {
          const int j = j0 + jj, c = n0 + 8 * j + 2 * (lane & 3);
          float4 st = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
          for (int hf = 0; hf < 2; ++hf) {
            if (orow[hf] < 0 || c >= p.cout) continue;
            const float2 v =
                conv_store_pair(p, orow[hf], c, acc[4 * j + 2 * hf], acc[4 * j + 2 * hf + 1], old[jj][hf]);
            st.x += v.x, st.y += v.x * v.x, st.z += v.y, st.w += v.y * v.y;
          }
          if (p.stats) {  // the warp's 16 rows: lanes 0-3 hold columns c, c + 1 after the reduction
            conv_stats_reduce_rows(st);
            if (lane < 4) *reinterpret_cast<float4*>(my_sums + 2 * (c - n0)) = st;
          }
        }
      }
      if (p.stats) {  // the 8 warps' sums into the CTA's running sums; one thread per (column, sum)
        attn::named_bar_sync(1, 256);
        for (int i = tid - 128; i < 2 * BN && n0 + i / 2 < p.cout; i += 256) {
          float t = 0.f;
#pragma unroll
          for (int w = 0; w < 8; ++w) t += warp_sums[w * 2 * BN + i];
          col_stats[2 * n0 + i] += t;
        }
        attn::named_bar_sync(1, 256);  // the slots are read before the next tile writes them
      }
    }
    if (p.stats) {  // this CTA's sums, once (named barrier 1: the two consumer warpgroups)
      attn::named_bar_sync(1, 256);
      for (int i = tid - 128; i < 2 * p.cout; i += 256) atomicAdd(&p.stats[i], col_stats[i]);
    }
  }
#else
  __trap();  // built without sm_90a code: fail loudly rather than return garbage
#endif
}

// Compute capability major and SM count of the current device, looked up once per device.
struct DeviceShape {
  int major = 0, sms = 0;
};
DeviceShape device_shape() {
  static DeviceShape shapes[64] = {};
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= 64) return {};
  DeviceShape& d = shapes[dev];
  if (d.major == 0) {
    JENGA_CUDA_CHECK(cudaDeviceGetAttribute(&d.sms, cudaDevAttrMultiProcessorCount, dev));
    JENGA_CUDA_CHECK(cudaDeviceGetAttribute(&d.major, cudaDevAttrComputeCapabilityMajor, dev));
  }
  return d;
}

// A 2-D fp16 row-major [rows, cols] map (row pitch ld elements), boxes of 64 columns x box_rows,
// 128-byte swizzle, zeros outside.
bool encode_2d(CUtensorMap* m, const void* base, int64_t cols, int64_t rows, int64_t ld, int box_rows) {
  const TensorMapEncodeTiled enc = tensor_map_encoder();
  if (enc == nullptr) return false;
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(cols), static_cast<cuuint64_t>(rows)};
  const cuuint64_t strides[1] = {static_cast<cuuint64_t>(ld) * 2};
  const cuuint32_t box[2] = {64, static_cast<cuuint32_t>(box_rows)};
  const cuuint32_t elem[2] = {1, 1};
  return enc(m, CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 2, const_cast<void*>(base), dims, strides, box, elem,
             CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
             CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

template <int BN, int STAGES>
bool launch(const Conv3x3x3Params& p, cudaStream_t stream) {
  using T = WgConv<BN, STAGES>;
  const int64_t rows = (p.tout + 2) * (p.h + 2) * (p.w + 2);  // P's rows causal_pad wrote
  WgMaps maps{};
  if (!encode_2d(&maps.a, p.p, p.cin, rows, p.cin, T::kBM) || !encode_2d(&maps.b, p.weight, p.ldk, p.cout, p.ldk, BN))
    return false;
  static const bool configured = [] {
    JENGA_CUDA_CHECK(cudaFuncSetAttribute(conv3x3x3_wgmma_kernel<BN, STAGES>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          T::kSmemBytes + T::kStatsBytes));
    return true;
  }();
  (void)configured;
  const int64_t tiles = (p.tout * (p.h + 2) * (p.w + 2) + T::kBM - 1) / T::kBM * ((p.cout + BN - 1) / BN);
  const int grid = static_cast<int>(std::min<int64_t>(tiles, device_shape().sms));
  const int smem = T::kSmemBytes + (p.stats ? T::kSlotBytes + static_cast<int>(2 * p.cout * sizeof(double)) : 0);
  conv3x3x3_wgmma_kernel<BN, STAGES><<<grid, T::kThreads, smem, stream>>>(p, maps);
  JENGA_CUDA_CHECK(cudaGetLastError());
  return true;
}

}  // namespace

bool conv3x3x3_wgmma_available() {
#if JENGA_HAVE_SM90A
  return device_shape().major == 9 && tensor_map_encoder() != nullptr;
#else
  return false;
#endif
}

bool conv3x3x3_wgmma(const Conv3x3x3Params& p, void* stream) {
  if (!conv3x3x3_wgmma_available() || p.cin % 64 != 0 || p.ldk % 8 != 0 || p.ldk < 27 * p.cin) return false;
  if (p.stats && p.cout > kMaxStatsChannels) throw Error("conv3x3x3_igemm: stats need cout <= 1024");
  const int64_t rows = (p.tout + 2) * (p.h + 2) * (p.w + 2);
  // TMA coordinates and the kernel's row arithmetic are 32-bit.
  if (rows + 128 > (int64_t{1} << 31) - 1 || 27 * p.cin > (int64_t{1} << 31) - 1 || p.tout <= 0 || p.cout <= 0)
    return false;
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  // N per tile: 32 for conv_out (3 channels), 256 where it divides cout, else 128. Slots fill ~190 KiB.
  const int bn = p.tile_n ? p.tile_n : p.cout <= 32 ? 32 : p.cout % 256 == 0 ? 256 : 128;
  if (bn == 32) return launch<32, 8>(p, s);
  if (bn == 256) return launch<256, 4>(p, s);
  if (bn == 128) return launch<128, 6>(p, s);
  throw Error("conv3x3x3_igemm: tile_n must be 0, 32, 128 or 256");
}

}  // namespace jenga::cuda
