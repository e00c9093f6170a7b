#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/im2col.h"
#include "backend/cuda/kernel_util.cuh"
#include "core/error_types.h"

namespace jenga::cuda {
namespace {

// Eight consecutive channels: loaded as floats, stored as bf16 (one 16-byte store) or f32.
__device__ void load8(const float* p, float (&v)[8]) {
  const float4 a = reinterpret_cast<const float4*>(p)[0], b = reinterpret_cast<const float4*>(p)[1];
  v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}
__device__ void load8(const __nv_bfloat16* p, float (&v)[8]) {
  const uint4 u = *reinterpret_cast<const uint4*>(p);
  const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&u);
  for (int i = 0; i < 4; ++i) {
    const float2 f = __bfloat1622float2(h[i]);
    v[2 * i] = f.x, v[2 * i + 1] = f.y;
  }
}
__device__ void store8(__nv_bfloat16* o, const float (&v)[8]) {
  uint4 u;
  __nv_bfloat162* h = reinterpret_cast<__nv_bfloat162*>(&u);
  for (int i = 0; i < 4; ++i) h[i] = __floats2bfloat162_rn(v[2 * i], v[2 * i + 1]);
  *reinterpret_cast<uint4*>(o) = u;
}
__device__ void store8(float* o, const float (&v)[8]) {
  reinterpret_cast<float4*>(o)[0] = make_float4(v[0], v[1], v[2], v[3]);
  reinterpret_cast<float4*>(o)[1] = make_float4(v[4], v[5], v[6], v[7]);
}

// One warp per im2col row (output pixel): the row's position is decoded once; lanes walk the
// (tap, channel group) pairs with incremental counters, so no per-element integer division.
constexpr int kIm2colWarps = 8;

template <typename T, typename O, int V>
__global__ void __launch_bounds__(kIm2colWarps * 32) im2col_kernel(Im2colParams p) {
  __shared__ int3 taps_s[64];  // (dt, di, dj) per tap; kt*kh*kw <= 64 checked on the host
  const int taps = p.kt * p.kh * p.kw;
  for (int t = threadIdx.x; t < taps; t += blockDim.x) taps_s[t] = make_int3(t / (p.kh * p.kw), (t / p.kw) % p.kh, t % p.kw);
  __syncthreads();
  const int groups = static_cast<int>(p.cin / V);
  const int64_t hs = p.up2 ? p.h / 2 : p.h, ws = p.up2 ? p.w / 2 : p.w, fs = hs * ws * p.cin;
  const T* s0 = static_cast<const T*>(p.src0);
  const T* s1 = static_cast<const T*>(p.src1);
  const int lane = threadIdx.x & 31;
  const int first_tap = lane / groups, first_g = lane % groups;
  const int step_tap = 32 / groups, step_g = 32 % groups;
  for (int64_t r = blockIdx.x * int64_t{kIm2colWarps} + threadIdx.x / 32; r < p.rows; r += int64_t{gridDim.x} * kIm2colWarps) {
    const int64_t row = p.row0 + r;
    const int64_t ox = row % p.wo, rest = row / p.wo, oy = rest % p.ho, j = rest / p.ho;
    const int64_t y0 = oy * p.stride - p.pad_top, x0 = ox * p.stride - p.pad_left;
    O* dst = static_cast<O*>(p.out) + r * p.ldk;
    int tap = first_tap, g = first_g;
    while (tap < taps) {
      const int3 d = taps_s[tap];
      const int64_t iy = y0 + d.y, ix = x0 + d.z;
      const bool inside = iy >= 0 && iy < p.h && ix >= 0 && ix < p.w;
      O* o = dst + static_cast<int64_t>(tap) * p.cin + g * V;
      const T* src = nullptr;
      if (inside) {
        const int64_t fw = j * p.tstride + d.x;
        const T* base = fw < p.n0 ? s0 + fw * fs : s1 + (fw - p.n0) * fs;
        const int64_t sy = p.up2 ? iy >> 1 : iy, sx = p.up2 ? ix >> 1 : ix;
        src = base + (sy * ws + sx) * p.cin + g * V;
      }
      if constexpr (V == 8 && std::is_same_v<T, __nv_bfloat16> && std::is_same_v<O, __nv_bfloat16>) {
        *reinterpret_cast<uint4*>(o) = src ? *reinterpret_cast<const uint4*>(src) : make_uint4(0, 0, 0, 0);
      } else if constexpr (V == 8) {
        float v[8] = {};
        if (src) load8(src, v);
        store8(o, v);
      } else {
        *o = to_out<O>(src ? static_cast<float>(*src) : 0.0f);
      }
      tap += step_tap, g += step_g;
      if (g >= groups) g -= groups, ++tap;
    }
  }
}

template <typename T, typename O>
void launch_im2col(const Im2colParams& p, cudaStream_t s) {
  const bool vec = p.cin % 8 == 0 && p.ldk % 8 == 0;
  const int64_t blocks = std::min<int64_t>((p.rows + kIm2colWarps - 1) / kIm2colWarps, int64_t{1} << 20);
  if (vec)
    im2col_kernel<T, O, 8><<<static_cast<unsigned>(blocks), kIm2colWarps * 32, 0, s>>>(p);
  else
    im2col_kernel<T, O, 1><<<static_cast<unsigned>(blocks), kIm2colWarps * 32, 0, s>>>(p);
}

__device__ int64_t clamp_index(int64_t v, int64_t n) { return v < 0 ? 0 : (v >= n ? n - 1 : v); }

__device__ void load_v(const __half* p, float (&v)[8]) {
  const uint4 u = *reinterpret_cast<const uint4*>(p);
  const __half2* h = reinterpret_cast<const __half2*>(&u);
  for (int i = 0; i < 4; ++i) {
    const float2 f = __half22float2(h[i]);
    v[2 * i] = f.x, v[2 * i + 1] = f.y;
  }
}
__device__ void load_v(const __half* p, float (&v)[1]) { v[0] = __half2float(*p); }
__device__ void store_v(__half* o, const float (&v)[8]) {
  uint4 u;
  __half2* h = reinterpret_cast<__half2*>(&u);
  for (int i = 0; i < 4; ++i) h[i] = __floats2half2_rn(v[2 * i], v[2 * i + 1]);
  *reinterpret_cast<uint4*>(o) = u;
}
__device__ void store_v(__half* o, const float (&v)[1]) { *o = __float2half_rn(v[0]); }

// One warp per im2col row, lanes over (tap, group of V channels) as im2col_kernel.
template <int V>
__global__ void __launch_bounds__(kIm2colWarps * 32) im2col_replicate_kernel(Im2colReplicateParams p) {
  __shared__ int3 taps_s[64];  // (dt, di, dj) per tap; kt*kh*kw <= 64 checked on the host
  const int taps = p.kt * p.kh * p.kw;
  for (int t = threadIdx.x; t < taps; t += blockDim.x) taps_s[t] = make_int3(t / (p.kh * p.kw), (t / p.kw) % p.kh, t % p.kw);
  __syncthreads();
  const int groups = static_cast<int>(p.cin / V);
  const int64_t hs = p.h / p.up_s, ws = p.w / p.up_s, k = int64_t{taps} * p.cin;
  const __half* x = static_cast<const __half*>(p.x);
  const int lane = threadIdx.x & 31;
  const int first_tap = lane / groups, first_g = lane % groups;
  const int step_tap = 32 / groups, step_g = 32 % groups;
  for (int64_t r = blockIdx.x * int64_t{kIm2colWarps} + threadIdx.x / 32; r < p.rows; r += int64_t{gridDim.x} * kIm2colWarps) {
    const int64_t row = p.row0 + r;
    const int64_t ox = row % p.wo, rest = row / p.wo, oy = rest % p.ho, j = rest / p.ho;
    __half* dst = static_cast<__half*>(p.out) + r * p.ldk;
    int tap = first_tap, g = first_g;
    while (tap < taps) {
      const int3 d = taps_s[tap];
      const int64_t fw = j * p.tstride + d.x - (p.kt - 1);
      const int64_t fl = fw < 0 ? 0 : fw;
      const int64_t fs = fl == 0 ? 0 : 1 + (fl - 1) / p.up_t;
      const int64_t iy = clamp_index(oy * p.sstride + d.y - p.kh / 2, p.h) / p.up_s;
      const int64_t ix = clamp_index(ox * p.sstride + d.z - p.kw / 2, p.w) / p.up_s;
      const int64_t c0 = int64_t{g} * V;
      float v[V];
      load_v(x + ((fs * hs + iy) * ws + ix) * p.cin + c0, v);
      if (p.scale) {
#pragma unroll
        for (int i = 0; i < V; ++i) v[i] = v[i] * p.scale[c0 + i] + p.shift[c0 + i];
      }
      if (p.silu) {
#pragma unroll
        for (int i = 0; i < V; ++i) v[i] = v[i] / (1.0f + __expf(-v[i]));
      }
      store_v(dst + tap * p.cin + c0, v);
      tap += step_tap, g += step_g;
      if (g >= groups) g -= groups, ++tap;
    }
    for (int64_t col = k + lane; col < p.ldk; col += 32) dst[col] = __float2half_rn(0.0f);
  }
}

}  // namespace

