#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "backend/cuda/attention/mma.cuh"
#include "backend/cuda/conv3d_epilogue.cuh"
#include "backend/cuda/conv3d_igemm.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernel_util.cuh"
#include "core/error_types.h"

namespace jenga::cuda {
namespace {

// Block tile 128 x 128 x 32, 8 warps of 64 x 32, a 4-stage cp.async pipeline (64 KiB of shared memory).
constexpr int kBM = 128, kBN = 128, kBK = 32, kStages = 4, kConvThreads = 256;
constexpr int kTileHalves = kBM * kBK;  // one operand tile of one stage (kBN == kBM)
constexpr size_t kSmemBytes = size_t{kStages} * 2 * kTileHalves * sizeof(__half);

__device__ __forceinline__ int64_t clampi(int64_t v, int64_t n) { return v < 0 ? 0 : (v >= n ? n - 1 : v); }

// One block per padded row (frame f, row yy): the source row is found once, threads walk the
// row's (pixel, 8-channel group) pairs with 32-bit indices. With the block a multiple of the
// groups per pixel (every VAE width), a thread keeps one channel group: its 8 scales and shifts
// are read once and the pixel index steps by a constant.
__global__ void causal_pad_kernel(CausalPadParams p) {
  const int64_t hp = p.h + 2, wp = p.w + 2;
  const int cv = static_cast<int>(p.cin / 8), n = static_cast<int>(wp) * cv;
  const int64_t hs = p.h / p.up_s, ws = p.w / p.up_s;
  const int64_t yy = blockIdx.x % hp, f = blockIdx.x / hp;
  const int64_t lf = p.j0 + f - 2 < 0 ? 0 : p.j0 + f - 2;
  const int64_t fs = lf == 0 ? 0 : 1 + (lf - 1) / p.up_t;
  const __half* src_row = static_cast<const __half*>(p.x) + (fs * hs + clampi(yy - 1, p.h) / p.up_s) * ws * p.cin;
  uint4* dst_row = reinterpret_cast<uint4*>(p.out) + int64_t{blockIdx.x} * n;
  const bool fixed = blockDim.x % cv == 0;
  float sc[8], sh[8];
  auto load_coeffs = [&](int c0) {
#pragma unroll
    for (int k = 0; k < 8; ++k) sc[k] = p.scale[c0 + k], sh[k] = p.shift[c0 + k];
  };
  if (fixed && p.scale) load_coeffs(static_cast<int>(threadIdx.x) % cv * 8);
  const int step_x = static_cast<int>(blockDim.x) / cv;  // pixels per block step when fixed
  int xx = static_cast<int>(threadIdx.x) / cv;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    if (!fixed) xx = i / cv;
    const int c0 = (i - xx * cv) * 8;
    if (!fixed && p.scale) load_coeffs(c0);
    const int sx = static_cast<int>(clampi(xx - 1, p.w)) / p.up_s;
    uint4 u = *reinterpret_cast<const uint4*>(src_row + int64_t{sx} * p.cin + c0);
    if (p.scale || p.silu) {
      __half2* h2 = reinterpret_cast<__half2*>(&u);
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        float2 f2 = __half22float2(h2[k]);
        if (p.scale) {
          f2.x = f2.x * sc[2 * k] + sh[2 * k];
          f2.y = f2.y * sc[2 * k + 1] + sh[2 * k + 1];
        }
        if (p.silu) {
          f2.x = f2.x / (1.0f + __expf(-f2.x));
          f2.y = f2.y / (1.0f + __expf(-f2.y));
        }
        h2[k] = __floats2half2_rn(f2.x, f2.y);
      }
    }
    dst_row[i] = u;
    if (fixed) xx += step_x;
  }
}

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
  const uint32_t s = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  const int n = valid ? 16 : 0;  // 0: zero-fill
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(n) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// Offset (halves) of 16-byte chunk ch (0..3) of a 64-byte tile row, XOR-swizzled so that the 8
// rows one ldmatrix phase reads fall in 8 different bank groups.
__device__ __forceinline__ int swz(int row, int ch) { return row * kBK + ((ch ^ ((row >> 1) & 3)) << 3); }

__global__ void __launch_bounds__(kConvThreads) conv3x3x3_kernel(Conv3x3x3Params p) {
  extern __shared__ __align__(128) unsigned char smem_raw[];
  __half* As = reinterpret_cast<__half*>(smem_raw);  // [kStages][kBM][kBK]
  __half* Bs = As + kStages * kTileHalves;           // [kStages][kBN][kBK]
  __shared__ double col_stats[2 * kBN];  // this block's columns' (sum, sum of squares), with p.stats
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int warp_m = warp >> 2, warp_n = warp & 3;
  if (p.stats) {
    for (int i = tid; i < 2 * kBN; i += kConvThreads) col_stats[i] = 0.0;  // the main loop's barriers order this
  }
  const int64_t hp = p.h + 2, wp = p.w + 2;
  // Column blocks of one row block are neighbours in launch order, so they share its P rows in L2.
  const int nb = static_cast<int>((p.cout + kBN - 1) / kBN);
  const int64_t r0 = static_cast<int64_t>(blockIdx.x / nb) * kBM;
  const int n0 = static_cast<int>(blockIdx.x % nb) * kBN;
  const __half* P = static_cast<const __half*>(p.p);
  const __half* W = static_cast<const __half*>(p.weight);
  const int csteps = static_cast<int>(p.cin / kBK), ktiles = 27 * csteps;

  auto load = [&](int kt, int stage) {
    const int tap = kt / csteps, c0 = (kt % csteps) * kBK;
    const int dt = tap / 9, di = (tap / 3) % 3, dj = tap % 3;
    const int64_t off = (dt * hp + di) * wp + dj;
    __half* as = As + stage * kTileHalves;
    __half* bs = Bs + stage * kTileHalves;
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int id = tid + i * kConvThreads;
      const int row = id >> 2, ch = id & 3;
      cp_async16(as + swz(row, ch), P + (r0 + row + off) * p.cin + c0 + ch * 8, true);
      const int n = n0 + row;
      const bool ok = n < p.cout;
      cp_async16(bs + swz(row, ch), W + (ok ? n : 0) * p.ldk + int64_t{tap} * p.cin + c0 + ch * 8, ok);
    }
  };

  float acc[4][4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int k = 0; k < 4; ++k) acc[i][j][k] = 0.0f;

#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < ktiles) load(s, s);
    cp_async_commit();
  }
  for (int kt = 0; kt < ktiles; ++kt) {
    cp_async_wait<kStages - 2>();
    __syncthreads();  // tile kt is in; every warp is done with the stage reloaded next
    const int nk = kt + kStages - 1;
    if (nk < ktiles) load(nk, nk % kStages);
    cp_async_commit();
    const __half* as = As + (kt % kStages) * kTileHalves;
    const __half* bs = Bs + (kt % kStages) * kTileHalves;
#pragma unroll
    for (int k16 = 0; k16 < kBK / 16; ++k16) {
      uint32_t a[4][4], b[4][2];
#pragma unroll
      for (int mi = 0; mi < 4; ++mi)
        attn::ldmatrix_x4(a[mi], as + swz(warp_m * 64 + mi * 16 + (lane & 15), k16 * 2 + (lane >> 4)));
#pragma unroll
      for (int nj = 0; nj < 2; ++nj) {
        uint32_t r[4];
        attn::ldmatrix_x4(r, bs + swz(warp_n * 32 + nj * 16 + (lane & 7) + ((lane >> 4) << 3), k16 * 2 + ((lane >> 3) & 1)));
        b[2 * nj][0] = r[0], b[2 * nj][1] = r[1], b[2 * nj + 1][0] = r[2], b[2 * nj + 1][1] = r[3];
      }
#pragma unroll
      for (int mi = 0; mi < 4; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni) attn::mma_f16(acc[mi][ni], a[mi], b[ni][0], b[ni][1]);
    }
  }
  cp_async_wait<0>();

  // Epilogue: rows of the padded grid that are real pixels, + bias (+ the old value), one rounding;
  // with stats, the per-channel sums of the stored values go through shared memory to p.stats.
  const int g = lane >> 2, t4 = lane & 3;
  int64_t orow[4][2];
