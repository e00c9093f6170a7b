// GPU mask-builder primitives against straightforward CPU code (REFERENCE A.2 semantics).
// Skips without a GPU (CI has none).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "backend/block_sparse.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/mask_builder.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"

using namespace jenga;

namespace {

#define REQUIRE_GPU() \
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device"

template <class T>
Tensor upload(const std::vector<T>& v, DType dt) {
  Tensor t = Tensor::empty(dt, Shape{std::max<int64_t>(1, static_cast<int64_t>(v.size()))}, Device::CUDA);
  if (!v.empty()) cuda::copy_to_device(t.data(), v.data(), v.size() * sizeof(T));
  return t;
}
template <class T>
std::vector<T> download(const Tensor& t, size_t n) {
  std::vector<T> v(n);
  cuda::copy_to_host(v.data(), t.data(), n * sizeof(T));
  return v;
}

// Random bf16 [B, L, H, D]; returns the bits and their f32 values.
void random_bf16(size_t n, uint64_t seed, std::vector<uint16_t>& bits, std::vector<float>& vals) {
  vals.resize(n);
  fill_normal(vals, seed);
  bits.resize(n);
  for (size_t i = 0; i < n; ++i) bits[i] = f32_to_bf16(vals[i] + 0.3f), vals[i] = bf16_to_f32(bits[i]);
}

// CPU block means of [B, L, H, D] -> [B, H, nb, D].
std::vector<float> cpu_means(const std::vector<float>& x, int B, int L, int H, int D, int nb, bool zero_padded) {
  std::vector<float> out(static_cast<size_t>(B) * H * nb * D);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int k = 0; k < nb; ++k) {
        const int r1 = std::min(L, (k + 1) * 128);
        for (int d = 0; d < D; ++d) {
          double s = 0;
          for (int r = k * 128; r < r1; ++r) s += x[((static_cast<size_t>(b) * L + r) * H + h) * D + d];
          out[((static_cast<size_t>(b) * H + h) * nb + k) * D + d] =
              static_cast<float>(s / (zero_padded ? 128 : r1 - k * 128));
        }
      }
  return out;
}

struct Selection {
  std::vector<uint8_t> mask;       // [rows, k_blocks]
  std::vector<uint8_t> borderline; // [rows]: the top-p cut sits within rounding of p
};

// CPU selection with the semantics of select_blocks (double precision).
Selection cpu_select(const std::vector<float>& scores, int groups, int q_blocks, int sel, int n_cols, int k_blocks,
                     float p, int top_k, int always_begin, int always_end, const std::vector<int32_t>* noff,
                     const std::vector<int32_t>* nidx) {
  Selection s;
  s.mask.assign(static_cast<size_t>(groups) * q_blocks * k_blocks, 0);
  s.borderline.assign(static_cast<size_t>(groups) * q_blocks, 0);
  for (int g = 0; g < groups; ++g)
    for (int qb = 0; qb < q_blocks; ++qb) {
      const size_t row = static_cast<size_t>(g) * q_blocks + qb;
      uint8_t* m = &s.mask[row * k_blocks];
      if (qb >= sel) {
        std::fill(m, m + k_blocks, 1);
        continue;
      }
      const float* x = &scores[(static_cast<size_t>(g) * sel + qb) * n_cols];
      const double mx = *std::max_element(x, x + n_cols);
      std::vector<double> pr(n_cols);
      double sum = 0;
      for (int j = 0; j < n_cols; ++j) sum += pr[j] = std::exp(x[j] - mx);
      for (auto& v : pr) v /= sum;
      std::vector<int> order(n_cols);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return pr[a] > pr[b]; });
      double c = 0;
      int below = 0;
      for (int j = 0; j < n_cols; ++j) {
        c += pr[order[j]];
        if (c <= p) ++below;
        if (std::fabs(c - p) < 1e-5) s.borderline[row] = 1;
      }
      const int needed = std::max(std::min(below + 1, n_cols), std::min(top_k, n_cols));
      // Near-equal probabilities either side of the cut may swap under f32 rounding.
      if (needed < n_cols && pr[order[needed - 1]] - pr[order[needed]] < 1e-5 * pr[order[needed - 1]])
        s.borderline[row] = 1;
      for (int j = 0; j < needed; ++j) m[order[j]] = 1;
      if (noff)
        for (int e = (*noff)[qb]; e < (*noff)[qb + 1]; ++e) m[(*nidx)[e]] = 1;
      for (int j = always_begin; j < always_end; ++j) m[j] = 1;
    }
  return s;
}

// Neighbour CSR over query blocks: block i sees i-1, i, i+1 (clamped to n).
void neighbours(int q, int n, std::vector<int32_t>& off, std::vector<int32_t>& idx) {
  off.assign(1, 0);
  idx.clear();
  for (int i = 0; i < q; ++i) {
    for (int j = std::max(0, i - 1); j <= std::min(n - 1, i + 1); ++j) idx.push_back(j);
    off.push_back(static_cast<int32_t>(idx.size()));
  }
}

}  // namespace

TEST(CudaMaskBuilder, BlockMeansMatchCpu) {
  REQUIRE_GPU();
  cuda::init();
  for (int D : {64, 128})
    for (bool zp : {false, true}) {
      const int B = 2, L = 1000, H = 3, nb = (L + 127) / 128;
      std::vector<uint16_t> bits;
      std::vector<float> vals;
      random_bf16(static_cast<size_t>(B) * L * H * D, 7 + D, bits, vals);
      Tensor src = upload(bits, DType::BF16);
      Tensor out = Tensor::empty(DType::F32, Shape{int64_t{B} * H * nb * D}, Device::CUDA);
      cuda::BlockMeansArgs a{src.data_as<uint16_t>(), int64_t{L} * H * D, D, int64_t{H} * D, B, H, L, D, nb, zp,
                             /*round_bf16=*/false, out.data_as<float>()};
      cuda::block_means(a);
      const auto got = download<float>(out, static_cast<size_t>(B) * H * nb * D);
      const auto want = cpu_means(vals, B, L, H, D, nb, zp);
      for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5f) << i << " D=" << D << " zp=" << zp;
    }
}

// Bit for bit: each score is the f32 fmaf chain over d = 0 .. D-1 from 0, times scale at the end.
TEST(CudaMaskBuilder, BlockScoresBitIdenticalToFmafChain) {
  REQUIRE_GPU();
  cuda::init();
  struct Cfg {
    int nqb, nkb, nq, nk, D;
  };
  for (const Cfg& c : {Cfg{70, 90, 65, 83, 128}, Cfg{70, 90, 70, 90, 64}, Cfg{300, 310, 257, 301, 128},
                       Cfg{130, 129, 130, 129, 64}, Cfg{128, 256, 128, 256, 128}}) {
    const int G = 3;
    const float scale = c.D == 128 ? 0.08838835f : 0.125f;
    std::vector<float> qm(static_cast<size_t>(G) * c.nqb * c.D), km(static_cast<size_t>(G) * c.nkb * c.D);
    fill_normal(qm, 11 + c.nq);
    fill_normal(km, 12 + c.nk);
    Tensor dq = upload(qm, DType::F32), dk = upload(km, DType::F32);
    Tensor ds = Tensor::empty(DType::F32, Shape{int64_t{G} * c.nq * c.nk}, Device::CUDA);
    cuda::BlockScoresArgs a;
    a.qm = dq.data_as<float>(), a.km = dk.data_as<float>(), a.groups = G, a.qm_blocks = c.nqb, a.km_blocks = c.nkb;
    a.nq = c.nq, a.nk = c.nk, a.head_dim = c.D, a.scale = scale, a.scores = ds.data_as<float>();
    cuda::block_scores(a);
    const auto got = download<float>(ds, static_cast<size_t>(G) * c.nq * c.nk);
    int64_t differ = 0;
    for (int g = 0; g < G; ++g)
      for (int i = 0; i < c.nq; ++i)
        for (int j = 0; j < c.nk; ++j) {
          float acc = 0.f;
          const float* x = &qm[(size_t(g) * c.nqb + i) * c.D];
          const float* y = &km[(size_t(g) * c.nkb + j) * c.D];
          for (int d = 0; d < c.D; ++d) acc = std::fmaf(x[d], y[d], acc);
          const float want = acc * scale, have = got[(size_t(g) * c.nq + i) * c.nk + j];
          if (std::memcmp(&want, &have, sizeof(float)) != 0 && ++differ <= 5)
            ADD_FAILURE() << "g " << g << " i " << i << " j " << j << ": " << have << " vs fmaf chain " << want
                          << " (nq " << c.nq << " nk " << c.nk << " D " << c.D << ")";
        }
    EXPECT_EQ(differ, 0) << "nq " << c.nq << " nk " << c.nk << " D " << c.D;
  }
}

TEST(CudaMaskBuilder, SelectMatchesCpuTopPTopKNeighboursText) {
  REQUIRE_GPU();
  cuda::init();
  struct Cfg {
    int sel, k_blocks;
    float p;
    int top_k;
    bool nb;
  };
  // p = 0: top-k alone, by radix select (BlockSelectArgs::method 0).
  for (const Cfg& c : {Cfg{50, 52, 0.9f, 5, true}, Cfg{50, 50, 0.0f, 10, false}, Cfg{300, 302, 0.5f, 1, true},
                       Cfg{900, 902, 0.7f, 180, true}, Cfg{1500, 1500, 0.95f, 0, false}, Cfg{900, 902, 0.0f, 180, true},
                       Cfg{1500, 1500, 0.0f, 45, false}, Cfg{300, 302, 0.0f, 0, true}}) {
    const int G = 2, q_blocks = c.k_blocks, n_cols = c.sel;
    std::vector<float> scores(static_cast<size_t>(G) * c.sel * n_cols);
    fill_normal(scores, c.sel + c.top_k);
    for (auto& x : scores) x *= 3.0f;  // peaky rows, so top-p keeps a varied number of blocks
    std::vector<int32_t> noff, nidx;
    neighbours(c.sel, c.sel, noff, nidx);
    Tensor dsc = upload(scores, DType::F32), doff = upload(noff, DType::I32), didx = upload(nidx, DType::I32);
    Tensor dmask = Tensor::empty(DType::U8, Shape{int64_t{G} * q_blocks * c.k_blocks}, Device::CUDA);
    Tensor dcnt = Tensor::empty(DType::I32, Shape{int64_t{G} * q_blocks}, Device::CUDA);
    cuda::BlockSelectArgs a;
    a.scores = dsc.data_as<float>(), a.groups = G, a.q_blocks = q_blocks, a.select_q_blocks = c.sel;
    a.n_cols = n_cols, a.k_blocks = c.k_blocks, a.prob_threshold = c.p, a.top_k = c.top_k;
    a.always_begin = c.sel, a.always_end = c.k_blocks;
    if (c.nb) a.neighbor_offsets = doff.data_as<int32_t>(), a.neighbor_indices = didx.data_as<int32_t>();
    a.mask = dmask.data_as<uint8_t>(), a.counts = dcnt.data_as<int32_t>();
    cuda::select_blocks(a);
    const auto got = download<uint8_t>(dmask, static_cast<size_t>(G) * q_blocks * c.k_blocks);
    const auto cnt = download<int32_t>(dcnt, static_cast<size_t>(G) * q_blocks);
    const Selection want = cpu_select(scores, G, q_blocks, c.sel, n_cols, c.k_blocks, c.p, c.top_k, c.sel,
                                      c.k_blocks, c.nb ? &noff : nullptr, c.nb ? &nidx : nullptr);
    int mismatched = 0, kept_total = 0;
    for (int r = 0; r < G * q_blocks; ++r) {
      const uint8_t* g = &got[size_t(r) * c.k_blocks];
      const int n = std::accumulate(g, g + c.k_blocks, 0);
      kept_total += n;
      EXPECT_EQ(cnt[r], n) << "row " << r;
      if (!std::equal(g, g + c.k_blocks, &want.mask[size_t(r) * c.k_blocks])) {
        ++mismatched;
        EXPECT_TRUE(want.borderline[r]) << "row " << r << " differs and its cut is not borderline (sel " << c.sel << ")";
      }
    }
    EXPECT_LE(mismatched, G * q_blocks / 100 + 1) << "sel " << c.sel;
    EXPECT_GT(kept_total, G * q_blocks) << "selection kept almost nothing";
  }
}

// Top-k alone: the radix select (method 0) keeps exactly the set the stable sort (method 1) keeps,
// ties included (scores on a coarse grid give many equal probabilities; the lower index wins).
TEST(CudaMaskBuilder, TopKSelectEqualsSort) {
  REQUIRE_GPU();
  cuda::init();
  for (int n_cols : {7, 300, 902, 1500}) {
    for (bool ties : {false, true}) {
      const int G = 3, q_blocks = n_cols + 2;
      std::vector<float> scores(static_cast<size_t>(G) * n_cols * n_cols);
      fill_normal(scores, n_cols + ties);
      if (ties)
        for (auto& x : scores) x = std::round(x * 4.f) / 4.f;
      Tensor dsc = upload(scores, DType::F32);
      for (int top_k : {0, 1, 5, n_cols / 5, n_cols - 1, n_cols + 3}) {
        std::vector<uint8_t> got[2];
        std::vector<int32_t> cnt[2];
        for (int method : {0, 1}) {
          Tensor dmask = Tensor::empty(DType::U8, Shape{int64_t{G} * q_blocks * q_blocks}, Device::CUDA);
          Tensor dcnt = Tensor::empty(DType::I32, Shape{int64_t{G} * q_blocks}, Device::CUDA);
          cuda::BlockSelectArgs a;
          a.scores = dsc.data_as<float>(), a.groups = G, a.q_blocks = q_blocks, a.select_q_blocks = n_cols;
          a.n_cols = n_cols, a.k_blocks = q_blocks, a.prob_threshold = 0.f, a.top_k = top_k;
          a.always_begin = n_cols, a.always_end = q_blocks, a.method = method;
          a.mask = dmask.data_as<uint8_t>(), a.counts = dcnt.data_as<int32_t>();
          cuda::select_blocks(a);
          got[method] = download<uint8_t>(dmask, static_cast<size_t>(G) * q_blocks * q_blocks);
          cnt[method] = download<int32_t>(dcnt, static_cast<size_t>(G) * q_blocks);
        }
        EXPECT_EQ(got[0], got[1]) << "n_cols " << n_cols << " ties " << ties << " top_k " << top_k;
        EXPECT_EQ(cnt[0], cnt[1]) << "n_cols " << n_cols << " ties " << ties << " top_k " << top_k;
        // Image rows keep max(1, min(top_k, n)) image blocks plus the 2 text blocks.
        EXPECT_EQ(cnt[0][0], std::max(1, std::min(top_k, n_cols)) + 2) << "n_cols " << n_cols << " top_k " << top_k;
      }
    }
  }
}

// With a probability cut: method 0 (bitwise search with the fixed-point mass, no sort) keeps the
// set the sort (method 1) and the CPU rule keep, on every row whose decision no rounding can
// move: rows where a sorted cumulative sum lies within 1e-5 of p (and p, not top_k, decides)
// are skipped and counted. Peaky and flat rows, a uniform row (all probabilities tied), rows of
// tied scores, top_k below and above the p cut, n from 7 to 2048 (both ITEMS variants, n not a
// multiple of the CTA's items).
TEST(CudaMaskBuilder, TopPSelectEqualsSortAndCpu) {
  REQUIRE_GPU();
  cuda::init();
  int64_t compared = 0, skipped = 0, cpu_skipped = 0;
  for (int n : {7, 130, 300, 902, 1025, 2048}) {
    for (bool ties : {false, true}) {
      const int G = 2, R = std::min(n, 160), q_blocks = R + 2, k_blocks = n + 2;  // 2 text blocks
      std::vector<float> scores(static_cast<size_t>(G) * R * n);
      fill_normal(scores, 1000 + n + ties);
      for (int r = 0; r < G * R; ++r) {
        const float sc = std::array<float, 4>{0.3f, 1.f, 3.f, 6.f}[r % 4];
        for (int j = 0; j < n; ++j) {
          float& x = scores[size_t(r) * n + j];
          x = (r % R == 0) ? 0.f : (ties ? std::round(x * 2.f) / 2.f : x) * sc;  // row 0: uniform
        }
      }
      // CPU: probabilities in double, stable descending order, cumulative sums.
      std::vector<std::vector<int>> order(G * R);
      std::vector<std::vector<double>> prob(G * R), cum(G * R);
      for (int r = 0; r < G * R; ++r) {
        const float* x = &scores[size_t(r) * n];
        const double mx = *std::max_element(x, x + n);
        auto& pr = prob[r];
        pr.resize(n);
        double sum = 0;
        for (int j = 0; j < n; ++j) sum += pr[j] = std::exp(x[j] - mx);
        for (auto& v : pr) v /= sum;
        order[r].resize(n);
        std::iota(order[r].begin(), order[r].end(), 0);
        std::stable_sort(order[r].begin(), order[r].end(), [&](int a, int b) { return pr[a] > pr[b]; });
        double c = 0;
        for (int j = 0; j < n; ++j) cum[r].push_back(c += pr[order[r][j]]);
      }
      Tensor dsc = upload(scores, DType::F32);
      Tensor dmask = Tensor::empty(DType::U8, Shape{int64_t{G} * q_blocks * k_blocks}, Device::CUDA);
      Tensor dcnt = Tensor::empty(DType::I32, Shape{int64_t{G} * q_blocks}, Device::CUDA);
      for (float p : {0.5f, 0.9f, 0.99f}) {
        for (int top_k : {0, 1, n / 10, n / 2, n - 1, n + 3}) {
          std::vector<uint8_t> got[2];
          std::vector<int32_t> cnt[2];
          for (int method : {0, 1}) {
            cuda::BlockSelectArgs a;
            a.scores = dsc.data_as<float>(), a.groups = G, a.q_blocks = q_blocks, a.select_q_blocks = R;
            a.n_cols = n, a.k_blocks = k_blocks, a.prob_threshold = p, a.top_k = top_k;
            a.always_begin = n, a.always_end = k_blocks, a.method = method;
            a.mask = dmask.data_as<uint8_t>(), a.counts = dcnt.data_as<int32_t>();
            cuda::select_blocks(a);
            got[method] = download<uint8_t>(dmask, static_cast<size_t>(G) * q_blocks * k_blocks);
            cnt[method] = download<int32_t>(dcnt, static_cast<size_t>(G) * q_blocks);
          }
          const std::string where = "n " + std::to_string(n) + " ties " + std::to_string(ties) + " p " +
                                    std::to_string(p) + " top_k " + std::to_string(top_k);
          for (int g = 0; g < G; ++g)
            for (int qb = 0; qb < q_blocks; ++qb) {
              const size_t row = size_t(g) * q_blocks + qb;
              const uint8_t* m0 = &got[0][row * k_blocks];
              const uint8_t* m1 = &got[1][row * k_blocks];
              ASSERT_EQ(cnt[0][row], std::accumulate(m0, m0 + k_blocks, 0)) << where << " row " << row;
              if (qb >= R) {  // text rows: dense in both
                EXPECT_EQ(cnt[0][row], k_blocks) << where;
                EXPECT_EQ(cnt[1][row], k_blocks) << where;
                continue;
              }
              EXPECT_TRUE(m0[n] && m0[n + 1]) << where << " row " << row << ": text blocks dropped";
              const int r = g * R + qb;
              auto needed = [&](double pp) {
                const int below = static_cast<int>(std::upper_bound(cum[r].begin(), cum[r].end(), pp) - cum[r].begin());
                return std::max(std::min(below + 1, n), std::min(top_k, n));
              };
              const int need_lo = needed(double(p) - 1e-5), need_hi = needed(double(p) + 1e-5);
              // On every row (borderline ones too) method 0 keeps as many image blocks as the rule
              // allows for some p within 1e-5.
              const int kept = std::accumulate(m0, m0 + n, 0);
              EXPECT_TRUE(kept >= need_lo && kept <= need_hi) << where << " row " << row << ": kept " << kept
                                                             << ", the rule gives " << need_lo << ".." << need_hi;
              if (need_lo != need_hi) {  // a cumulative sum within 1e-5 of p decides
                ++skipped;
                continue;
              }
              ++compared;
              EXPECT_TRUE(std::equal(m0, m0 + k_blocks, m1)) << where << " row " << row << ": method 0 != sort";
              // Against the CPU order only where no two unequal probabilities at the cut are
              // within f32 rounding of each other (those may swap on the GPU).
              const int need = need_lo;
              const auto& pr = prob[r];
              const auto& o = order[r];
              if (need < n && pr[o[need - 1]] != pr[o[need]] && pr[o[need - 1]] - pr[o[need]] < 1e-5 * pr[o[need - 1]]) {
                ++cpu_skipped;
                continue;
              }
              std::vector<uint8_t> want(k_blocks, 0);
              for (int j = 0; j < need; ++j) want[o[j]] = 1;
              want[n] = want[n + 1] = 1;
              EXPECT_TRUE(std::equal(m0, m0 + k_blocks, want.data())) << where << " row " << row << ": != CPU rule";
            }
        }
      }
    }
  }
  std::printf("[top-p select] rows compared %lld, skipped (cumulative sum within 1e-5 of p) %lld, "
              "skipped against the CPU only (near-equal probabilities at the cut) %lld\n",
              static_cast<long long>(compared), static_cast<long long>(skipped), static_cast<long long>(cpu_skipped));
  EXPECT_LE(skipped, compared / 20) << "too many borderline rows for the comparison to mean much";
  EXPECT_LE(cpu_skipped, compared / 50);
}

TEST(CudaMaskBuilder, CompactMatchesFromOnehot) {
  REQUIRE_GPU();
  cuda::init();
  const int rows = 500, kb = 700;
  std::mt19937 gen(3);
  std::bernoulli_distribution keep(0.2);
  std::vector<uint8_t> mask(size_t(rows) * kb);
  std::vector<int32_t> counts(rows, 0);
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < kb; ++j) counts[r] += mask[size_t(r) * kb + j] = (r % 7 == 3) ? 0 : keep(gen);
  Tensor dm = upload(mask, DType::U8), dc = upload(counts, DType::I32);
  Tensor doff = Tensor::empty(DType::I32, Shape{rows + 1}, Device::CUDA);
  Tensor didx = Tensor::empty(DType::I32, Shape{int64_t{rows} * kb}, Device::CUDA);
  const size_t ws_bytes = cuda::compact_workspace_bytes(rows);
  Tensor ws = Tensor::empty(DType::U8, Shape{static_cast<int64_t>(std::max<size_t>(ws_bytes, 1))}, Device::CUDA);
  cuda::compact_csr(dm.data_as<uint8_t>(), dc.data_as<int32_t>(), rows, kb, ws.data(), ws_bytes,
                    doff.data_as<int32_t>(), didx.data_as<int32_t>());
  const auto want = BlockSparseLayout::from_onehot(mask, 1, 1, rows, kb);
  const auto off = download<int32_t>(doff, rows + 1);
  ASSERT_EQ(off, want.offsets);
  const auto idx = download<int32_t>(didx, want.indices.size());
  EXPECT_EQ(idx, want.indices);
}

TEST(CudaMaskBuilder, BuildBlockMaskEndToEnd) {
  REQUIRE_GPU();
  cuda::init();
  const int B = 1, H = 4, D = 128, L = 40 * 128 + 77, nb = (L + 127) / 128, sel = nb - 2;  // 2 text blocks
  std::vector<uint16_t> qbits, kbits;
  std::vector<float> qv, kv;
  random_bf16(size_t(B) * L * H * D, 21, qbits, qv);
  random_bf16(size_t(B) * L * H * D, 22, kbits, kv);
  std::vector<int32_t> noff, nidx;
  neighbours(sel, sel, noff, nidx);
  Tensor dq = upload(qbits, DType::BF16), dk = upload(kbits, DType::BF16), doff = upload(noff, DType::I32),
         didx = upload(nidx, DType::I32);
  const int rows = B * H * nb;
  Tensor off = Tensor::empty(DType::I32, Shape{rows + 1}, Device::CUDA);
  Tensor idx = Tensor::empty(DType::I32, Shape{int64_t{rows} * nb}, Device::CUDA);
  cuda::BlockMaskArgs a;
  a.q = dq.data_as<uint16_t>(), a.k = dk.data_as<uint16_t>();
  a.q_row_stride = a.k_row_stride = int64_t{H} * D, a.q_head_stride = a.k_head_stride = D;
  a.q_batch_stride = a.k_batch_stride = int64_t{L} * H * D;
  a.batch = B, a.heads = H, a.len = L, a.head_dim = D, a.select_blocks = sel, a.scale = 1.f / std::sqrt(128.f);
  a.prob_threshold = 0.6f, a.top_k = 8;
  a.neighbor_offsets = doff.data_as<int32_t>(), a.neighbor_indices = didx.data_as<int32_t>();
  a.offsets = off.data_as<int32_t>(), a.indices = idx.data_as<int32_t>();
  const size_t ws_bytes = cuda::block_mask_workspace_bytes(a);
  Tensor ws = Tensor::empty(DType::U8, Shape{static_cast<int64_t>(ws_bytes)}, Device::CUDA);
  EXPECT_THROW(cuda::build_block_mask(a, ws.data(), ws_bytes - 1), UsageError);
  {
    // Top-k alone: the fused chain (method 0: one means launch, radix select) and the earlier
    // one (method 1: two launches, sort) give the same CSR.
    cuda::BlockMaskArgs t = a;
    t.prob_threshold = 0.f;
    std::vector<int32_t> o[2], ix[2];
    for (int method : {0, 1}) {
      t.method = method;
      cuda::build_block_mask(t, ws.data(), ws_bytes);
      o[method] = download<int32_t>(off, rows + 1);
      ix[method] = download<int32_t>(idx, static_cast<size_t>(o[method].back()));
    }
    EXPECT_EQ(o[0], o[1]);
    EXPECT_EQ(ix[0], ix[1]);
    EXPECT_GT(o[0].back(), rows * a.top_k);
  }
  cuda::build_block_mask(a, ws.data(), ws_bytes);
  BlockSparseLayout got;
  got.batch = B, got.heads = H, got.q_blocks = got.k_blocks = nb;
  got.offsets = download<int32_t>(off, rows + 1);
  got.indices = download<int32_t>(idx, static_cast<size_t>(got.offsets.back()));
  ASSERT_NO_THROW(got.validate());

  // CPU chain: means (valid rows), scores over image blocks, selection, text blocks kept.
  const auto qm = cpu_means(qv, B, L, H, D, nb, false), km = cpu_means(kv, B, L, H, D, nb, false);
  std::vector<float> scores(size_t(B) * H * sel * sel);
  for (int g = 0; g < B * H; ++g)
    for (int i = 0; i < sel; ++i)
      for (int j = 0; j < sel; ++j) {
        double s = 0;
        for (int d = 0; d < D; ++d) s += double(qm[(size_t(g) * nb + i) * D + d]) * km[(size_t(g) * nb + j) * D + d];
        scores[(size_t(g) * sel + i) * sel + j] = static_cast<float>(s * a.scale);
      }
  const Selection want = cpu_select(scores, B * H, nb, sel, sel, nb, a.prob_threshold, a.top_k, sel, nb, &noff, &nidx);
  const auto got_mask = got.to_onehot();
  int mismatched = 0;
  for (int r = 0; r < rows; ++r)
    if (!std::equal(&got_mask[size_t(r) * nb], &got_mask[size_t(r + 1) * nb], &want.mask[size_t(r) * nb])) {
      ++mismatched;
      EXPECT_TRUE(want.borderline[r]) << "row " << r;
    }
  EXPECT_LE(mismatched, 2);
  for (int r = 0; r < rows; ++r) {  // every row sees the text blocks; text rows see everything
    const auto kept = got.kept(0, r / nb, r % nb);
    EXPECT_GE(static_cast<int>(kept.size()), std::min(nb, a.top_k + 2));
    EXPECT_EQ(kept.back(), nb - 1);
    if (r % nb >= sel) EXPECT_EQ(static_cast<int>(kept.size()), nb);
  }
  // With the probability cut: method 0 (no sort) and method 1 (the sort chain) agree on every row
  // whose cut no rounding can move.
  cuda::BlockMaskArgs s1 = a;
  s1.method = 1;
  cuda::build_block_mask(s1, ws.data(), ws_bytes);
  BlockSparseLayout sorted = got;
  sorted.offsets = download<int32_t>(off, rows + 1);
  sorted.indices = download<int32_t>(idx, static_cast<size_t>(sorted.offsets.back()));
  const auto sorted_mask = sorted.to_onehot();
  int differ = 0;
  for (int r = 0; r < rows; ++r)
    if (!std::equal(&got_mask[size_t(r) * nb], &got_mask[size_t(r + 1) * nb], &sorted_mask[size_t(r) * nb])) {
      ++differ;
      EXPECT_TRUE(want.borderline[r]) << "row " << r << ": method 0 and the sort differ off the borderline";
    }
  EXPECT_LE(differ, 2);
}

TEST(CudaMaskBuilder, RejectsBadArguments) {
  cuda::BlockSelectArgs s;
  EXPECT_THROW(cuda::select_blocks(s), UsageError);
  cuda::BlockMeansArgs m;
  EXPECT_THROW(cuda::block_means(m), UsageError);
  cuda::BlockScoresArgs sc;  // qm/km must be 16-byte aligned (cp.async); checked before any launch
  sc.qm = reinterpret_cast<const float*>(uintptr_t{4}), sc.km = reinterpret_cast<const float*>(uintptr_t{256});
  sc.scores = reinterpret_cast<float*>(uintptr_t{256}), sc.nq = sc.nk = sc.qm_blocks = sc.km_blocks = 1;
  EXPECT_THROW(cuda::block_scores(sc), UsageError);
  cuda::BlockMaskArgs b;
  EXPECT_THROW(cuda::build_block_mask(b, nullptr, 0), UsageError);
}
