#include <cuda_bf16.h>

#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/ops.h"

namespace jenga::cuda {
namespace {

constexpr int kThreads = 256;

__device__ float block_sum(float v) {
  __shared__ float warp_sums[kThreads / 32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // warp_sums may still be read by a previous call
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  float t = lane < kThreads / 32 ? warp_sums[lane] : 0.0f;
  for (int o = 16; o > 0; o >>= 1) t += __shfl_xor_sync(0xffffffffu, t, o);
  return t;
}

__global__ void rope_kernel(__nv_bfloat16* x, const float2* __restrict__ cs, int64_t rows, int64_t heads,
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

__global__ void gated_residual_kernel(float* __restrict__ x, const __nv_bfloat16* __restrict__ y,
                                      const float* __restrict__ gate, int64_t n, int64_t dim) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float g = gate ? gate[i % dim] : 1.0f;
    x[i] += __bfloat162float(y[i]) * g;
  }
}

__global__ void add_broadcast_kernel(const float* __restrict__ a, const float* __restrict__ b,
                                     float* __restrict__ out, int64_t n, int64_t b_len) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[i] = a[i] + b[i % b_len];
}

// Sums over a block of any multiple-of-32 size (<= 1024), two values at once.
__device__ float2 block_sum2(float2 v) {
  __shared__ float2 warp_sums[32];
  for (int o = 16; o > 0; o >>= 1) {
    v.x += __shfl_xor_sync(0xffffffffu, v.x, o);
    v.y += __shfl_xor_sync(0xffffffffu, v.y, o);
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  float2 t = lane < warps ? warp_sums[lane] : make_float2(0.0f, 0.0f);
  for (int o = 16; o > 0; o >>= 1) {
    t.x += __shfl_xor_sync(0xffffffffu, t.x, o);
    t.y += __shfl_xor_sync(0xffffffffu, t.y, o);
  }
  return t;
}

__device__ __forceinline__ float round_bf16(float x) { return __bfloat162float(__float2bfloat16_rn(x)); }

// Sum of squares of 8 bf16 values packed in 16 bytes.
__device__ __forceinline__ float sum_squares8(const uint4& v) {
  const __nv_bfloat162* p = reinterpret_cast<const __nv_bfloat162*>(&v);
  float s = 0.0f;
#pragma unroll
  for (int e = 0; e < 4; ++e) {
    const float2 f = __bfloat1622float2(p[e]);
    s += f.x * f.x + f.y * f.y;
  }
  return s;
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

// x += y * gate, 8 elements a thread (dim % 8 == 0).
__global__ void gated_residual_vec_kernel(float* __restrict__ x, const __nv_bfloat16* __restrict__ y,
                                          const float* __restrict__ gate, int64_t n8, int dim) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n8;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float4* xp = reinterpret_cast<float4*>(x) + 2 * i;
    const uint4 yv = reinterpret_cast<const uint4*>(y)[i];
    const __nv_bfloat162* yp = reinterpret_cast<const __nv_bfloat162*>(&yv);
    float4 a = xp[0], c = xp[1];
    const float2 y0 = __bfloat1622float2(yp[0]), y1 = __bfloat1622float2(yp[1]);
    const float2 y2 = __bfloat1622float2(yp[2]), y3 = __bfloat1622float2(yp[3]);
    if (gate) {
      const int col = static_cast<int>((i * 8) % dim);
      const float4 g0 = *reinterpret_cast<const float4*>(gate + col), g1 = *reinterpret_cast<const float4*>(gate + col + 4);
      a.x += y0.x * g0.x, a.y += y0.y * g0.y, a.z += y1.x * g0.z, a.w += y1.y * g0.w;
      c.x += y2.x * g1.x, c.y += y2.y * g1.y, c.z += y3.x * g1.z, c.w += y3.y * g1.w;
    } else {
      a.x += y0.x, a.y += y0.y, a.z += y1.x, a.w += y1.y;
      c.x += y2.x, c.y += y2.y, c.z += y3.x, c.w += y3.y;
    }
    xp[0] = a, xp[1] = c;
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

__global__ void silu_bf16_kernel(__nv_bfloat16* x, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float v = __bfloat162float(x[i]);
    x[i] = __float2bfloat16_rn(v / (1.0f + __expf(-v)));
  }
}

__global__ void broadcast_row_kernel(const __nv_bfloat16* __restrict__ src, __nv_bfloat16* dst, int64_t stride,
                                     int64_t rows, int64_t dim) {
  const int64_t n = rows * dim;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dst[(i / dim) * stride + i % dim] = src[i % dim];
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// Threads for a row of nv vectors at VPT vectors a thread: a multiple of 32.
unsigned row_threads(int64_t nv, int vpt) { return static_cast<unsigned>(((nv + vpt - 1) / vpt + 31) / 32 * 32); }

int grid_for(int64_t n) {
  const int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 65536 * 4 ? b : 65536 * 4);
}

}  // namespace

namespace {
}  // namespace

void rope_interleaved(void* x, const float* cos_sin, int64_t rows, int64_t heads, int64_t head_dim,
                      int64_t row_stride, void* stream) {
  const int64_t n = rows * heads * (head_dim / 2);
  if (n == 0) return;
  rope_kernel<<<grid_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      static_cast<__nv_bfloat16*>(x), reinterpret_cast<const float2*>(cos_sin), rows, heads, head_dim / 2,
      row_stride);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void gated_residual_add(float* x, const void* y, const float* gate, int64_t rows, int64_t dim, void* stream) {
  const int64_t n = rows * dim;
  if (n == 0) return;
  if (dim % 8 == 0 && aligned16(x) && aligned16(y) && (!gate || aligned16(gate))) {
    gated_residual_vec_kernel<<<grid_for(n / 8), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        x, static_cast<const __nv_bfloat16*>(y), gate, n / 8, static_cast<int>(dim));
    JENGA_CUDA_CHECK(cudaGetLastError());
    return;
  }
  gated_residual_kernel<<<grid_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      x, static_cast<const __nv_bfloat16*>(y), gate, n, dim);
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
  if (head_dim % 8 != 0 || row_stride % 8 != 0 || !aligned16(qkv))
    throw Error("head_qk_norm_rope: head dim and row stride must be multiples of 8, qkv 16-byte aligned");
  const int64_t n = rows * 2 * heads * (head_dim / 8);
  const auto blocks = static_cast<unsigned>((n + kThreads - 1) / kThreads);
  const auto st = static_cast<cudaStream_t>(stream);
  auto* p = static_cast<__nv_bfloat16*>(qkv);
  const auto* cs = reinterpret_cast<const float2*>(cos_sin);
  const int h = static_cast<int>(heads);
  switch (head_dim / 8) {
    case 4: head_qk_norm_rope_kernel<4><<<blocks, kThreads, 0, st>>>(p, row_stride, wq, wk, cs, rows, h, eps); break;
    case 8: head_qk_norm_rope_kernel<8><<<blocks, kThreads, 0, st>>>(p, row_stride, wq, wk, cs, rows, h, eps); break;
    case 16: head_qk_norm_rope_kernel<16><<<blocks, kThreads, 0, st>>>(p, row_stride, wq, wk, cs, rows, h, eps); break;
    case 32: head_qk_norm_rope_kernel<32><<<blocks, kThreads, 0, st>>>(p, row_stride, wq, wk, cs, rows, h, eps); break;
    default: throw Error("head_qk_norm_rope: head dim must be 32, 64, 128 or 256");
  }
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void silu_bf16(void* x, int64_t n, void* stream) {
  if (n == 0) return;
  silu_bf16_kernel<<<grid_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(static_cast<__nv_bfloat16*>(x), n);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void broadcast_row_bf16(const void* src, void* dst, int64_t dst_stride, int64_t rows, int64_t dim, void* stream) {
  if (rows <= 0 || dim <= 0) return;
  broadcast_row_kernel<<<grid_for(rows * dim), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      static_cast<const __nv_bfloat16*>(src), static_cast<__nv_bfloat16*>(dst), dst_stride, rows, dim);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void add_broadcast(const float* a, const float* b, float* out, int64_t n, int64_t b_len, void* stream) {
  if (n == 0) return;
  add_broadcast_kernel<<<grid_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(a, b, out, n, b_len);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda
