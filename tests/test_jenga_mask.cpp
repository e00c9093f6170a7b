// AttenCarve masks against goldens from the official _build_block_index_with_importance_optimized
// (f32 inputs: only decisions within 1e-6 of a threshold may differ; bf16 inputs under autocast:
// equal with bf16 rounding) and the text amplifier.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/safetensors.h"
#include "jenga/block_neighbors.h"
#include "jenga/carve_mask.h"
#include "jenga/text_amp.h"

using namespace jenga;

namespace {

// One golden file of tools/golden/jenga_core_golden.py: its q/k and the builder's parameters.
struct MaskGolden {
  std::shared_ptr<SafetensorsFile> file;
  Tensor q, k;
  CarveParams prm;
  std::shared_ptr<const BlockNeighbors> nb;
};

MaskGolden load_mask_golden(const std::string& path) {
  MaskGolden g;
  g.file = SafetensorsFile::open(path);
  g.q = g.file->load("q", DType::F32), g.k = g.file->load("k", DType::F32);
  const Tensor params = g.file->load("params");
  const int32_t* pr = params.data_as<int32_t>();
  g.prm.top_k = pr[0];
  g.prm.text_blocks = pr[1];
  g.prm.first_frame_blocks = pr[2];
  g.prm.p = std::stod(g.file->header().metadata.at("p"));
  if (pr[6] >= 0) {
    CurveSpec s;
    s.t = pr[3];
    s.h = pr[4];
    s.w = pr[5];
    s.sliced = pr[6] == 1;
    g.nb = cached_block_neighbors(s);
    g.prm.neighbors = g.nb.get();
  }
  return g;
}

// Our mask of the golden's q/k with `bf16` rounding against its tensor `key`: the rows that
// differ, and of those the ones our diagnostics do not place within 1e-6 of a threshold.
struct RowDiff {
  int rows = 0, differing = 0, unexplained = 0;
};
RowDiff compare_with_golden(const MaskGolden& g, bool bf16, const std::string& key) {
  CarveParams prm = g.prm;
  prm.bf16_rounding = bf16;
  const Tensor gold = g.file->load(key);
  const int64_t B = g.q.dim(0), H = g.q.dim(1), N = g.q.dim(2), D = g.q.dim(3);
  CarveDiagnostics diag;
  const CarveMask m = build_carve_mask(g.q.data_as<float>(), g.k.data_as<float>(), B, H, N, D, prm, &diag);
  const int64_t nq = gold.dim(2), nk = gold.dim(3);
  EXPECT_EQ(nq, m.normal_blocks);
  EXPECT_EQ(nk, m.blocks);
  RowDiff r;
  if (nq != m.normal_blocks || nk != m.blocks) return r;
  const uint8_t* gm = gold.data_as<uint8_t>();
  for (int64_t bh = 0; bh < B * H; ++bh)
    for (int64_t i = 0; i < nq; ++i) {
      ++r.rows;
      bool same = true;
      for (int64_t j = 0; j < nk; ++j) same &= (gm[(bh * nq + i) * nk + j] != 0) == (m.onehot[(bh * nk + i) * nk + j] != 0);
      if (!same) ++r.differing, r.unexplained += !diag.near_threshold[bh * nq + i];
    }
  for (int64_t bh = 0; bh < B * H; ++bh)  // text query rows are dense
    for (int64_t i = nq; i < nk; ++i)
      for (int64_t j = 0; j < nk; ++j) EXPECT_EQ(m.onehot[(bh * nk + i) * nk + j], 1);
  const auto layout = m.layout();
  layout.validate();
  EXPECT_EQ(layout.to_onehot(), m.onehot);
  return r;
}

std::vector<std::string> mask_goldens() {
  std::vector<std::string> out;
  const std::string dir = std::string(JENGA_TEST_DATA) + "/jenga_core/";
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().filename().string().rfind("mask_", 0) == 0) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

// f32 q/k through the official builder ("mask"): ours in f32; only decisions within 1e-6 of a
// threshold may differ.
TEST(JengaCarveMask, MatchesOfficialGoldens) {
  int cases = 0, rows = 0, differing = 0;
  for (const auto& path : mask_goldens()) {
    SCOPED_TRACE(path);
    ++cases;
    const RowDiff r = compare_with_golden(load_mask_golden(path), /*bf16=*/false, "mask");
    EXPECT_EQ(r.unexplained, 0);
    rows += r.rows, differing += r.differing;
  }
  std::printf("[carve-mask parity, f32] %d cases, %d rows, %d rows differ (all within 1e-6 of a threshold)\n", cases,
              rows, differing);
  EXPECT_GE(cases, 8);
}

// bf16 q/k through the official builder as the official GPU pipelines run it ("mask_bf16": bf16
// means, bmm and scale under autocast, f32 softmax and cumsum, stable sort): ours with
// bf16_rounding equals it row for row, ties included; the f32 builder does not (the hy_ties case).
TEST(JengaCarveMask, Bf16RoundingMatchesTheOfficialAutocastBuilder) {
  int cases = 0, rows = 0, f32_differing = 0;
  for (const auto& path : mask_goldens()) {
    SCOPED_TRACE(path);
    ++cases;
    const MaskGolden g = load_mask_golden(path);
    const RowDiff r = compare_with_golden(g, /*bf16=*/true, "mask_bf16");
    EXPECT_EQ(r.differing, 0);
    rows += r.rows;
    f32_differing += compare_with_golden(g, /*bf16=*/false, "mask_bf16").differing;
  }
  std::printf("[carve-mask parity, bf16] %d cases, %d rows equal; the f32 builder differs from them in %d rows\n",
              cases, rows, f32_differing);
  EXPECT_GE(cases, 8);
  EXPECT_GT(f32_differing, 0);  // the goldens tell the two roundings apart
}

TEST(JengaCarveMask, TopKFloorAndBadInput) {
  // 1 head, 4 blocks of 128 rows, D 2: p tiny -> only max(1, top_k) blocks plus nothing else.
  const int64_t n = 4 * 128 - 5, d = 2;
  std::vector<float> q(n * d), k(n * d);
  for (int64_t i = 0; i < n; ++i) {
    q[i * d] = 1.0f;
    k[i * d] = static_cast<float>(i / 128);  // key block j has mean j (last block: diluted by padding)
  }
  CarveParams prm;
  prm.p = 1e-6;
  prm.top_k = 2;
  auto m = build_carve_mask(q.data(), k.data(), 1, 1, n, d, prm);
  // Highest scores: blocks 3 (mean 3 * 123/128 = 2.88) and 2.
  for (int64_t i = 0; i < 4; ++i) {
    EXPECT_EQ(m.onehot[i * 4 + 3], 1);
    EXPECT_EQ(m.onehot[i * 4 + 2], 1);
    EXPECT_EQ(m.onehot[i * 4 + 1], 0);
  }
  // As the official builder: p = 0 keeps only the top block (top_k 0), p > 1 keeps every block.
  prm.p = 0.0;
  prm.top_k = 0;
  m = build_carve_mask(q.data(), k.data(), 1, 1, n, d, prm);
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 4; ++j) EXPECT_EQ(m.onehot[i * 4 + j], j == 3 ? 1 : 0) << i << " " << j;
  prm.p = 1.5;
  m = build_carve_mask(q.data(), k.data(), 1, 1, n, d, prm);
  for (auto v : m.onehot) EXPECT_EQ(v, 1);
  prm.p = -0.1;
  EXPECT_THROW(build_carve_mask(q.data(), k.data(), 1, 1, n, d, prm), UsageError);
  prm.p = NAN;
  EXPECT_THROW(build_carve_mask(q.data(), k.data(), 1, 1, n, d, prm), UsageError);
  prm.p = 0.5;
  prm.text_blocks = 4;
  EXPECT_THROW(build_carve_mask(q.data(), k.data(), 1, 1, n, d, prm), UsageError);
  prm.text_blocks = 0;
  q[7] = NAN;
  EXPECT_THROW(build_carve_mask(q.data(), k.data(), 1, 1, n, d, prm), Error);
}

TEST(JengaCarveMask, OfficialTopK) {
  // Wan 832x480: 32760 tokens -> 256 blocks; int(256 * (1 - 0.85)) = 38; 256 // 21 = 12.
  EXPECT_EQ(wan_top_k(32760, 0.85), 38);
  EXPECT_EQ(wan_first_frame_blocks(32760), 12);
  // Hunyuan 720p turbo stage 0: 32 x 33 x 60 = 63360 tokens -> 495 blocks; int(0.3 * 495) = 148.
  EXPECT_EQ(hunyuan_top_k(63360, 0.7, 1), 148);
  EXPECT_EQ(hunyuan_top_k(32 * 45 * 80, 0.85, 8), 8 * static_cast<int64_t>(0.15 * (115200 / 8 / 128)));
}

TEST(JengaTextAmp, OfficialFormulaAndUnits) {
  // 720p at res 0.75: 33x60 tokens per frame vs 45x80 -> token_diff 0.55, amp = -log2(sqrt(0.55)).
  const double amp = text_amp_log2(33, 60, 45, 80);
  EXPECT_NEAR(amp, 0.4312482381, 1e-9);  // -0.5 * log2(0.55)
  EXPECT_NEAR(std::pow(2.0, amp), std::sqrt(1.0 / 0.55), 1e-12);
  EXPECT_EQ(text_amp_log2(45, 80, 45, 80), 0.0);
  const auto bias = text_amp_key_block_bias(2, 5, 3, amp);
  ASSERT_EQ(bias.size(), 10u);
  EXPECT_EQ(bias[2], 0.0f);
  EXPECT_NEAR(bias[3], amp * std::log(2.0), 1e-6);
  EXPECT_NEAR(std::exp(bias[9]), std::pow(2.0, amp), 1e-6);  // same weight factor in both units
  EXPECT_THROW(text_amp_log2(0, 1, 1, 1), UsageError);
}
