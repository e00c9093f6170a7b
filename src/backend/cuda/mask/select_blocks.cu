// Per-row block selection: softmax over the row's scores, block radix sort (descending),
// cumulative probabilities, top-p / top-k cut, union with neighbours and always-kept blocks.
// One CTA of 256 threads per (group, query block); the row's mask is built in shared memory.
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

template <int ITEMS>
__global__ void __launch_bounds__(kThreads) select_blocks_kernel(const BlockSelectArgs a) {
  using Sort = cub::BlockRadixSort<float, kThreads, ITEMS, int>;
  using Scan = cub::BlockScan<float, kThreads>;
  using ReduceF = cub::BlockReduce<float, kThreads>;
  using ReduceI = cub::BlockReduce<int, kThreads>;
  __shared__ union {
    typename Sort::TempStorage sort;
    typename Scan::TempStorage scan;
    typename ReduceF::TempStorage rf;
    typename ReduceI::TempStorage ri;
  } tmp;
  __shared__ float bcast;
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
  if (a.n_cols <= kThreads * 4)
    select_blocks_kernel<4><<<rows, kThreads, smem, s>>>(a);
  else
    select_blocks_kernel<8><<<rows, kThreads, smem, s>>>(a);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda::mask