#pragma unroll
  for (int mi = 0; mi < 4; ++mi)
#pragma unroll
    for (int hf = 0; hf < 2; ++hf) orow[mi][hf] = conv_out_offset(p, r0 + warp_m * 64 + mi * 16 + g + hf * 8);
#pragma unroll
  for (int ni = 0; ni < 4; ++ni) {
    const int cl = warp_n * 32 + ni * 8 + 2 * t4;  // column within the block
    float4 s = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
    for (int mi = 0; mi < 4; ++mi)
#pragma unroll
      for (int hf = 0; hf < 2; ++hf) {
        if (orow[mi][hf] < 0) continue;
        const float2 v = conv_store_pair(p, orow[mi][hf], n0 + cl, acc[mi][ni][2 * hf], acc[mi][ni][2 * hf + 1]);
        s.x += v.x, s.y += v.x * v.x, s.z += v.y, s.w += v.y * v.y;
      }
    if (p.stats) conv_stats_add(col_stats, cl, static_cast<int>(p.cout) - n0, s, lane);
  }
  if (p.stats) {
    __syncthreads();
    for (int i = tid; i < 2 * kBN; i += kConvThreads)
      if (n0 + i / 2 < p.cout) atomicAdd(&p.stats[2 * int64_t{n0} + i], col_stats[i]);
  }
}

}  // namespace

void causal_pad(const CausalPadParams& p, void* stream) {
  if (p.cin % 8 != 0) throw Error("causal_pad: channels must be a multiple of 8");
  if (p.up_t < 1 || p.up_s < 1 || p.h % p.up_s || p.w % p.up_s) throw Error("causal_pad: bad upsample factors");
  const int64_t rows = p.tp * (p.h + 2);
  if (rows <= 0) return;
  if (rows > (int64_t{1} << 31) - 1 || (p.w + 2) * (p.cin / 8) > (int64_t{1} << 31) - 1)
    throw Error("causal_pad: clip too large");
  causal_pad_kernel<<<static_cast<unsigned>(rows), 256, 0, as_stream(stream)>>>(p);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void conv3x3x3_stats_clear(double* stats, int64_t cout, void* stream) {
  JENGA_CUDA_CHECK(cudaMemsetAsync(stats, 0, sizeof(double) * 2 * static_cast<size_t>(cout), as_stream(stream)));
}

int64_t conv3x3x3_slack_rows(int64_t w) { return kBM + 2 * (w + 2) + 8; }

bool conv3x3x3_uses_wgmma(const Conv3x3x3Params& p) {
  return p.path == Conv3x3x3Path::kFastest && p.cin % 64 == 0 && conv3x3x3_wgmma_available();
}

void conv3x3x3_igemm(const Conv3x3x3Params& p, void* stream) {
  if (p.cin % kBK != 0 || p.ldk % 8 != 0 || p.ldk < 27 * p.cin)
    throw Error("conv3x3x3_igemm: needs cin % 32 == 0 and ldk >= 27 cin, ldk % 8 == 0");
  if (p.stats && p.cout > kMaxStatsChannels) throw Error("conv3x3x3_igemm: stats need cout <= 1024");
  const int64_t M = p.tout * (p.h + 2) * (p.w + 2);
  if (M <= 0 || p.cout <= 0) return;
  if (conv3x3x3_uses_wgmma(p) && conv3x3x3_wgmma(p, stream)) return;
  static bool configured = false;  // the 64 KiB of dynamic shared memory need an opt-in, once
  if (!configured) {
    JENGA_CUDA_CHECK(
        cudaFuncSetAttribute(conv3x3x3_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(kSmemBytes)));
    configured = true;
  }
  const int64_t blocks = (M + kBM - 1) / kBM * ((p.cout + kBN - 1) / kBN);
  if (blocks > (int64_t{1} << 31) - 1) throw Error("conv3x3x3_igemm: clip too large");
  conv3x3x3_kernel<<<static_cast<unsigned>(blocks), kConvThreads, kSmemBytes, as_stream(stream)>>>(p);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda
