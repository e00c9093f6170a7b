#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernel_util.cuh"
#include "backend/cuda/norm.h"
#include "backend/cuda/rope.h"

namespace jenga::cuda {
namespace {

__global__ void rope_interleaved_kernel(__nv_bfloat16* x, const float2* __restrict__ cs, int64_t rows, int64_t heads,
                            int64_t half, int64_t row_stride) {
  const int64_t n = rows * heads * half;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t j = i % half;
    const int64_t h = (i / half) % heads;
    const int64_t r = i / (half * heads);
    __nv_bfloat162* p = reinterpret_cast<__nv_bfloat162*>(x + r * row_stride + h * 2 * half) + j;
    const float2 v = __bfloat1622float2(*p);
    const float2 c = cs[r * half + j];
    *p = __floats2bfloat162_rn(v.x * c.x - v.y * c.y, v.x * c.y + v.y * c.x);
  }
}

// One row per block, the row held in registers (VPT 8-element vectors a thread): one read, one
// write of q and k, where norm + RoPE as separate kernels read and write them twice.
template <int VPT>
__global__ void qk_norm_rope_kernel(__nv_bfloat16* qkv, int64_t row_stride, const float* __restrict__ wq,
                                    const float* __restrict__ wk, const float2* __restrict__ cs, int dim,
                                    int head_dim, float eps) {
  uint4* row = reinterpret_cast<uint4*>(qkv + blockIdx.x * row_stride);
  const int nvh = dim / 8;  // vectors of q (k follows: q and k are contiguous in the fused row)
  uint4 v[VPT];
  float2 ss = make_float2(0.0f, 0.0f);
#pragma unroll
  for (int u = 0; u < VPT; ++u) {
    const int idx = threadIdx.x + u * blockDim.x;
    if (idx >= 2 * nvh) continue;
    v[u] = row[idx];
    const float s = sum_squares8(v[u]);
    if (idx < nvh) ss.x += s; else ss.y += s;
  }
  const float2 tot = block_sum2(ss);
  const float rq = rsqrtf(tot.x / static_cast<float>(dim) + eps);
  const float rk = rsqrtf(tot.y / static_cast<float>(dim) + eps);
  const float2* csr = cs + blockIdx.x * static_cast<int64_t>(head_dim / 2);
#pragma unroll
  for (int u = 0; u < VPT; ++u) {
    const int idx = threadIdx.x + u * blockDim.x;
    if (idx >= 2 * nvh) continue;
    const bool is_k = idx >= nvh;
    const int col0 = (is_k ? idx - nvh : idx) * 8;
    const float* w = (is_k ? wk : wq) + col0;
    const float r = is_k ? rk : rq;
    const float4 w0 = *reinterpret_cast<const float4*>(w), w1 = *reinterpret_cast<const float4*>(w + 4);
    const float wv[8] = {w0.x, w0.y, w0.z, w0.w, w1.x, w1.y, w1.z, w1.w};
    __nv_bfloat162* p = reinterpret_cast<__nv_bfloat162*>(&v[u]);
    const int j0 = (col0 % head_dim) / 2;
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const float2 f = __bfloat1622float2(p[e]);
      const float a = round_bf16(f.x * r * wv[2 * e]), b = round_bf16(f.y * r * wv[2 * e + 1]);
      const float2 c = csr[j0 + e];
      p[e] = __floats2bfloat162_rn(a * c.x - b * c.y, a * c.y + b * c.x);
    }
    row[idx] = v[u];
  }
}

// One 8-element vector a thread; the G = head_dim/8 threads of one (row, q|k, head) reduce
// over shuffles of width G. cs null: no rotation.
template <int G>
__global__ void head_qk_norm_rope_kernel(__nv_bfloat16* qkv, int64_t row_stride, const float* __restrict__ wq,
                                         const float* __restrict__ wk, const float2* __restrict__ cs, int64_t rows,
                                         int heads, float eps) {
  const int64_t gid = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  const int head_dim = 8 * G;
  const int64_t per_row = 2 * static_cast<int64_t>(heads) * G;  // vectors of q and k in a row
  const bool live = gid < rows * per_row;
  const int64_t r = live ? gid / per_row : 0;
  const int64_t v = gid % per_row;  // vector within the row's q|k span
  const int lane_in_head = static_cast<int>(v % G);
  const bool is_k = v >= per_row / 2;
  uint4* p = reinterpret_cast<uint4*>(qkv + r * row_stride) + v;
  uint4 val = live ? *p : make_uint4(0, 0, 0, 0);
  float ss = sum_squares8(val);
#pragma unroll
  for (int o = G / 2; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o, G);
  if (!live) return;
  const float rn = rsqrtf(ss / static_cast<float>(head_dim) + eps);
  const int col0 = lane_in_head * 8;
  const float* w = (is_k ? wk : wq) + col0;
  __nv_bfloat162* e2 = reinterpret_cast<__nv_bfloat162*>(&val);
#pragma unroll
  for (int e = 0; e < 4; ++e) {
    const float2 f = __bfloat1622float2(e2[e]);
    const float a = round_bf16(round_bf16(f.x * rn) * w[2 * e]), b = round_bf16(round_bf16(f.y * rn) * w[2 * e + 1]);
    if (cs) {
      const float2 c = cs[r * (head_dim / 2) + col0 / 2 + e];
      e2[e] = __floats2bfloat162_rn(a * c.x - b * c.y, a * c.y + b * c.x);
    } else {
      e2[e] = __floats2bfloat162_rn(a, b);
    }
  }
  *p = val;
}

// One thread per (row, head, j < hd/2) pair of the fused q|k|v row; v heads are copied. y may
// alias x (f32): each thread reads its pair before writing it.
// The same for any even head dim and any alignment (test models): one thread per (row, q|k,
// head), the head's values read twice (sum of squares, then norm * w + RoPE), the same roundings.
__global__ void head_qk_norm_rope_scalar_kernel(__nv_bfloat16* qkv, int64_t row_stride, const float* __restrict__ wq,
                                                const float* __restrict__ wk, const float2* __restrict__ cs,
                                                int64_t rows, int heads, int head_dim, float eps) {
  const int64_t gid = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (gid >= rows * 2 * heads) return;
  const int64_t r = gid / (2 * heads);
  const int hk = static_cast<int>(gid % (2 * heads));  // q heads, then k heads (heads * head_dim later)
  __nv_bfloat16* x = qkv + r * row_stride + static_cast<int64_t>(hk) * head_dim;
  const float* w = hk >= heads ? wk : wq;
  float ss = 0.0f;
  for (int j = 0; j < head_dim; ++j) {
    const float f = __bfloat162float(x[j]);
    ss += f * f;
  }
  const float rn = rsqrtf(ss / static_cast<float>(head_dim) + eps);
  for (int j = 0; j < head_dim; j += 2) {
    const float a = round_bf16(round_bf16(__bfloat162float(x[j]) * rn) * w[j]);
    const float b = round_bf16(round_bf16(__bfloat162float(x[j + 1]) * rn) * w[j + 1]);
    if (cs) {
      const float2 c = cs[r * (head_dim / 2) + j / 2];
      x[j] = __float2bfloat16_rn(a * c.x - b * c.y), x[j + 1] = __float2bfloat16_rn(a * c.y + b * c.x);
    } else {
      x[j] = __float2bfloat16_rn(a), x[j + 1] = __float2bfloat16_rn(b);
    }
  }
}

template <typename Out>
__global__ void rope_rotate_half_qkv_kernel(const float* x, Out* y, const float* __restrict__ c,
                                            const float* __restrict__ s, int64_t rows, int64_t heads,
                                            int64_t rotated, int64_t hd) {
  const int64_t half = hd / 2;
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;  // (row, head, j)
  if (i >= rows * heads * half) return;
  const int64_t j = i % half, rh = i / half, r = rh / heads, h = rh % heads;
  const float a = x[rh * hd + j], b = x[rh * hd + j + half];
  Out* v = y + rh * hd;
  if (h >= rotated) {
    v[j] = to_out<Out>(a);
    v[j + half] = to_out<Out>(b);
    return;
  }
  const float cs = c[r * half + j], sn = s[r * half + j];
  v[j] = to_out<Out>(a * cs - b * sn);
  v[j + half] = to_out<Out>(b * cs + a * sn);
}

}  // namespace

