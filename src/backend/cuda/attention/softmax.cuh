#pragma once
// Online softmax in base 2 over one key tile, for the two rows (g, g+8) a thread holds.
// Logits arrive raw (q.k); scale_log2 = scale * log2(e) and the tile's bias (log2 units) are
// folded into one FFMA before exp2. The row sum l stays per-thread (quad-reduced at the end).
// FAST: exp2 as one MUFU.EX2 (ex2.approx.ftz; plain exp2f adds a compare and two predicated
// multiplies per element for subnormal results, which a softmax weight never needs).
// LAZY: the reference max m moves only when a tile's max exceeds it by more than kLazyLog2
// (FA4's conditional rescale): probabilities stay <= 2^kLazyLog2 (exact in f32, bf16 keeps its
// relative precision) and the output accumulator is rescaled only when some row's m moved.
#include <cmath>

namespace jenga::cuda::attn {

__device__ __forceinline__ float ex2_ftz(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

template <int NT, bool FAST = false, bool LAZY = false>  // NT: 8-column MMA tiles per key tile
struct OnlineSoftmax {
  static constexpr float kLazyLog2 = 8.f;
  float m[2] = {-INFINITY, -INFINITY};  // running (reference) max, log2 units
  float l[2] = {0.f, 0.f};              // running partial row sums

  __device__ __forceinline__ static float exp2_(float x) {
    if constexpr (FAST)
      return ex2_ftz(x);
    else
      return exp2f(x);
  }

  __device__ __forceinline__ static float quad_max(float x) {
    x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
    return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
  }
  __device__ __forceinline__ static float quad_sum(float x) {
    x += __shfl_xor_sync(0xffffffffu, x, 1);
    return x + __shfl_xor_sync(0xffffffffu, x, 2);
  }

  // s: logits of this tile (masked entries already -inf), becomes probabilities.
  // Returns, per row, the factor the output accumulator must be rescaled by.
  __device__ __forceinline__ void update(float (&s)[NT][4], float scale_log2, float bias_log2,
                                         float (&alpha)[2]) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float mx = -INFINITY;
#pragma unroll
      for (int n = 0; n < NT; ++n) mx = fmaxf(mx, fmaxf(s[n][2 * r], s[n][2 * r + 1]));
      mx = quad_max(mx) * scale_log2 + bias_log2;
      // LAZY: keep m unless the tile max passes m + kLazyLog2 (m = -inf: any finite max passes).
      const bool grow = LAZY ? mx > m[r] + kLazyLog2 : true;
      const float m_new = LAZY ? (grow ? mx : m[r]) : fmaxf(m[r], mx);
      // A row that has seen only masked keys keeps m = -inf; use 0 so exp2 never sees inf - inf.
      const float m_use = m_new == -INFINITY ? 0.f : m_new;
      alpha[r] = grow ? exp2_(m[r] - m_use) : 1.f;
      m[r] = m_new;
      const float shift = bias_log2 - m_use;
      float sum = 0.f;
#pragma unroll
      for (int n = 0; n < NT; ++n) {
        s[n][2 * r] = exp2_(fmaf(s[n][2 * r], scale_log2, shift));
        s[n][2 * r + 1] = exp2_(fmaf(s[n][2 * r + 1], scale_log2, shift));
        sum += s[n][2 * r] + s[n][2 * r + 1];
      }
      l[r] = l[r] * alpha[r] + sum;
    }
  }

  // 1 / (full row sum), 0 for a row that attended nothing (empty kept list -> zeros).
  __device__ __forceinline__ void finish(float (&inv)[2]) const {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const float t = quad_sum(l[r]);
      inv[r] = t > 0.f ? 1.f / t : 0.f;
    }
  }
};

}  // namespace jenga::cuda::attn
