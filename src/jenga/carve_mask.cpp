#include "jenga/carve_mask.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/dtype.h"
#include "core/error.h"

namespace jenga {

BlockSparseLayout CarveMask::layout() const {
  return BlockSparseLayout::from_onehot(onehot, batch, heads, blocks, blocks);
}

namespace {

float round_bf16(float x) { return bf16_to_f32(f32_to_bf16(x)); }

// Means over `block` rows of x [N, D]; rows past N are the official zero padding. torch keeps
// the means in the input's dtype: f32, or bf16 (accumulated in f32, rounded once).
void block_means(const float* x, int64_t n, int64_t d, int64_t blocks, int block, bool bf16, std::vector<double>& out) {
  out.assign(static_cast<size_t>(blocks * d), 0.0);
  for (int64_t i = 0; i < std::min(n, blocks * block); ++i) {
    double* o = out.data() + (i / block) * d;
    const float* r = x + i * d;
    for (int64_t c = 0; c < d; ++c) o[c] += r[c];
  }
  for (auto& v : out) v = bf16 ? round_bf16(static_cast<float>(v / block)) : static_cast<float>(v / block);
}

// The scaled pooled score of one (query block, key block) pair. f32: the exact dot rounded to
// f32, times the scale. bf16 (autocast): bmm's f32 accumulation (the GPU chain's fmaf order, d
// ascending) rounded to bf16, then the bf16 product with the scale.
float block_score(const double* qm, const double* km, int64_t d, float scale, bool bf16) {
  if (!bf16) {
    double dot = 0.0;
    for (int64_t c = 0; c < d; ++c) dot += qm[c] * km[c];
    return static_cast<float>(dot) * scale;
  }
  float acc = 0.f;
  for (int64_t c = 0; c < d; ++c) acc = std::fma(static_cast<float>(qm[c]), static_cast<float>(km[c]), acc);
  return round_bf16(round_bf16(acc) * scale);
}

}  // namespace

CarveMask build_carve_mask(const float* q, const float* k, int64_t batch, int64_t heads, int64_t n,
                           int64_t head_dim, const CarveParams& prm, CarveDiagnostics* diag) {
  if (batch <= 0 || heads <= 0 || n <= 0 || head_dim <= 0)
    usage_fail("carve mask: q/k shape [{}, {}, {}, {}] must have every dimension >= 1", batch, heads, n,
               head_dim);
  // As the official builder: p = 0 keeps the top block (and top_k), p >= 1 every block.
  if (!(prm.p >= 0.0 && std::isfinite(prm.p))) usage_fail("--p {}: must be a number >= 0 (0 keeps the top block, 1 every block)", prm.p);
  if (prm.top_k < 0) usage_fail("--top-k {}: must be >= 0", prm.top_k);
  if (prm.block <= 0) usage_fail("carve mask: block size {} must be positive", prm.block);
  const int64_t blocks = (n + prm.block - 1) / prm.block;
  if (prm.text_blocks < 0 || prm.text_blocks >= blocks)
    usage_fail("--text-blocks {}: must be in [0, {}) for {} tokens ({} blocks of {})", prm.text_blocks, blocks, n,
               blocks, prm.block);
  const int64_t normal = blocks - prm.text_blocks;
  if (prm.first_frame_blocks < 0 || prm.first_frame_blocks > normal)
    usage_fail("--first-frame-blocks {}: must be in [0, {}] (the vision blocks)", prm.first_frame_blocks, normal);
  if (prm.neighbors && prm.neighbors->blocks != normal)
    usage_fail("neighbour table has {} blocks but the input has {} vision blocks; the token grid must "
               "hold exactly the vision tokens",
               prm.neighbors->blocks, normal);
  for (int64_t i = 0; i < batch * heads * n * head_dim; ++i)
    if (!std::isfinite(q[i]) || !std::isfinite(k[i]))
      fail("carve mask: q or k holds NaN/Inf at flat index {}; check the input tensors", i);

  CarveMask m;
  m.batch = batch;
  m.heads = heads;
  m.blocks = blocks;
  m.normal_blocks = normal;
  m.onehot.assign(static_cast<size_t>(batch * heads * blocks * blocks), 0);
  if (diag) diag->near_threshold.assign(static_cast<size_t>(batch * heads * normal), 0);

  const float scale = static_cast<float>(std::pow(static_cast<double>(head_dim), -0.5));
  const float p32 = static_cast<float>(prm.p);  // torch compares f32 cumsums with p cast to f32
  std::vector<double> qm, km, prob(static_cast<size_t>(normal));
  std::vector<int32_t> idx(static_cast<size_t>(normal));
  for (int64_t bh = 0; bh < batch * heads; ++bh) {
    const float* qx = q + bh * n * head_dim;
    const float* kx = k + bh * n * head_dim;
    block_means(qx, n, head_dim, normal, prm.block, prm.bf16_rounding, qm);
    block_means(kx, n, head_dim, normal, prm.block, prm.bf16_rounding, km);
    uint8_t* out = m.onehot.data() + bh * blocks * blocks;
    for (int64_t i = 0; i < normal; ++i) {
      // Softmax over the vision key blocks of the scaled pooled scores.
      double mx = -INFINITY;
      for (int64_t j = 0; j < normal; ++j) {
        prob[j] = block_score(&qm[i * head_dim], &km[j * head_dim], head_dim, scale, prm.bf16_rounding);
        mx = std::max(mx, prob[j]);
      }
      double sum = 0.0;
      for (int64_t j = 0; j < normal; ++j) sum += (prob[j] = static_cast<float>(std::exp(prob[j] - mx)));
      for (int64_t j = 0; j < normal; ++j) prob[j] = static_cast<float>(prob[j] / sum);
      std::iota(idx.begin(), idx.end(), 0);
      std::stable_sort(idx.begin(), idx.end(), [&](int32_t a, int32_t b) { return prob[a] > prob[b]; });
      int64_t below = 0;
      double cum = 0.0;
      bool near = false;
      for (int64_t r = 0; r < normal; ++r) {
        cum += prob[idx[r]];
        const float c32 = static_cast<float>(cum);
        if (c32 <= p32) ++below;
        if (diag && std::abs(static_cast<double>(c32) - prm.p) < diag->eps) near = true;
      }
      const int64_t needed = std::min(normal, std::max(below + 1, prm.top_k));
      for (int64_t r = 0; r < needed; ++r) out[i * blocks + idx[r]] = 1;
      if (diag) {
        if (needed < normal && std::abs(prob[idx[needed - 1]] - prob[idx[needed]]) < diag->eps) near = true;
        diag->near_threshold[bh * normal + i] = near;
      }
      if (prm.neighbors)
        for (int32_t j : prm.neighbors->of(i)) out[i * blocks + j] = 1;
      for (int64_t j = normal; j < blocks; ++j) out[i * blocks + j] = 1;  // text keys always kept
    }
    for (int64_t i = 0; i < prm.first_frame_blocks; ++i)
      std::fill(out + i * blocks, out + i * blocks + prm.first_frame_blocks, uint8_t{1});
    std::fill(out + normal * blocks, out + blocks * blocks, uint8_t{1});  // text queries: dense
  }
  return m;
}

int64_t wan_top_k(int64_t tokens, double drop_rate) {
  const int64_t blocks = (tokens + 127) / 128;
  return static_cast<int64_t>(static_cast<double>(blocks) * (1.0 - drop_rate));
}

int64_t wan_first_frame_blocks(int64_t tokens) { return ((tokens + 127) / 128) / 21; }

int64_t hunyuan_top_k(int64_t image_tokens, double drop_rate, int world_size) {
  const int64_t local_blocks = (image_tokens / world_size) / 128;
  return static_cast<int64_t>((1.0 - drop_rate) * static_cast<double>(local_blocks)) * world_size;
}

}  // namespace jenga