void im2col(const Im2colParams& p, void* stream) {
  if (p.rows <= 0) return;
  if (p.kt * p.kh * p.kw > 64) throw Error("im2col: kernels of more than 64 taps are not supported");
  if (p.f32_input && p.out_f32)
    launch_im2col<float, float>(p, as_stream(stream));
  else if (p.f32_input)
    launch_im2col<float, __nv_bfloat16>(p, as_stream(stream));
  else if (p.out_f32)
    launch_im2col<__nv_bfloat16, float>(p, as_stream(stream));
  else
    launch_im2col<__nv_bfloat16, __nv_bfloat16>(p, as_stream(stream));
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void im2col_replicate(const Im2colReplicateParams& p, void* stream) {
  if (p.rows <= 0) return;
  if (p.kt * p.kh * p.kw > 64) throw Error("im2col_replicate: kernels of more than 64 taps are not supported");
  if (p.up_t < 1 || p.up_s < 1 || p.h % p.up_s || p.w % p.up_s) throw Error("im2col_replicate: bad upsample factors");
  const int64_t blocks = std::min<int64_t>((p.rows + kIm2colWarps - 1) / kIm2colWarps, int64_t{1} << 20);
  const bool vec = p.cin % 8 == 0 && p.ldk % 8 == 0;
  if (vec)
    im2col_replicate_kernel<8><<<static_cast<unsigned>(blocks), kIm2colWarps * 32, 0, as_stream(stream)>>>(p);
  else
    im2col_replicate_kernel<1><<<static_cast<unsigned>(blocks), kIm2colWarps * 32, 0, as_stream(stream)>>>(p);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda
