#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "backend/block_sparse.h"
#include "backend/cpu/attention.h"
#include "backend/cpu/conv.h"
#include "backend/cpu/ops_t5vae.h"
#include "backend/cpu/gemm.h"
#include "core/error.h"
#include "core/rng.h"

using namespace jenga;

TEST(CpuGemm, LinearMatchesLoops) {
  const int64_t m = 5, n = 7, k = 9;
  std::vector<float> x(m * k), w(n * k), b(n), y(m * n);
  fill_normal(x, 1);
  fill_normal(w, 2);
  fill_normal(b, 3);
  cpu::linear(x.data(), w.data(), b.data(), y.data(), m, n, k);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double r = b[j];
      for (int64_t t = 0; t < k; ++t) r += double(x[i * k + t]) * w[j * k + t];
      EXPECT_NEAR(y[i * n + j], r, 1e-4);
    }
}

// HunyuanVideo CausalConv3d: F.pad(replicate: 2 frames in front, 1 pixel around) then a strided
// Conv3d, written as loops over the clamped input index.
TEST(CpuConv, CausalReplicateConv3dMatchesLoops) {
  const int64_t t = 4, h = 5, w = 6, ci = 3, co = 2;
  std::vector<float> x(t * h * w * ci), wt(co * ci * 27), b(co);
  fill_normal(x, 4);
  fill_normal(wt, 5);
  fill_normal(b, 6);
  const auto conv = cpu::pack_conv(wt, b, co, ci, 3, 3, 3);
  for (int st : {1, 2})
    for (int ss : {1, 2}) {
      const int64_t to = (t - 1) / st + 1, ho = (h - 1) / ss + 1, wo = (w - 1) / ss + 1;
      std::vector<float> y(to * ho * wo * co);
      cpu::conv3d_causal_replicate(conv, x.data(), t, h, w, st, ss, y.data());
      auto clampi = [](int64_t v, int64_t n) { return std::min(std::max<int64_t>(v, 0), n - 1); };
      for (int64_t f = 0; f < to; ++f)
        for (int64_t i = 0; i < ho; ++i)
          for (int64_t j = 0; j < wo; ++j)
            for (int64_t o = 0; o < co; ++o) {
              double r = b[o];
              for (int64_t c = 0; c < ci; ++c)
                for (int64_t a = 0; a < 3; ++a)
                  for (int64_t p = 0; p < 3; ++p)
                    for (int64_t q = 0; q < 3; ++q) {
                      const int64_t ff = clampi(f * st + a - 2, t), yy = clampi(i * ss + p - 1, h), xx = clampi(j * ss + q - 1, w);
                      r += double(wt[(((o * ci + c) * 3 + a) * 3 + p) * 3 + q]) * x[((ff * h + yy) * w + xx) * ci + c];
                    }
              EXPECT_NEAR(y[((f * ho + i) * wo + j) * co + o], r, 1e-4) << st << ss;
            }
    }
}

TEST(CpuOps, GroupNormSiluMatchesFormula) {
  const int64_t n = 37, c = 6, groups = 3;
  std::vector<float> x(n * c), wgt(c), bias(c), y(n * c);
  fill_normal(x, 7);
  fill_normal(wgt, 8);
  fill_normal(bias, 9);
  for (auto& v : x) v = 3.0f + 2.0f * v;  // an offset mean
  for (bool silu : {false, true}) {
    cpu::group_norm(x.data(), n, c, groups, wgt.data(), bias.data(), 1e-6f, silu, y.data());
    for (int64_t g = 0; g < groups; ++g) {
      double m = 0, v = 0;
      for (int64_t p = 0; p < n; ++p)
        for (int64_t i = g * 2; i < g * 2 + 2; ++i) m += x[p * c + i];
      m /= n * 2;
      for (int64_t p = 0; p < n; ++p)
        for (int64_t i = g * 2; i < g * 2 + 2; ++i) v += (x[p * c + i] - m) * (x[p * c + i] - m);
      v /= n * 2;
      for (int64_t p = 0; p < n; ++p)
        for (int64_t i = g * 2; i < g * 2 + 2; ++i) {
          double r = (x[p * c + i] - m) / std::sqrt(v + 1e-6) * wgt[i] + bias[i];
          if (silu) r = r / (1 + std::exp(-r));
          EXPECT_NEAR(y[p * c + i], r, 1e-5);
        }
    }
  }
}

