#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/svg_kernels.h"

namespace jenga::cuda {

namespace {

constexpr int kWarps = 8;

__device__ __forceinline__ float bf(uint16_t x) { return __uint_as_float(static_cast<uint32_t>(x) << 16); }

__device__ __forceinline__ float warp_max(float x) {
  for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}
__device__ __forceinline__ float warp_sum(float x) {
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

// Official profiling masks (svg/models/{wan,hyvideo}/utils.py): key columns below `sink` (Wan's
// first frame), plus 128-token blocks within `band` of the query's block; temporal: the same on
// token-major positions. HunyuanVideo's text rows and columns are always kept (the caller).
__device__ __forceinline__ int64_t token_major(int64_t t, int64_t F, int64_t S) { return (t % S) * F + t / S; }
__device__ __forceinline__ bool band_keeps(int64_t q, int64_t k, int64_t sink, int64_t band) {
  const int64_t d = q / 128 - k / 128;
  return k < sink || (d < 0 ? -d : d) < band;
}

// One block per (sampled row, head); each warp runs an online softmax over a strided share of
// the keys for the three masks at once, then the warps are merged.
template <int D>
__global__ void __launch_bounds__(kWarps * 32)
    profile_kernel(const uint16_t* __restrict__ q, const uint16_t* __restrict__ k, const uint16_t* __restrict__ v,
                   int64_t rs, int heads, int64_t F, int64_t S, int64_t text, int64_t sink, int64_t band,
                   const int32_t* __restrict__ rows, int num_rows, float scale, float* __restrict__ row_err) {
  constexpr int P = D / 32;  // dims per lane
  const int ri = blockIdx.x, h = blockIdx.y, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t nv = F * S, n = nv + text;
  const int64_t r = rows[ri];
  const bool text_row = r >= nv;
  const int64_t rt = text_row ? r : token_major(r, F, S);
  __shared__ float qs[D];
  __shared__ float wm[kWarps][3], wl[kWarps][3];
  __shared__ float wacc[kWarps][3][D];
  for (int c = threadIdx.x; c < D; c += blockDim.x) qs[c] = bf(q[r * rs + h * D + c]) * scale;
  __syncthreads();
  float m[3], l[3], acc[3][P];
#pragma unroll
  for (int t = 0; t < 3; ++t) {
    m[t] = -INFINITY, l[t] = 0.f;
#pragma unroll
    for (int p = 0; p < P; ++p) acc[t][p] = 0.f;
  }
  for (int64_t base = static_cast<int64_t>(warp) * 32; base < n; base += kWarps * 32) {
    const int64_t j = base + lane;
    float s = -INFINITY;
    bool keep_s = false, keep_t = false;
    if (j < n) {
      const uint4* kr = reinterpret_cast<const uint4*>(k + j * rs + h * D);
      float dot = 0.f;
#pragma unroll
      for (int c = 0; c < D / 8; ++c) {
        const uint4 w = kr[c];
        const uint32_t ws[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          dot += qs[c * 8 + 2 * e] * __uint_as_float(ws[e] << 16);
          dot += qs[c * 8 + 2 * e + 1] * __uint_as_float(ws[e] & 0xffff0000u);
        }
      }
      s = dot;
      const bool always = text_row || j >= nv;
      keep_s = always || band_keeps(r, j, sink, band);
      keep_t = always || band_keeps(rt, token_major(j, F, S), sink, band);
    }
    float pr[3];
#pragma unroll
    for (int t = 0; t < 3; ++t) {
      const float st = (t == 0 || (t == 1 ? keep_s : keep_t)) ? s : -INFINITY;
      const float cm = warp_max(st);
      const float nm = fmaxf(m[t], cm);
      if (nm == -INFINITY) {
        pr[t] = 0.f;
        continue;
      }
      const float corr = __expf(m[t] - nm);  // m = -inf: 0
      pr[t] = st == -INFINITY ? 0.f : __expf(st - nm);
      l[t] = l[t] * corr + warp_sum(pr[t]);
#pragma unroll
      for (int p = 0; p < P; ++p) acc[t][p] *= corr;
      m[t] = nm;
    }
    const int64_t cnt = n - base < 32 ? n - base : 32;
    for (int u = 0; u < cnt; ++u) {
      const float p0 = __shfl_sync(0xffffffffu, pr[0], u), p1 = __shfl_sync(0xffffffffu, pr[1], u),
                  p2 = __shfl_sync(0xffffffffu, pr[2], u);
      const uint16_t* vr = v + (base + u) * rs + h * D + lane * P;
#pragma unroll
      for (int p = 0; p < P; ++p) {
        const float x = bf(vr[p]);
        acc[0][p] += p0 * x, acc[1][p] += p1 * x, acc[2][p] += p2 * x;
      }
    }
  }
  if (lane == 0)
    for (int t = 0; t < 3; ++t) wm[warp][t] = m[t], wl[warp][t] = l[t];
#pragma unroll
  for (int t = 0; t < 3; ++t)
#pragma unroll
    for (int p = 0; p < P; ++p) wacc[warp][t][lane * P + p] = acc[t][p];
  __syncthreads();
  // Merge the warps: thread c < D owns dim c; then the block sums the squared errors.
  float e[2] = {0.f, 0.f};
  if (threadIdx.x < D) {
    const int c = threadIdx.x;
    float o[3];
    for (int t = 0; t < 3; ++t) {
      float M = -INFINITY;
      for (int w = 0; w < kWarps; ++w) M = fmaxf(M, wm[w][t]);
      float L = 0.f, A = 0.f;
      for (int w = 0; w < kWarps; ++w) {
        if (wm[w][t] == -INFINITY) continue;
        const float f = __expf(wm[w][t] - M);
        L += wl[w][t] * f, A += wacc[w][t][c] * f;
      }
      o[t] = A / L;
    }
    e[0] = (o[1] - o[0]) * (o[1] - o[0]);
    e[1] = (o[2] - o[0]) * (o[2] - o[0]);
  }
  __shared__ float red[kWarps][2];
  for (int t = 0; t < 2; ++t) {
    const float x = warp_sum(e[t]);
    if (lane == 0) red[warp][t] = x;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    float a = 0.f, b = 0.f;
    for (int w = 0; w < kWarps; ++w) a += red[w][0], b += red[w][1];
    row_err[(static_cast<int64_t>(h) * num_rows + ri) * 2 + 0] = a;
    row_err[(static_cast<int64_t>(h) * num_rows + ri) * 2 + 1] = b;
  }
}

__global__ void choose_kernel(const float* row_err, int heads, int num_rows, int head_dim, int32_t* patterns,
                              float* mse, unsigned long long* temporal_total) {
  const int h = blockIdx.x * blockDim.x + threadIdx.x;
  if (h >= heads) return;
  double a = 0, b = 0;
  for (int r = 0; r < num_rows; ++r) a += row_err[(h * num_rows + r) * 2], b += row_err[(h * num_rows + r) * 2 + 1];
  const double cnt = static_cast<double>(num_rows) * head_dim;
  a /= cnt, b /= cnt;
  const int temporal = b < a ? 1 : 0;
  patterns[h] = temporal;
  if (mse) mse[2 * h] = static_cast<float>(a), mse[2 * h + 1] = static_cast<float>(b);
  if (temporal_total && temporal) atomicAdd(temporal_total, 1ull);
}

// Source token of placed position i for a head of `pattern` (rows past the video: themselves).
__device__ __forceinline__ int64_t placed_source(int64_t i, int pattern, int64_t F, int64_t S) {
  return pattern && i < F * S ? (i % F) * S + i / F : i;
}

// One thread per 16 bytes (8 bf16) of one placed row of one head.
__global__ void gather_kernel(const uint16_t* q, const uint16_t* k, const uint16_t* v, int64_t rs, int heads, int D,
                              int64_t F, int64_t S, int64_t text, const int32_t* patterns, uint16_t* pq, uint16_t* pk,
                              uint16_t* pv) {
  const int64_t n = F * S + text, chunks = D / 8;
  const int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (idx >= heads * n * chunks) return;
  const int64_t c = idx % chunks, i = (idx / chunks) % n;
  const int h = static_cast<int>(idx / (chunks * n));
  const int64_t src = placed_source(i, patterns[h], F, S) * rs + h * D + c * 8;
  const int64_t dst = (static_cast<int64_t>(h) * n + i) * D + c * 8;
  *reinterpret_cast<uint4*>(pq + dst) = *reinterpret_cast<const uint4*>(q + src);
  *reinterpret_cast<uint4*>(pk + dst) = *reinterpret_cast<const uint4*>(k + src);
  *reinterpret_cast<uint4*>(pv + dst) = *reinterpret_cast<const uint4*>(v + src);
}

// po rows are `seq` apart per head; only its n = F*S video rows go back.
__global__ void scatter_kernel(const uint16_t* po, int heads, int D, int64_t F, int64_t S, int64_t seq,
                               const int32_t* patterns, uint16_t* out, int64_t ors) {
  const int64_t n = F * S, chunks = D / 8;
  const int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (idx >= heads * n * chunks) return;
  const int64_t c = idx % chunks, i = (idx / chunks) % n;
  const int h = static_cast<int>(idx / (chunks * n));
  const int64_t dst = placed_source(i, patterns[h], F, S) * ors + h * D + c * 8;
  *reinterpret_cast<uint4*>(out + dst) = *reinterpret_cast<const uint4*>(po + (static_cast<int64_t>(h) * seq + i) * D + c * 8);
}

}  // namespace

void svg_profile(const uint16_t* q, const uint16_t* k, const uint16_t* v, int64_t rs, const SvgGridArgs& g,
                 const int32_t* rows, int num_rows, float* row_err, int32_t* patterns, float* mse,
                 unsigned long long* temporal_total, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  const dim3 grid(static_cast<unsigned>(num_rows), static_cast<unsigned>(g.heads));
  const float scale = 1.0f / sqrtf(static_cast<float>(g.head_dim));
  if (g.head_dim == 128)
    profile_kernel<128><<<grid, kWarps * 32, 0, s>>>(q, k, v, rs, g.heads, g.frames, g.frame_tokens, g.text, g.sink,
                                                     g.band_blocks, rows, num_rows, scale, row_err);
  else
    profile_kernel<64><<<grid, kWarps * 32, 0, s>>>(q, k, v, rs, g.heads, g.frames, g.frame_tokens, g.text, g.sink,
                                                    g.band_blocks, rows, num_rows, scale, row_err);
  JENGA_CUDA_CHECK(cudaGetLastError());
  choose_kernel<<<(g.heads + 63) / 64, 64, 0, s>>>(row_err, g.heads, num_rows, g.head_dim, patterns, mse, temporal_total);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void svg_gather(const uint16_t* q, const uint16_t* k, const uint16_t* v, int64_t rs, const SvgGridArgs& g,
                const int32_t* patterns, uint16_t* pq, uint16_t* pk, uint16_t* pv, void* stream) {
  const int64_t total = g.heads * g.sequence() * (g.head_dim / 8);
  gather_kernel<<<static_cast<unsigned>((total + 255) / 256), 256, 0, static_cast<cudaStream_t>(stream)>>>(
      q, k, v, rs, g.heads, g.head_dim, g.frames, g.frame_tokens, g.text, patterns, pq, pk, pv);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

void svg_scatter(const uint16_t* po, const SvgGridArgs& g, const int32_t* patterns, uint16_t* out, int64_t ors,
                 void* stream) {
  const int64_t total = g.heads * g.tokens() * (g.head_dim / 8);
  scatter_kernel<<<static_cast<unsigned>((total + 255) / 256), 256, 0, static_cast<cudaStream_t>(stream)>>>(
      po, g.heads, g.head_dim, g.frames, g.frame_tokens, g.sequence(), patterns, out, ors);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda
