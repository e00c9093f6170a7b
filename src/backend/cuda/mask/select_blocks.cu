// Per-row block selection: softmax over the row's scores, block radix sort (descending),
// cumulative probabilities, top-p / top-k cut, union with neighbours and always-kept blocks.
// One CTA of 256 threads per (group, query block); the row's mask is built in shared memory.
// With prob_threshold <= 0 the cut is top-k alone, and the row needs no sort (TOPK): a bitwise
// radix select finds the k-th largest probability T (31 block-wide counts), then the row keeps
// every block above T and, of the blocks equal to T, the lowest-indexed ones, which is the set the
// stable descending sort's first k entries hold.
#include <cub/block/block_radix_sort.cuh>
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>

#include <cfloat>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/mask/kernels.h"

namespace jenga::cuda::mask {
namespace {

constexpr int kThreads = 256;

struct MaxOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// Sum of one int per thread over the CTA; buf alternates between consecutive calls so one
// barrier per call suffices (a slot is rewritten only after the next call's barrier).
__device__ __forceinline__ int cta_sum(int v, int (&red)[2][kThreads / 32], int buf) {
  v = __reduce_add_sync(0xffffffffu, v);
  if ((threadIdx.x & 31) == 0) red[buf][threadIdx.x >> 5] = v;
  __syncthreads();
  int s = 0;
#pragma unroll
  for (int w = 0; w < kThreads / 32; ++w) s += red[buf][w];
  return s;
}

template <int ITEMS, bool TOPK>
__global__ void __launch_bounds__(kThreads) select_blocks_kernel(const BlockSelectArgs a) {
  using Sort = cub::BlockRadixSort<float, kThreads, ITEMS, int>;
  using Scan = cub::BlockScan<float, kThreads>;
  using ScanI = cub::BlockScan<int, kThreads>;
  using ReduceF = cub::BlockReduce<float, kThreads>;
  using ReduceI = cub::BlockReduce<int, kThreads>;
  __shared__ union {
    typename Sort::TempStorage sort;
    typename Scan::TempStorage scan;
    typename ScanI::TempStorage scani;
    typename ReduceF::TempStorage rf;
    typename ReduceI::TempStorage ri;
  } tmp;
  __shared__ float bcast;
  // 16-byte aligned: the compiler reads these arrays with 16-byte loads, which must not also
  // cover a neighbour that another warp writes meanwhile (racecheck flags that as a hazard).
  __shared__ __align__(16) int red[2][kThreads / 32];
  __shared__ __align__(16) uint32_t span[2][kThreads / 32];
  extern __shared__ unsigned char keep[];  // [k_blocks]

  const int row = blockIdx.x;
  const int g = row / a.q_blocks, qb = row % a.q_blocks;
  const int tid = threadIdx.x;
  const bool dense_row = qb >= a.select_q_blocks;
  for (int j = tid; j < a.k_blocks; j += kThreads) keep[j] = dense_row ? 1 : 0;
  __syncthreads();

  if (!dense_row) {
    const float* s = a.scores + (static_cast<int64_t>(g) * a.select_q_blocks + qb) * a.n_cols;
    float key[ITEMS];
    int val[ITEMS];
    float mx = -FLT_MAX;
#pragma unroll
    for (int e = 0; e < ITEMS; ++e) {
      const int c = tid * ITEMS + e;
      key[e] = c < a.n_cols ? s[c] : -FLT_MAX;
      val[e] = c;
      mx = fmaxf(mx, key[e]);
    }
    mx = ReduceF(tmp.rf).Reduce(mx, MaxOp());
    if (tid == 0) bcast = mx;
    __syncthreads();
    mx = bcast;
    float sum = 0.f;
#pragma unroll
    for (int e = 0; e < ITEMS; ++e) {
      key[e] = tid * ITEMS + e < a.n_cols ? __expf(key[e] - mx) : 0.f;
      sum += key[e];
    }
    sum = ReduceF(tmp.rf).Sum(sum);
    if (tid == 0) bcast = sum;
    __syncthreads();
    const float inv = 1.f / bcast;
#pragma unroll
    for (int e = 0; e < ITEMS; ++e) key[e] = tid * ITEMS + e < a.n_cols ? key[e] * inv : -1.f;  // pads sort last
    if constexpr (TOPK) {
      // Probabilities are >= 0, so their bit patterns order like the values (pads excluded).
      const int needed = max(1, min(a.top_k, a.n_cols));
      uint32_t bits[ITEMS];
#pragma unroll
      for (int e = 0; e < ITEMS; ++e) bits[e] = tid * ITEMS + e < a.n_cols ? __float_as_uint(key[e]) : 0u;
      auto valid = [&](int e) { return tid * ITEMS + e < a.n_cols; };
      // The bits every probability shares (those of the row's min and max) are T's too: the
      // search starts below them (rows of similar scores share a long prefix).
      uint32_t lo = 0xffffffffu, hi = 0u;
#pragma unroll
      for (int e = 0; e < ITEMS; ++e)
        if (valid(e)) lo = min(lo, bits[e]), hi = max(hi, bits[e]);
      lo = __reduce_min_sync(0xffffffffu, lo), hi = __reduce_max_sync(0xffffffffu, hi);
      if ((tid & 31) == 0) span[0][tid >> 5] = lo, span[1][tid >> 5] = hi;
      __syncthreads();
#pragma unroll
      for (int w = 0; w < kThreads / 32; ++w) lo = min(lo, span[0][w]), hi = max(hi, span[1][w]);
      const int common = __clz(static_cast<int>(hi ^ lo));  // leading bits shared, 32 if all equal
      // Largest T with #(bits >= T) >= needed, bit by bit from the first one not shared.
      uint32_t t = common == 32 ? hi : hi & ~(0xffffffffu >> common);
      for (int b = 31 - common; b >= 0; --b) {
        const uint32_t cand = t | (1u << b);
        int c = 0;
#pragma unroll
        for (int e = 0; e < ITEMS; ++e) c += (valid(e) && bits[e] >= cand) ? 1 : 0;
        if (cta_sum(c, red, b & 1) >= needed) t = cand;
      }
      int gt = 0, eq = 0;
#pragma unroll
      for (int e = 0; e < ITEMS; ++e) {
        gt += (valid(e) && bits[e] > t) ? 1 : 0;
        eq += (valid(e) && bits[e] == t) ? 1 : 0;
      }
      const int take = needed - cta_sum(gt, red, 1);  // blocks equal to T still to keep (>= 1)
      int before;
      ScanI(tmp.scani).ExclusiveSum(eq, before);  // blocked arrangement: thread order = index order
#pragma unroll
      for (int e = 0; e < ITEMS; ++e) {
        if (!valid(e)) continue;
        if (bits[e] > t) {
          keep[tid * ITEMS + e] = 1;
        } else if (bits[e] == t) {
          if (before < take) keep[tid * ITEMS + e] = 1;
          ++before;
        }
      }
    } else {
      Sort(tmp.sort).SortDescending(key, val);  // stable: equal probabilities keep index order
      __syncthreads();
      float cum[ITEMS];
#pragma unroll
      for (int e = 0; e < ITEMS; ++e) cum[e] = fmaxf(key[e], 0.f);
      Scan(tmp.scan).InclusiveSum(cum, cum);
      __syncthreads();
      int below = 0;
#pragma unroll
      for (int e = 0; e < ITEMS; ++e) below += (tid * ITEMS + e < a.n_cols && cum[e] <= a.prob_threshold) ? 1 : 0;
      below = ReduceI(tmp.ri).Sum(below);
      if (tid == 0) bcast = __int_as_float(below);
      __syncthreads();
      const int needed = max(min(__float_as_int(bcast) + 1, a.n_cols), min(a.top_k, a.n_cols));
#pragma unroll
      for (int e = 0; e < ITEMS; ++e)
        if (tid * ITEMS + e < needed) keep[val[e]] = 1;
    }
    if (a.neighbor_offsets)
      for (int e = a.neighbor_offsets[qb] + tid; e < a.neighbor_offsets[qb + 1]; e += kThreads)
        keep[a.neighbor_indices[e]] = 1;
    for (int j = a.always_begin + tid; j < a.always_end; j += kThreads) keep[j] = 1;
    if (qb < a.first_frame_blocks)
      for (int j = tid; j < a.first_frame_blocks; j += kThreads) keep[j] = 1;
    __syncthreads();
  }

  uint8_t* out = a.mask + static_cast<int64_t>(row) * a.k_blocks;
  int n = 0;
  for (int j = tid; j < a.k_blocks; j += kThreads) {
    out[j] = keep[j];
    n += keep[j];
  }
  n = ReduceI(tmp.ri).Sum(n);
  if (tid == 0) a.counts[row] = n;
}

}  // namespace

void launch_select_blocks(const BlockSelectArgs& a, cudaStream_t s) {
  const int rows = a.groups * a.q_blocks;
  const size_t smem = static_cast<size_t>(a.k_blocks);
  // Top-k alone (no probability cut) needs no sort, unless the caller asks for the sorting path.
  const bool topk = a.prob_threshold <= 0.f && a.method != 1;
  if (a.n_cols <= kThreads * 4)
    topk ? select_blocks_kernel<4, true><<<rows, kThreads, smem, s>>>(a)
         : select_blocks_kernel<4, false><<<rows, kThreads, smem, s>>>(a);
  else
    topk ? select_blocks_kernel<8, true><<<rows, kThreads, smem, s>>>(a)
         : select_blocks_kernel<8, false><<<rows, kThreads, smem, s>>>(a);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda::mask