TEST(BlockSparse, OneHotRoundTripAndValidate) {
  std::vector<uint8_t> m = {1, 0, 1, 0, 0, 0, 1, 1, 1};  // 1x1x3x3
  auto l = BlockSparseLayout::from_onehot(m, 1, 1, 3, 3);
  EXPECT_EQ(l.offsets, (std::vector<int32_t>{0, 2, 2, 5}));
  EXPECT_EQ(l.indices, (std::vector<int32_t>{0, 2, 0, 1, 2}));
  EXPECT_EQ(l.to_onehot(), m);
  EXPECT_NEAR(l.density(), 5.0 / 9.0, 1e-12);
  EXPECT_NO_THROW(l.validate());
  l.indices[1] = 5;
  EXPECT_THROW(l.validate(), Error);
  l.indices[1] = 0;  // not ascending
  EXPECT_THROW(l.validate(), Error);
  EXPECT_THROW(BlockSparseLayout::from_onehot(m, 1, 1, 2, 3), Error);
  auto d = BlockSparseLayout::dense(2, 3, 4, 5);
  EXPECT_EQ(d.density(), 1.0);
  EXPECT_EQ(d.kept(1, 2, 3).size(), 5u);
}

namespace {
struct Qkv {
  std::vector<float> q, k, v;
};
Qkv random_qkv(int64_t B, int64_t H, int64_t Lq, int64_t Lk, int64_t D, uint64_t seed) {
  Qkv r{std::vector<float>(B * H * Lq * D), std::vector<float>(B * H * Lk * D), std::vector<float>(B * H * Lk * D)};
  fill_normal(r.q, seed);
  fill_normal(r.k, seed + 1);
  fill_normal(r.v, seed + 2);
  return r;
}
}  // namespace

// Dense: check against a direct softmax formula, in [B, H, L, D].
TEST(CpuAttention, DenseMatchesFormula) {
  const int64_t B = 2, H = 2, Lq = 5, Lk = 7, D = 4;
  auto t = random_qkv(B, H, Lq, Lk, D, 10);
  std::vector<float> out(B * H * Lq * D);
  cpu::AttentionArgs a;
  a.q = t.q.data(), a.k = t.k.data(), a.v = t.v.data(), a.out = out.data();
  a.batch = B, a.heads = H, a.q_len = Lq, a.k_len = Lk, a.head_dim = D, a.scale = 0.5f;
  a.set_bhld_strides();
  cpu::attention(a);
  for (int64_t bh = 0; bh < B * H; ++bh)
    for (int64_t i = 0; i < Lq; ++i) {
      std::vector<double> p(Lk);
      double mx = -1e30, s = 0;
      for (int64_t j = 0; j < Lk; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < D; ++d) dot += t.q[(bh * Lq + i) * D + d] * t.k[(bh * Lk + j) * D + d];
        p[j] = 0.5 * dot;
        mx = std::max(mx, p[j]);
      }
      for (auto& x : p) s += (x = std::exp(x - mx));
      for (int64_t d = 0; d < D; ++d) {
        double o = 0;
        for (int64_t j = 0; j < Lk; ++j) o += p[j] / s * t.v[(bh * Lk + j) * D + d];
        EXPECT_NEAR(out[(bh * Lq + i) * D + d], o, 1e-5);
      }
    }
}

// Sparse with ragged blocks and an empty row, [B, L, H, D] strides, and a key-block bias:
// equals dense attention with masked-out keys at -inf and the bias added to the logits.
TEST(CpuAttention, SparseEqualsMaskedDense) {
  const int64_t B = 1, H = 2, L = 10, D = 3;
  const int bm = 4, bn = 4;  // 3 query blocks, 3 key blocks (last ragged: 2 rows/cols)
  auto t = random_qkv(B, H, L, L, D, 20);
  std::vector<uint8_t> mask = {1, 0, 1, /**/ 0, 0, 0, /**/ 0, 1, 1,
                               1, 1, 1, /**/ 0, 1, 0, /**/ 1, 0, 0};
  auto layout = BlockSparseLayout::from_onehot(mask, B, H, 3, 3, bm, bn);
  std::vector<float> bias = {0.0f, 0.3f, -0.7f, 1.0f, 0.0f, 0.5f};  // [H, k_blocks]
  std::vector<float> out(L * H * D);
  cpu::AttentionArgs a;
  a.q = t.q.data(), a.k = t.k.data(), a.v = t.v.data(), a.out = out.data();
  a.batch = B, a.heads = H, a.q_len = L, a.k_len = L, a.head_dim = D, a.scale = 0.7f;
  a.set_blhd_strides();
  a.layout = &layout;
  a.key_block_bias = bias.data();
  cpu::attention(a);
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = 0; i < L; ++i) {
      std::vector<double> p(L, 0.0);
      double mx = -1e30, s = 0;
      bool any = false;
      for (int64_t j = 0; j < L; ++j) {
        if (!mask[(h * 3 + i / bm) * 3 + j / bn]) { p[j] = -INFINITY; continue; }
        double dot = 0;
        for (int64_t d = 0; d < D; ++d) dot += t.q[(i * H + h) * D + d] * t.k[(j * H + h) * D + d];
        p[j] = 0.7 * dot + bias[h * 3 + j / bn];
        mx = std::max(mx, p[j]);
        any = true;
      }
      for (int64_t d = 0; d < D; ++d) {
        if (!any) { EXPECT_EQ(out[(i * H + h) * D + d], 0.0f); continue; }
        double o = 0;
        s = 0;
        for (int64_t j = 0; j < L; ++j) s += std::isinf(p[j]) ? 0 : std::exp(p[j] - mx);
        for (int64_t j = 0; j < L; ++j)
          if (!std::isinf(p[j])) o += std::exp(p[j] - mx) / s * t.v[(j * H + h) * D + d];
        EXPECT_NEAR(out[(i * H + h) * D + d], o, 1e-5) << h << " " << i << " " << d;
      }
    }
  // A layout for the wrong shape is refused.
  auto wrong = BlockSparseLayout::dense(1, 2, 2, 3, bm, bn);
  a.layout = &wrong;
  EXPECT_THROW(cpu::attention(a), Error);
}

// Dense attention with a key-block bias indexes the bias per 128-key block, like a layout that
// keeps every block.
TEST(CpuAttention, DenseBiasEqualsAllBlocksLayout) {
  const int64_t H = 2, L = 300, D = 8;  // 3 key blocks, the last ragged
  auto t = random_qkv(1, H, L, L, D, 30);
  std::vector<float> bias = {0.5f, -1.0f, 2.0f, 0.0f, 1.0f, -0.5f};
  std::vector<float> dense(L * H * D), sparse(L * H * D);
  cpu::AttentionArgs a;
  a.q = t.q.data(), a.k = t.k.data(), a.v = t.v.data();
  a.batch = 1, a.heads = H, a.q_len = L, a.k_len = L, a.head_dim = D, a.scale = 0.3f;
  a.set_blhd_strides();
  a.key_block_bias = bias.data();
  a.out = dense.data();
  cpu::attention(a);
  auto all = BlockSparseLayout::dense(1, H, 3, 3);
  a.layout = &all;
  a.out = sparse.data();
  cpu::attention(a);
  for (size_t i = 0; i < dense.size(); ++i) ASSERT_FLOAT_EQ(dense[i], sparse[i]) << i;
}