void rope_interleaved(void* x, const float* cos_sin, int64_t rows, int64_t heads, int64_t head_dim,
                      int64_t row_stride, void* stream) {
  const int64_t n = rows * heads * (head_dim / 2);
  if (n == 0) return;
  rope_interleaved_kernel<<<grid_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      static_cast<__nv_bfloat16*>(x), reinterpret_cast<const float2*>(cos_sin), rows, heads, head_dim / 2,
      row_stride);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void qk_norm_rope(void* qkv, int64_t row_stride, const float* wq, const float* wk, const float* cos_sin,
                  int64_t rows, int64_t heads, int64_t head_dim, float eps, void* stream) {
  if (rows == 0) return;
  const int64_t dim = heads * head_dim, nv = dim / 4;  // 8-element vectors of q and k together
  const bool vec_ok = dim % 8 == 0 && head_dim % 8 == 0 && row_stride % 8 == 0 && aligned16(qkv) &&
                      aligned16(wq) && aligned16(wk) && aligned16(cos_sin);
  auto* p = static_cast<__nv_bfloat16*>(qkv);
  if (vec_ok && nv <= 4 * 1024) {
    const auto* cs = reinterpret_cast<const float2*>(cos_sin);
    const auto st = static_cast<cudaStream_t>(stream);
    if (nv <= 2 * 1024)
      qk_norm_rope_kernel<2><<<static_cast<unsigned>(rows), row_threads(nv, 2), 0, st>>>(
          p, row_stride, wq, wk, cs, static_cast<int>(dim), static_cast<int>(head_dim), eps);
    else
      qk_norm_rope_kernel<4><<<static_cast<unsigned>(rows), row_threads(nv, 4), 0, st>>>(
          p, row_stride, wq, wk, cs, static_cast<int>(dim), static_cast<int>(head_dim), eps);
    JENGA_CUDA_CHECK(cudaGetLastError());
    return;
  }
  rms_norm(p, row_stride, wq, p, row_stride, rows, dim, eps, stream);
  rms_norm(p + dim, row_stride, wk, p + dim, row_stride, rows, dim, eps, stream);
  rope_interleaved(p, cos_sin, rows, heads, head_dim, row_stride, stream);
  rope_interleaved(p + dim, cos_sin, rows, heads, head_dim, row_stride, stream);
}

void head_qk_norm_rope(void* qkv, int64_t row_stride, const float* wq, const float* wk, const float* cos_sin,
                       int64_t rows, int64_t heads, int64_t head_dim, float eps, void* stream) {
  if (rows == 0) return;
  if (head_dim <= 0 || head_dim % 2 != 0) throw Error("head_qk_norm_rope: head dim " + std::to_string(head_dim) + " must be even");
  const auto st = static_cast<cudaStream_t>(stream);
  auto* p = static_cast<__nv_bfloat16*>(qkv);
  const auto* cs = reinterpret_cast<const float2*>(cos_sin);
  const int h = static_cast<int>(heads);
  const int64_t g = head_dim / 8;
  if (head_dim % 8 != 0 || (g & (g - 1)) != 0 || g > 32 || row_stride % 8 != 0 || !aligned16(qkv)) {
    const int64_t n = rows * 2 * heads;  // a test model's head dim (12, 24, 48, ...) or alignment
    head_qk_norm_rope_scalar_kernel<<<static_cast<unsigned>((n + kThreads - 1) / kThreads), kThreads, 0, st>>>(
        p, row_stride, wq, wk, cs, rows, h, static_cast<int>(head_dim), eps);
    JENGA_CUDA_CHECK(cudaGetLastError());
    return;
  }
  const int64_t n = rows * 2 * heads * (head_dim / 8);
  const auto blocks = static_cast<unsigned>((n + kThreads - 1) / kThreads);
  switch (head_dim / 8) {
    case 1: head_qk_norm_rope_kernel<1><<<blocks, kThreads, 0, st>>>(p, row_stride, wq, wk, cs, rows, h, eps); break;
    case 2: head_qk_norm_rope_kernel<2><<<blocks, kThreads, 0, st>>>(p, row_stride, wq, wk, cs, rows, h, eps); break;
    case 4: head_qk_norm_rope_kernel<4><<<blocks, kThreads, 0, st>>>(p, row_stride, wq, wk, cs, rows, h, eps); break;
    case 8: head_qk_norm_rope_kernel<8><<<blocks, kThreads, 0, st>>>(p, row_stride, wq, wk, cs, rows, h, eps); break;
    case 16: head_qk_norm_rope_kernel<16><<<blocks, kThreads, 0, st>>>(p, row_stride, wq, wk, cs, rows, h, eps); break;
    case 32: head_qk_norm_rope_kernel<32><<<blocks, kThreads, 0, st>>>(p, row_stride, wq, wk, cs, rows, h, eps); break;
    default: throw Error("head_qk_norm_rope: internal: head dim " + std::to_string(head_dim));
  }
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void rope_rotate_half_qkv(const float* qkv, void* out, bool out_f16, const float* cos_t, const float* sin_t,
                          int64_t rows, int64_t q_heads, int64_t kv_heads, int64_t hd, void* stream) {
  const int64_t heads = q_heads + 2 * kv_heads, n = rows * heads * (hd / 2);
  if (n <= 0) return;
  const int64_t rotated = q_heads + kv_heads;
  if (out_f16)
    rope_rotate_half_qkv_kernel<__half><<<blocks_exact(n), kThreads, 0, as_stream(stream)>>>(
        qkv, static_cast<__half*>(out), cos_t, sin_t, rows, heads, rotated, hd);
  else
    rope_rotate_half_qkv_kernel<float><<<blocks_exact(n), kThreads, 0, as_stream(stream)>>>(
        qkv, static_cast<float*>(out), cos_t, sin_t, rows, heads, rotated, hd);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda
