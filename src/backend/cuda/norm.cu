#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/elementwise.h"
#include "backend/cuda/kernel_util.cuh"
#include "backend/cuda/norm.h"

namespace jenga::cuda {
namespace {

template <typename Out>
__global__ void layer_norm_modulate_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                           const float* __restrict__ b, const float* __restrict__ shift,
                                           const float* __restrict__ scale, Out* __restrict__ y, int64_t dim,
                                           float eps, RowModulation alt) {
  if (alt_row(alt.mask, alt.rows, blockIdx.x)) {
    if (shift) shift += alt.offset;
    if (scale) scale += alt.offset;
  }
  const float* xr = x + blockIdx.x * dim;
  float s = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += kThreads) s += xr[i];
  const float mean = block_sum(s) / static_cast<float>(dim);
  float v = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += kThreads) {
    const float d = xr[i] - mean;
    v += d * d;
  }
  const float rstd = rsqrtf(block_sum(v) / static_cast<float>(dim) + eps);
  Out* yr = y + blockIdx.x * dim;
  for (int64_t i = threadIdx.x; i < dim; i += kThreads) {
    float t = (xr[i] - mean) * rstd;
    if (w) t = t * w[i] + b[i];
    if (scale) t = t * (1.0f + scale[i]);
    if (shift) t += shift[i];
    yr[i] = to_out<Out>(t);
  }
}

__global__ void rms_norm_kernel(const __nv_bfloat16* x, int64_t x_stride, const float* __restrict__ w,
                                __nv_bfloat16* y, int64_t y_stride, int64_t dim, float eps) {
  const __nv_bfloat16* xr = x + blockIdx.x * x_stride;
  float s = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += kThreads) {
    const float t = __bfloat162float(xr[i]);
    s += t * t;
  }
  const float r = rsqrtf(block_sum(s) / static_cast<float>(dim) + eps);
  __nv_bfloat16* yr = y + blockIdx.x * y_stride;
  for (int64_t i = threadIdx.x; i < dim; i += kThreads)
    yr[i] = __float2bfloat16_rn(__bfloat162float(xr[i]) * r * w[i]);
}

// LayerNorm (+ affine, + modulation) with the row in registers, float4 loads. With ADD the
// residual update x += y * gate (gate null = 1) comes first and is written back: one pass over x.
template <int VPT, bool ADD>
__global__ void layer_norm_modulate_vec_kernel(float* __restrict__ x, const __nv_bfloat16* __restrict__ add,
                                               const float* __restrict__ gate, const float* __restrict__ w,
                                               const float* __restrict__ b, const float* __restrict__ shift,
                                               const float* __restrict__ scale, __nv_bfloat16* __restrict__ y, int dim,
                                               float eps, RowModulation alt) {
  if (alt_row(alt.mask, alt.rows, blockIdx.x)) {
    if (gate) gate += alt.offset;
    if (shift) shift += alt.offset;
    if (scale) scale += alt.offset;
  }
  float4* xr = reinterpret_cast<float4*>(x + blockIdx.x * static_cast<int64_t>(dim));
  const int nv = dim / 4;
  float4 v[VPT];
  float s = 0.0f;
#pragma unroll
  for (int u = 0; u < VPT; ++u) {
    const int idx = threadIdx.x + u * blockDim.x;
    if (idx >= nv) continue;
    v[u] = xr[idx];
    if constexpr (ADD) {
      const uint2 av = reinterpret_cast<const uint2*>(add + blockIdx.x * static_cast<int64_t>(dim))[idx];
      const float2 a0 = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&av.x));
      const float2 a1 = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&av.y));
      const float4 g = gate ? reinterpret_cast<const float4*>(gate)[idx] : make_float4(1.0f, 1.0f, 1.0f, 1.0f);
      v[u].x += a0.x * g.x, v[u].y += a0.y * g.y, v[u].z += a1.x * g.z, v[u].w += a1.y * g.w;
      xr[idx] = v[u];
    }
    s += (v[u].x + v[u].y) + (v[u].z + v[u].w);
  }
  const float mean = block_sum2(make_float2(s, 0.0f)).x / static_cast<float>(dim);
  float q = 0.0f;
#pragma unroll
  for (int u = 0; u < VPT; ++u) {
    const int idx = threadIdx.x + u * blockDim.x;
    if (idx >= nv) continue;
    const float a = v[u].x - mean, bb = v[u].y - mean, c = v[u].z - mean, d = v[u].w - mean;
    q += (a * a + bb * bb) + (c * c + d * d);
  }
  __syncthreads();  // block_sum2's shared slots are reused
  const float rstd = rsqrtf(block_sum2(make_float2(q, 0.0f)).x / static_cast<float>(dim) + eps);
  uint2* yr = reinterpret_cast<uint2*>(y + blockIdx.x * static_cast<int64_t>(dim));
#pragma unroll
  for (int u = 0; u < VPT; ++u) {
    const int idx = threadIdx.x + u * blockDim.x;
    if (idx >= nv) continue;
    float t[4] = {(v[u].x - mean) * rstd, (v[u].y - mean) * rstd, (v[u].z - mean) * rstd, (v[u].w - mean) * rstd};
    if (w) {
      const float4 wv = reinterpret_cast<const float4*>(w)[idx], bv = reinterpret_cast<const float4*>(b)[idx];
      t[0] = t[0] * wv.x + bv.x, t[1] = t[1] * wv.y + bv.y, t[2] = t[2] * wv.z + bv.z, t[3] = t[3] * wv.w + bv.w;
    }
    if (scale) {
      const float4 sc = reinterpret_cast<const float4*>(scale)[idx];
      t[0] *= 1.0f + sc.x, t[1] *= 1.0f + sc.y, t[2] *= 1.0f + sc.z, t[3] *= 1.0f + sc.w;
    }
    if (shift) {
      const float4 sh = reinterpret_cast<const float4*>(shift)[idx];
      t[0] += sh.x, t[1] += sh.y, t[2] += sh.z, t[3] += sh.w;
    }
    uint2 o;
    *reinterpret_cast<__nv_bfloat162*>(&o.x) = __floats2bfloat162_rn(t[0], t[1]);
    *reinterpret_cast<__nv_bfloat162*>(&o.y) = __floats2bfloat162_rn(t[2], t[3]);
    yr[idx] = o;
  }
}

// RMSNorm of bf16 rows (strided) with the row in registers, 8-element vectors.
template <int VPT>
__global__ void rms_norm_vec_kernel(const __nv_bfloat16* x, int64_t x_stride, const float* __restrict__ w,
                                    __nv_bfloat16* y, int64_t y_stride, int dim, float eps) {
  const uint4* xr = reinterpret_cast<const uint4*>(x + blockIdx.x * x_stride);
  const int nv = dim / 8;
  uint4 v[VPT];
  float s = 0.0f;
#pragma unroll
  for (int u = 0; u < VPT; ++u) {
    const int idx = threadIdx.x + u * blockDim.x;
    if (idx >= nv) continue;
    v[u] = xr[idx];
    s += sum_squares8(v[u]);
  }
  const float r = rsqrtf(block_sum2(make_float2(s, 0.0f)).x / static_cast<float>(dim) + eps);
  uint4* yr = reinterpret_cast<uint4*>(y + blockIdx.x * y_stride);
#pragma unroll
  for (int u = 0; u < VPT; ++u) {
    const int idx = threadIdx.x + u * blockDim.x;
    if (idx >= nv) continue;
    const float4 w0 = reinterpret_cast<const float4*>(w)[2 * idx], w1 = reinterpret_cast<const float4*>(w)[2 * idx + 1];
    const float wv[8] = {w0.x, w0.y, w0.z, w0.w, w1.x, w1.y, w1.z, w1.w};
    __nv_bfloat162* p = reinterpret_cast<__nv_bfloat162*>(&v[u]);
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const float2 f = __bfloat1622float2(p[e]);
      p[e] = __floats2bfloat162_rn(f.x * r * wv[2 * e], f.y * r * wv[2 * e + 1]);
    }
    yr[idx] = v[u];
  }
}

// One block per row.
template <typename Out>
__global__ void rms_norm_f32_kernel(const float* __restrict__ x, const float* __restrict__ w, Out* __restrict__ y,
                                   int64_t dim, float eps) {
  const float* xr = x + blockIdx.x * dim;
  float s = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += kThreads) s += xr[i] * xr[i];
  const float r = rsqrtf(block_sum(s) / static_cast<float>(dim) + eps);
  Out* yr = y + blockIdx.x * dim;
  for (int64_t i = threadIdx.x; i < dim; i += kThreads) yr[i] = to_out<Out>(xr[i] * r * w[i]);
}

// One warp per pixel.
template <typename O>
__global__ void l2_normalize_scale_kernel(const float* x, const float* gamma, O* y, int64_t pixels, int64_t c, bool silu) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t{gridDim.x} * (blockDim.x / 32);
  for (int64_t p = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / 32; p < pixels; p += warps) {
    const float* xi = x + p * c;
    float ss = 0.0f;
    for (int64_t i = lane; i < c; i += 32) ss += xi[i] * xi[i];
    ss = warp_sum(ss);
    const float inv = sqrtf(static_cast<float>(c)) / fmaxf(sqrtf(ss), 1e-12f);
    O* yo = y + p * c;
    for (int64_t i = lane; i < c; i += 32) {
      float v = xi[i] * inv * gamma[i];
      if (silu) v = v / (1.0f + expf(-v));
      yo[i] = to_out<O>(v);
    }
  }
}

// Per-channel sum and sum of squares of x [n, c] fp16 in double: block partials in shared memory,
// then once per block into sums [2c]. The host makes the grid stride (in vectors of V channels) a
// multiple of c / V, so each thread always sees the same V channels and sums them in registers.
template <int V>
__global__ void channel_sums_kernel(const __half* x, int64_t n, int64_t c, double* sums) {
  extern __shared__ double s[];
  for (int64_t i = threadIdx.x; i < 2 * c; i += blockDim.x) s[i] = 0.0;
  __syncthreads();
  const int64_t cv = c / V, vecs = n * cv, stride = int64_t{gridDim.x} * blockDim.x;
  const int64_t first = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  double sum[V] = {}, sq[V] = {};
  for (int64_t e = first; e < vecs; e += stride) {
    float v[V];
    if constexpr (V == 8) {
      const uint4 u = reinterpret_cast<const uint4*>(x)[e];
      const __half2* h = reinterpret_cast<const __half2*>(&u);
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float2 f = __half22float2(h[i]);
        v[2 * i] = f.x, v[2 * i + 1] = f.y;
      }
    } else {
      v[0] = __half2float(x[e]);
    }
#pragma unroll
    for (int i = 0; i < V; ++i) sum[i] += v[i], sq[i] += double(v[i]) * v[i];
  }
  if (first < vecs) {
    const int64_t c0 = (first % cv) * V;
#pragma unroll
    for (int i = 0; i < V; ++i) {
      atomicAdd(&s[2 * (c0 + i)], sum[i]);
      atomicAdd(&s[2 * (c0 + i) + 1], sq[i]);
    }
  }
  __syncthreads();
  for (int64_t i = threadIdx.x; i < 2 * c; i += blockDim.x) atomicAdd(&sums[i], s[i]);
}

__global__ void group_coeffs_kernel(const double* sums, int64_t n, int64_t c, int64_t groups, const float* weight,
                                    const float* bias, float eps, float* scale, float* shift) {
  const int64_t ch = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (ch >= c) return;
  const int64_t cg = c / groups, g0 = ch / cg * cg;
  double sum = 0.0, sq = 0.0;
  for (int64_t i = g0; i < g0 + cg; ++i) sum += sums[2 * i], sq += sums[2 * i + 1];
  const double count = static_cast<double>(n) * cg;
  const double mean = sum / count;
  const double var = fmax(0.0, sq / count - mean * mean);
  const double inv = 1.0 / sqrt(var + static_cast<double>(eps));
  scale[ch] = static_cast<float>(inv * weight[ch]);
  shift[ch] = static_cast<float>(bias[ch] - mean * inv * weight[ch]);
}

// The row-in-registers LayerNorm, when the shapes and pointers allow it; false otherwise.
bool launch_ln_vec(float* x, const void* add, const float* gate, const float* w, const float* b, const float* shift,
                   const float* scale, void* y, int64_t rows, int64_t dim, float eps, void* stream,
                   const RowModulation& alt) {
  const bool ok = dim % 4 == 0 && dim / 4 <= 2 * 1024 && aligned16(x) && aligned16(y) &&
                  (!w || (aligned16(w) && aligned16(b))) && (!shift || aligned16(shift)) &&
                  (!scale || aligned16(scale)) && (!add || (dim % 8 == 0 && aligned16(add))) && (!gate || aligned16(gate)) &&
                  (!alt.mask || alt.offset % 4 == 0);
  if (!ok) return false;
  const unsigned threads = row_threads(dim / 4, 2);
  const auto st = static_cast<cudaStream_t>(stream);
  auto* out = static_cast<__nv_bfloat16*>(y);
  const auto* a = static_cast<const __nv_bfloat16*>(add);
  if (add)
    layer_norm_modulate_vec_kernel<2, true><<<static_cast<unsigned>(rows), threads, 0, st>>>(
        x, a, gate, w, b, shift, scale, out, static_cast<int>(dim), eps, alt);
  else
    layer_norm_modulate_vec_kernel<2, false><<<static_cast<unsigned>(rows), threads, 0, st>>>(
        x, nullptr, nullptr, w, b, shift, scale, out, static_cast<int>(dim), eps, alt);
  JENGA_CUDA_CHECK(cudaGetLastError());
  return true;
}

}  // namespace

void layer_norm_modulate(const float* x, const float* w, const float* b, const float* shift, const float* scale,
                         void* y, int64_t rows, int64_t dim, float eps, void* stream, const RowModulation& alt) {
  if (rows == 0) return;
  // The vector kernel only writes x when it adds a residual.
  if (launch_ln_vec(const_cast<float*>(x), nullptr, nullptr, w, b, shift, scale, y, rows, dim, eps, stream, alt)) return;
  layer_norm_modulate_kernel<__nv_bfloat16><<<static_cast<unsigned>(rows), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      x, w, b, shift, scale, static_cast<__nv_bfloat16*>(y), dim, eps, alt);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void layer_norm_f32(const float* x, const float* w, const float* b, void* y, bool y_f16, int64_t rows, int64_t dim,
                    float eps, void* stream) {
  if (rows == 0) return;
  const unsigned g = static_cast<unsigned>(rows);
  if (y_f16)
    layer_norm_modulate_kernel<__half><<<g, kThreads, 0, as_stream(stream)>>>(x, w, b, nullptr, nullptr,
                                                                             static_cast<__half*>(y), dim, eps,
                                                                             RowModulation{});
  else
    layer_norm_modulate_kernel<float><<<g, kThreads, 0, as_stream(stream)>>>(x, w, b, nullptr, nullptr,
                                                                            static_cast<float*>(y), dim, eps,
                                                                            RowModulation{});
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void add_layer_norm_modulate(float* x, const void* add, const float* gate, const float* w, const float* b,
                             const float* shift, const float* scale, void* y, int64_t rows, int64_t dim, float eps,
                             void* stream, const RowModulation& alt) {
  if (rows == 0) return;
  if (launch_ln_vec(x, add, gate, w, b, shift, scale, y, rows, dim, eps, stream, alt)) return;
  gated_residual_add(x, add, gate, rows, dim, stream, alt);
  layer_norm_modulate(x, w, b, shift, scale, y, rows, dim, eps, stream, alt);
}

void rms_norm(const void* x, int64_t x_stride, const float* w, void* y, int64_t y_stride, int64_t rows,
              int64_t dim, float eps, void* stream) {
  if (rows == 0) return;
  if (dim % 8 == 0 && dim / 8 <= 2 * 1024 && x_stride % 8 == 0 && y_stride % 8 == 0 && aligned16(x) && aligned16(y) &&
      aligned16(w)) {
    rms_norm_vec_kernel<2><<<static_cast<unsigned>(rows), row_threads(dim / 8, 2), 0, static_cast<cudaStream_t>(stream)>>>(
        static_cast<const __nv_bfloat16*>(x), x_stride, w, static_cast<__nv_bfloat16*>(y), y_stride, static_cast<int>(dim),
        eps);
    JENGA_CUDA_CHECK(cudaGetLastError());
    return;
  }
  rms_norm_kernel<<<static_cast<unsigned>(rows), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      static_cast<const __nv_bfloat16*>(x), x_stride, w, static_cast<__nv_bfloat16*>(y), y_stride, dim, eps);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void rms_norm_f32(const float* x, const float* w, void* y, bool y_f32, int64_t rows, int64_t dim, float eps,
                 void* stream) {
  if (rows == 0) return;
  const unsigned g = static_cast<unsigned>(rows);
  if (y_f32)
    rms_norm_f32_kernel<float><<<g, kThreads, 0, as_stream(stream)>>>(x, w, static_cast<float*>(y), dim, eps);
  else
    rms_norm_f32_kernel<__nv_bfloat16><<<g, kThreads, 0, as_stream(stream)>>>(x, w, static_cast<__nv_bfloat16*>(y), dim, eps);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void rms_norm_f32_to_f16(const float* x, const float* w, void* y, int64_t rows, int64_t dim, float eps, void* stream) {
  if (rows == 0) return;
  rms_norm_f32_kernel<__half><<<static_cast<unsigned>(rows), kThreads, 0, as_stream(stream)>>>(
      x, w, static_cast<__half*>(y), dim, eps);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void l2_normalize_scale(const float* x, const float* gamma, void* y, bool y_f32, int64_t pixels, int64_t c, bool silu,
                        void* stream) {
  if (pixels <= 0) return;
  if (y_f32)
    l2_normalize_scale_kernel<<<blocks_for(pixels * 32, 256), 256, 0, as_stream(stream)>>>(x, gamma, static_cast<float*>(y),
                                                                                    pixels, c, silu);
  else
    l2_normalize_scale_kernel<<<blocks_for(pixels * 32, 256), 256, 0, as_stream(stream)>>>(
        x, gamma, static_cast<__nv_bfloat16*>(y), pixels, c, silu);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void group_norm_coeffs(const void* x, int64_t n, int64_t c, int64_t groups, const float* weight, const float* bias,
                       float eps, double* sums, float* scale, float* shift, void* stream) {
  if (groups < 1 || c % groups != 0) throw Error("group_norm_coeffs: channels not divisible by the groups");
  if (2 * c * sizeof(double) > 48 * 1024) throw Error("group_norm_coeffs: more than 3072 channels");
  const auto st = as_stream(stream);
  JENGA_CUDA_CHECK(cudaMemsetAsync(sums, 0, sizeof(double) * 2 * c, st));
  const size_t smem = sizeof(double) * 2 * c;
  // Threads in the grid: a multiple of the vectors per pixel (c / V), so channels stay fixed per thread.
  const bool vec = c % 8 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0;
  const int64_t cv = vec ? c / 8 : c;
  const int64_t vecs = n * cv;
  int64_t threads = 256;
  if (threads % cv != 0) threads = cv <= 1024 ? cv : 0;  // one pixel per block-stride step
  if (threads == 0) throw Error("group_norm_coeffs: more than 1024 channel vectors");
  const int64_t blocks = std::max<int64_t>(1, std::min<int64_t>((vecs + threads - 1) / threads, 1024));
  if (vec)
    channel_sums_kernel<8><<<static_cast<unsigned>(blocks), static_cast<unsigned>(threads), smem, st>>>(
        static_cast<const __half*>(x), n, c, sums);
  else
    channel_sums_kernel<1><<<static_cast<unsigned>(blocks), static_cast<unsigned>(threads), smem, st>>>(
        static_cast<const __half*>(x), n, c, sums);
  JENGA_CUDA_CHECK(cudaGetLastError());
  group_norm_coeffs_from_sums(sums, n, c, groups, weight, bias, eps, scale, shift, stream);
}

void group_norm_coeffs_from_sums(const double* sums, int64_t n, int64_t c, int64_t groups, const float* weight,
                                 const float* bias, float eps, float* scale, float* shift, void* stream) {
  if (groups < 1 || c % groups != 0) throw Error("group_norm_coeffs: channels not divisible by the groups");
  group_coeffs_kernel<<<blocks_for(c, 256), 256, 0, as_stream(stream)>>>(sums, n, c, groups, weight, bias, eps, scale,
                                                                          shift);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda
