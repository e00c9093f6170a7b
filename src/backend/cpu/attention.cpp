#include "backend/cpu/attention.h"
#include "core/interrupt.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"

namespace jenga::cpu {

void AttentionArgs::set_blhd_strides() {
  q_row_stride = heads * head_dim, q_head_stride = head_dim, q_batch_stride = q_len * heads * head_dim;
  k_row_stride = heads * head_dim, k_head_stride = head_dim, k_batch_stride = k_len * heads * head_dim;
  v_row_stride = k_row_stride, v_head_stride = k_head_stride, v_batch_stride = k_batch_stride;
  out_row_stride = q_row_stride, out_head_stride = q_head_stride, out_batch_stride = q_batch_stride;
}

void AttentionArgs::set_bhld_strides() {
  q_row_stride = head_dim, q_head_stride = q_len * head_dim, q_batch_stride = heads * q_len * head_dim;
  k_row_stride = head_dim, k_head_stride = k_len * head_dim, k_batch_stride = heads * k_len * head_dim;
  v_row_stride = k_row_stride, v_head_stride = k_head_stride, v_batch_stride = k_batch_stride;
  out_row_stride = q_row_stride, out_head_stride = q_head_stride, out_batch_stride = q_batch_stride;
}

void attention(const AttentionArgs& a) {
  const BlockSparseLayout* L = a.layout;
  if (L) {
    L->validate();
    const int64_t qb = (a.q_len + L->block_m - 1) / L->block_m;
    const int64_t kb = (a.k_len + L->block_n - 1) / L->block_n;
    if (L->batch != a.batch || L->heads != a.heads || L->q_blocks != qb || L->k_blocks != kb)
      fail("attention: layout is {}x{}x{}x{} blocks but the inputs need {}x{}x{}x{}", L->batch,
           L->heads, L->q_blocks, L->k_blocks, a.batch, a.heads, qb, kb);
  }
  // Dense = every 128-key block kept, so the per-key-block bias indexes the same way.
  const int64_t block_n = L ? L->block_n : 128;
  const int64_t block_m = L ? L->block_m : 128;
  const int64_t k_blocks = (a.k_len + block_n - 1) / block_n;
  std::vector<int32_t> all(static_cast<size_t>(k_blocks));
  for (int64_t j = 0; j < k_blocks; ++j) all[j] = static_cast<int32_t>(j);

#pragma omp parallel for collapse(2) schedule(dynamic)
  for (int64_t b = 0; b < a.batch; ++b) {
    for (int64_t h = 0; h < a.heads; ++h) {
      if (interrupted()) continue;  // Ctrl-C: skip the rest (no throw inside OpenMP); the caller throws
      std::vector<float> logits(static_cast<size_t>(a.k_len));
      std::vector<int64_t> cols;
      for (int64_t i = 0; i < a.q_len; ++i) {
        if ((i & 63) == 0 && interrupted()) break;
        const float* q = a.q + b * a.q_batch_stride + h * a.q_head_stride + i * a.q_row_stride;
        float* o = a.out + b * a.out_batch_stride + h * a.out_head_stride + i * a.out_row_stride;
        std::span<const int32_t> kept = L ? L->kept(b, h, i / block_m) : std::span<const int32_t>(all);
        cols.clear();
        float mx = -std::numeric_limits<float>::infinity();
        for (int32_t kbk : kept) {
          const float bias = a.key_block_bias ? a.key_block_bias[h * k_blocks + kbk] : 0.0f;
          const int64_t j1 = std::min<int64_t>((kbk + 1) * block_n, a.k_len);
          for (int64_t j = static_cast<int64_t>(kbk) * block_n; j < j1; ++j) {
            const float* k = a.k + b * a.k_batch_stride + h * a.k_head_stride + j * a.k_row_stride;
            double dot = 0;
            for (int64_t d = 0; d < a.head_dim; ++d) dot += static_cast<double>(q[d]) * k[d];
            const float s = static_cast<float>(dot) * a.scale + bias;
            logits[j] = s;
            mx = std::max(mx, s);
            cols.push_back(j);
          }
        }
        for (int64_t d = 0; d < a.head_dim; ++d) o[d] = 0.0f;
        if (cols.empty()) continue;
        double sum = 0;
        std::vector<double> acc(static_cast<size_t>(a.head_dim), 0.0);
        for (int64_t j : cols) {
          const double p = std::exp(static_cast<double>(logits[j]) - mx);
          sum += p;
          const float* v = a.v + b * a.v_batch_stride + h * a.v_head_stride + j * a.v_row_stride;
          for (int64_t d = 0; d < a.head_dim; ++d) acc[d] += p * v[d];
        }
        for (int64_t d = 0; d < a.head_dim; ++d) o[d] = static_cast<float>(acc[d] / sum);
      }
    }
  }
}

}  // namespace jenga::cpu
