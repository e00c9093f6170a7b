// Per-row block selection: softmax over the row's scores, the top-p / top-k cut, union with
// neighbours and always-kept blocks. One CTA of 256 threads per (group, query block); the row's
// mask is built in shared memory.
//
// The cut keeps the first `needed` blocks of the stable descending sort (equal probabilities in
// index order), needed = max(#(cumulative sum <= p) + 1, top_k) capped at n. Method 0 finds that
// set without sorting (Cut::kTopK when p <= 0, Cut::kTopP otherwise): probabilities are >= 0, so
// their f32 bit patterns order like the values, and a bitwise search over those patterns (one
// CTA-wide count per bit, at most 31) finds the threshold T = the needed-th largest probability;
// the row keeps every block above T and, of the blocks equal to T, the lowest-indexed ones: the
// sort's first `needed` entries exactly. With p > 0 the same search also sums the probability
// mass at or above the candidate, in fixed point (q(x) = x * 2^30 rounded to an integer: exact,
// order-independent integer sums), and T is the largest value with count(>= T) >= top_k and
// mass(>= T) > p (p in the same fixed point); then the ties at T to keep are the most of what top_k
// needs and the fewest that push the mass over p. Method 1 (Cut::kSort) is the block radix sort +
// float scan, kept for comparison. The one difference: method 0 sums the cut's mass exactly in
// fixed point while the sort sums f32 probabilities in scan order, so the two can keep a
// different number of blocks only when a cumulative sum lies within rounding (~1e-6) of p.
#include <cub/block/block_radix_sort.cuh>
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>

#include <cfloat>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/mask/kernels.h"

namespace jenga::cuda::mask {
namespace {

constexpr int kThreads = 256, kWarps = kThreads / 32;

enum class Cut { kSort, kTopK, kTopP };

struct MaxOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// Probability mass in fixed point: x in [0, 1] -> round(x * 2^30). Monotone, so it orders like x;
// sums of up to 2048 such values (<= 1 in all, up to rounding) fit in 32 bits.
__device__ __forceinline__ uint32_t fixed_mass(float x) { return __float2uint_rn(x * 1073741824.f); }

// Sums over the CTA of one count and (with MASS) one mass per thread: the warp sums go through
// shared memory as one pair, so both cost a single barrier. buf alternates between consecutive
// calls so one barrier per call suffices (a slot is rewritten only after the next call's barrier).
template <bool MASS>
__device__ __forceinline__ uint2 cta_sum2(uint32_t c, uint32_t m, uint2 (&red)[2][kWarps], int buf) {
  c = __reduce_add_sync(0xffffffffu, c);
  if constexpr (MASS) m = __reduce_add_sync(0xffffffffu, m);
  if ((threadIdx.x & 31) == 0) red[buf][threadIdx.x >> 5] = make_uint2(c, m);
  __syncthreads();
  uint2 s = make_uint2(0u, 0u);
#pragma unroll
  for (int w = 0; w < kWarps; ++w) {
    const uint2 v = red[buf][w];
    s.x += v.x;
    if constexpr (MASS) s.y += v.y;
  }
  return s;
}

template <int ITEMS, Cut CUT>
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
  __shared__ __align__(16) uint2 red[2][kWarps];
  __shared__ __align__(16) uint32_t span[3][kWarps];
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
    if constexpr (CUT != Cut::kSort) {
      constexpr bool kMass = CUT == Cut::kTopP;
      const int n = a.n_cols;
      // Blocks the top-k floor asks for (with p <= 0 at least 1, as the sort's needed is).
      const int kk = kMass ? min(a.top_k, n) : max(1, min(a.top_k, n));
      auto valid = [&](int e) { return tid * ITEMS + e < n; };
      // Pads get bits 0 and mass 0: every candidate below has a bit set, so they never count.
      uint32_t bits[ITEMS], mass[ITEMS];
      uint32_t lo = 0xffffffffu, hi = 0u, tot = 0u;
#pragma unroll
      for (int e = 0; e < ITEMS; ++e) {
        bits[e] = valid(e) ? __float_as_uint(key[e]) : 0u;
        mass[e] = kMass && valid(e) ? fixed_mass(key[e]) : 0u;
        if (valid(e)) lo = min(lo, bits[e]), hi = max(hi, bits[e]);
        tot += mass[e];
      }
      // The bits every probability shares (those of the row's min and max) are T's too: the
      // search starts below them (rows of similar scores share a long prefix).
      lo = __reduce_min_sync(0xffffffffu, lo), hi = __reduce_max_sync(0xffffffffu, hi);
      if constexpr (kMass) tot = __reduce_add_sync(0xffffffffu, tot);
      if ((tid & 31) == 0) span[0][tid >> 5] = lo, span[1][tid >> 5] = hi, span[2][tid >> 5] = tot;
      __syncthreads();
      tot = 0u;
#pragma unroll
      for (int w = 0; w < kWarps; ++w) lo = min(lo, span[0][w]), hi = max(hi, span[1][w]), tot += span[2][w];
      // p in the same fixed point (p >= 2 is "keep all" as much as 2 is).
      const uint32_t pm = kMass ? __float2uint_rn(fminf(a.prob_threshold, 2.f) * 1073741824.f) : 0u;
      if (kMass && tot <= pm) {
        // The whole row's mass stays within p: the cut keeps every block (needed = n).
#pragma unroll
        for (int e = 0; e < ITEMS; ++e)
          if (valid(e)) keep[tid * ITEMS + e] = 1;
      } else {
        // T = the largest bit pattern with count(>= T) >= kk and (with p) mass(>= T) > p: both
        // hold for every T up to the kk-th largest probability, resp. up to the probability
        // where the sorted cumulative mass first exceeds p, so T is the smaller of the two, the
        // needed-th largest probability. The predicate holds at the start (below every value).
        const int common = __clz(static_cast<int>(hi ^ lo));  // leading bits shared, 32 if all equal
        uint32_t t = common == 32 ? hi : hi & ~(0xffffffffu >> common);
        for (int b = 31 - common; b >= 0; --b) {
          const uint32_t cand = t | (1u << b);
          uint32_t c = 0, m = 0;
#pragma unroll
          for (int e = 0; e < ITEMS; ++e) {
            const bool ge = bits[e] >= cand;
            c += ge ? 1u : 0u;
            if constexpr (kMass) m += ge ? mass[e] : 0u;
          }
          const uint2 r = cta_sum2<kMass>(c, m, red, b & 1);
          if (static_cast<int>(r.x) >= kk && (!kMass || r.y > pm)) t = cand;
        }
        uint32_t gt = 0, eq = 0, mgt = 0;
#pragma unroll
        for (int e = 0; e < ITEMS; ++e) {
          gt += (valid(e) && bits[e] > t) ? 1u : 0u;
          eq += (valid(e) && bits[e] == t) ? 1u : 0u;
          if constexpr (kMass) mgt += (valid(e) && bits[e] > t) ? mass[e] : 0u;
        }
        const uint2 above = cta_sum2<kMass>(gt, mgt, red, 1);  // the loop's last call used buf 0
        // Blocks equal to T still to keep: what top_k still needs, or the fewest whose mass
        // (each q(T)) takes the blocks above T past p, whichever is more (>= 1).
        int take = kk - static_cast<int>(above.x);
        if constexpr (kMass) {
          const uint32_t qt = fixed_mass(__uint_as_float(t));
          const uint32_t rp = above.y > pm ? 0u : qt > 0u ? (pm - above.y) / qt + 1u : static_cast<uint32_t>(n);
          take = max(take, static_cast<int>(min(rp, static_cast<uint32_t>(n))));
        }
        int before;
        ScanI(tmp.scani).ExclusiveSum(static_cast<int>(eq), before);  // blocked arrangement: thread order = index order
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

template <int ITEMS>
void launch(const BlockSelectArgs& a, int rows, size_t smem, cudaStream_t s) {
  // Method 1 always sorts; method 0 selects by the bitwise search (with the mass when p > 0).
  if (a.method == 1)
    select_blocks_kernel<ITEMS, Cut::kSort><<<rows, kThreads, smem, s>>>(a);
  else if (a.prob_threshold > 0.f)
    select_blocks_kernel<ITEMS, Cut::kTopP><<<rows, kThreads, smem, s>>>(a);
  else
    select_blocks_kernel<ITEMS, Cut::kTopK><<<rows, kThreads, smem, s>>>(a);
}

}  // namespace

void launch_select_blocks(const BlockSelectArgs& a, cudaStream_t s) {
  const int rows = a.groups * a.q_blocks;
  const size_t smem = static_cast<size_t>(a.k_blocks);
  if (a.n_cols <= kThreads * 4)
    launch<4>(a, rows, smem, s);
  else
    launch<8>(a, rows, smem, s);
  JENGA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace jenga::cuda::mask
