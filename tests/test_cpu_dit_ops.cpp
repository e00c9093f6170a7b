// The DiT's CPU ops (backend/cpu/ops.h) against naive loops and closed forms.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "backend/cpu/attention.h"
#include "backend/cpu/gemm.h"
#include "backend/cpu/ops.h"

using namespace jenga;

namespace {
std::vector<float> randn(size_t n, unsigned seed, float mean = 0.0f, float sd = 1.0f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(mean, sd);
  std::vector<float> v(n);
  for (float& x : v) x = d(g);
  return v;
}
}  // namespace

TEST(CpuDitOps, LayerNormMatchesDefinition) {
  const int64_t rows = 5, dim = 48;
  auto x = randn(rows * dim, 1, 3.0f, 2.0f);  // nonzero mean: catches a missing centring
  auto w = randn(dim, 2), b = randn(dim, 3);
  std::vector<float> y(x.size()), ya(x.size());
  cpu::layer_norm(x.data(), y.data(), rows, dim, nullptr, nullptr, 1e-6f);
  cpu::layer_norm(x.data(), ya.data(), rows, dim, w.data(), b.data(), 1e-6f);
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < dim; ++i) mean += x[r * dim + i];
    mean /= dim;
    for (int64_t i = 0; i < dim; ++i) var += (x[r * dim + i] - mean) * (x[r * dim + i] - mean);
    var /= dim;  // biased, as torch
    for (int64_t i = 0; i < dim; ++i) {
      const double n = (x[r * dim + i] - mean) / std::sqrt(var + 1e-6);
      EXPECT_NEAR(y[r * dim + i], n, 1e-5);
      EXPECT_NEAR(ya[r * dim + i], n * w[i] + b[i], 1e-5);
    }
  }
  // In place gives the same.
  cpu::layer_norm(x.data(), x.data(), rows, dim, w.data(), b.data(), 1e-6f);
  EXPECT_EQ(x, ya);
}

TEST(CpuDitOps, RmsNormMatchesDefinition) {
  const int64_t rows = 3, dim = 32;
  auto x = randn(rows * dim, 4), w = randn(dim, 5, 1.0f, 0.1f);
  std::vector<float> y(x.size());
  cpu::rms_norm(x.data(), y.data(), rows, dim, w.data(), 1e-6f);
  for (int64_t r = 0; r < rows; ++r) {
    double ms = 0;
    for (int64_t i = 0; i < dim; ++i) ms += double(x[r * dim + i]) * x[r * dim + i];
    const double inv = 1.0 / std::sqrt(ms / dim + 1e-6);
    for (int64_t i = 0; i < dim; ++i) EXPECT_NEAR(y[r * dim + i], x[r * dim + i] * inv * w[i], 1e-5);
  }
}

TEST(CpuDitOps, ActivationsAndModulation) {
  std::vector<float> g = {-3.0f, -1.0f, 0.0f, 0.5f, 2.0f}, s = g;
  cpu::gelu_tanh(g.data(), 5);
  cpu::silu(s.data(), 5);
  const std::vector<float> in = {-3.0f, -1.0f, 0.0f, 0.5f, 2.0f};
  for (size_t i = 0; i < in.size(); ++i) {
    const double v = in[i];
    const double gt = 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
    EXPECT_NEAR(g[i], gt, 1e-6);
    // tanh GELU stays within 1e-3 of the exact erf GELU: guards against a wrong constant.
    EXPECT_NEAR(g[i], 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))), 1e-3);
    EXPECT_NEAR(s[i], v / (1 + std::exp(-v)), 1e-6);
  }
  std::vector<float> x = {1, 2, 3, 4}, shift = {10, 20}, scale = {1, -1};
  cpu::modulate(x.data(), 2, 2, shift.data(), scale.data());
  EXPECT_EQ(x, (std::vector<float>{12, 20, 16, 20}));
  std::vector<float> acc = {1, 1, 1, 1}, y = {1, 2, 3, 4}, gate = {0.5f, 2};
  cpu::add_gated(acc.data(), y.data(), 2, 2, gate.data());
  EXPECT_EQ(acc, (std::vector<float>{1.5f, 5, 2.5f, 9}));
}

TEST(CpuDitOps, SinusoidalEmbedding) {
  const int64_t dim = 256;
  std::vector<float> e(dim);
  cpu::sinusoidal_embedding(0.0, dim, e.data());
  for (int64_t k = 0; k < dim / 2; ++k) {
    EXPECT_EQ(e[k], 1.0f);  // cos first
    EXPECT_EQ(e[dim / 2 + k], 0.0f);
  }
  cpu::sinusoidal_embedding(637.5, dim, e.data());
  EXPECT_NEAR(e[0], std::cos(637.5), 1e-6);  // frequency 1 for k = 0
  EXPECT_NEAR(e[dim / 2], std::sin(637.5), 1e-6);
  EXPECT_NEAR(e[10], std::cos(637.5 * std::pow(10000.0, -10.0 / 128)), 1e-6);
  EXPECT_NEAR(e[dim - 1], std::sin(637.5 * std::pow(10000.0, -127.0 / 128)), 1e-6);
}

TEST(CpuDitOps, Rope3dSplitAndFrequencies) {
  // head dim 128: 64 pairs split 22 (t) / 21 (h) / 21 (w), as the official model.
  const int64_t hd = 128, F = 3, H = 4, W = 5;
  const auto r = cpu::rope_table_3d(hd, F, H, W);
  ASSERT_EQ(r.tokens, F * H * W);
  ASSERT_EQ(r.pairs, 64);
  const int64_t tok = (2 * H + 3) * W + 4;  // f=2, h=3, w=4
  auto angle = [&](int64_t j) { return std::atan2(r.sin[tok * 64 + j], r.cos[tok * 64 + j]); };
  auto wrap = [](double a) { return std::remainder(a, 2 * M_PI); };
  EXPECT_NEAR(angle(0), wrap(2.0), 1e-12);   // t part, pair 0: pos f
  EXPECT_NEAR(angle(22), wrap(3.0), 1e-12);  // h part starts at pair 22
  EXPECT_NEAR(angle(43), wrap(4.0), 1e-12);  // w part starts at pair 43
  EXPECT_NEAR(angle(5), wrap(2.0 * std::pow(10000.0, -10.0 / 44)), 1e-12);
  EXPECT_NEAR(angle(22 + 7), wrap(3.0 * std::pow(10000.0, -14.0 / 42)), 1e-12);
  // Token 0 is unrotated; rotation keeps each pair's norm.
  std::vector<float> x = randn(F * H * W * 2 * hd, 6), x0 = x;
  cpu::rope_apply(x.data(), F * H * W, 2, hd, r);
  for (int64_t i = 0; i < 2 * hd; ++i) EXPECT_EQ(x[i], x0[i]);
  for (size_t p = 0; p < x.size(); p += 2)
    EXPECT_NEAR(std::hypot(x[p], x[p + 1]), std::hypot(x0[p], x0[p + 1]), 1e-5);
  // A permuted table is the raster table gathered by the same order.
  std::vector<int64_t> order(F * H * W);
  std::iota(order.rbegin(), order.rend(), 0);
  const auto rp = cpu::rope_table_3d(hd, F, H, W, order);
  for (int64_t i = 0; i < F * H * W; ++i)
    for (int64_t j = 0; j < 64; ++j) EXPECT_EQ(rp.cos[i * 64 + j], r.cos[order[i] * 64 + j]);
}

TEST(CpuDitOps, PatchifyIsConv3dAndUnpatchifyInvertsHead) {
  const int64_t C = 3, F = 2, H = 3, W = 2, D = 4;  // token grid; pixels F*1 x H*2 x W*2
  const int64_t patch[3] = {1, 2, 2};
  const int64_t T = F, Hp = H * 2, Wp = W * 2, K = C * 4;
  auto x = randn(C * T * Hp * Wp, 7), w = randn(D * K, 8), b = randn(D, 9);
  std::vector<float> patches(F * H * W * K), y(F * H * W * D);
  cpu::patchify(x.data(), patches.data(), C, F, H, W, patch);
  cpu::linear(patches.data(), w.data(), b.data(), y.data(), F * H * W, D, K);
  for (int64_t f = 0; f < F; ++f)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t ww = 0; ww < W; ++ww)
        for (int64_t o = 0; o < D; ++o) {  // Conv3d, kernel = stride = (1, 2, 2)
          double s = b[o];
          for (int64_t c = 0; c < C; ++c)
            for (int64_t j = 0; j < 2; ++j)
              for (int64_t k = 0; k < 2; ++k)
                s += double(w[((o * C + c) * 2 + j) * 2 + k]) * x[((c * T + f) * Hp + h * 2 + j) * Wp + ww * 2 + k];
          EXPECT_NEAR(y[((f * H + h) * W + ww) * D + o], s, 1e-5);
        }
  // Unpatchify: token (f,h,w) row (i,j,k,c) lands at out[c, f+i, 2h+j, 2w+k].
  auto tokens = randn(F * H * W * 4 * C, 10);
  std::vector<float> out(C * T * Hp * Wp, -1.0f);
  cpu::unpatchify(tokens.data(), out.data(), C, F, H, W, patch);
  for (int64_t f = 0; f < F; ++f)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t ww = 0; ww < W; ++ww)
        for (int64_t j = 0; j < 2; ++j)
          for (int64_t k = 0; k < 2; ++k)
            for (int64_t c = 0; c < C; ++c)
              EXPECT_EQ(out[((c * T + f) * Hp + 2 * h + j) * Wp + 2 * ww + k],
                        tokens[((f * H + h) * W + ww) * 4 * C + (j * 2 + k) * C + c]);
}

TEST(CpuDitOps, GatherScatterAreInverse) {
  const int64_t n = 7, dim = 3;
  auto x = randn(n * dim, 11);
  std::vector<int64_t> order = {3, 0, 6, 1, 5, 2, 4};
  std::vector<float> g(x.size()), back(x.size());
  cpu::gather_rows(x.data(), g.data(), dim, order);
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(g[i * dim + 1], x[order[i] * dim + 1]);
  cpu::scatter_rows(g.data(), back.data(), dim, order);
  EXPECT_EQ(back, x);
}

TEST(CpuDitOps, GemmAttentionMatchesReference) {
  for (auto [lq, lk, heads, hd] : {std::array<int64_t, 4>{45, 45, 4, 32}, {37, 512, 2, 16}, {1, 3, 1, 8}}) {
    auto q = randn(lq * heads * hd, 12), k = randn(lk * heads * hd, 13), v = randn(lk * heads * hd, 14);
    for (float& x : q) x *= 3.0f;  // peaky softmax: catches a missing max subtraction or scale
    std::vector<float> ref(q.size()), got(q.size());
    cpu::AttentionArgs a;
    a.q = q.data(), a.k = k.data(), a.v = v.data(), a.out = ref.data();
    a.heads = heads, a.q_len = lq, a.k_len = lk, a.head_dim = hd;
    a.set_blhd_strides();
    a.scale = 1.0f / std::sqrt(float(hd));
    cpu::attention(a);
    cpu::attention_dense_gemm(q.data(), k.data(), v.data(), got.data(), lq, lk, heads, hd, a.scale);
    for (size_t i = 0; i < ref.size(); ++i) ASSERT_NEAR(got[i], ref[i], 1e-5) << lq << "x" << lk << " at " << i;
  }
}
