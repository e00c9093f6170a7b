// AttenCarve masks against goldens from the official _build_block_index_with_importance_optimized
// (f32 inputs; only decisions within 1e-6 of a threshold may differ) and the text amplifier.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "core/error.h"
#include "io/safetensors.h"
#include "jenga/block_neighbors.h"
#include "jenga/carve_mask.h"
#include "jenga/text_amp.h"

using namespace jenga;

TEST(JengaCarveMask, MatchesOfficialGoldens) {
  const std::string dir = std::string(JENGA_TEST_DATA) + "/jenga_core/";
  int cases = 0, rows = 0, near_rows_differing = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("mask_", 0) != 0) continue;
    SCOPED_TRACE(name);
    ++cases;
    auto f = SafetensorsFile::open(e.path().string());
    const Tensor q = f->load("q", DType::F32), k = f->load("k", DType::F32), gold = f->load("mask");
    const Tensor params = f->load("params");
    const int32_t* pr = params.data_as<int32_t>();
    CarveParams prm;
    prm.top_k = pr[0];
    prm.text_blocks = pr[1];
    prm.first_frame_blocks = pr[2];
    prm.p = std::stod(f->header().metadata.at("p"));
    std::shared_ptr<const BlockNeighbors> nb;
    if (pr[6] >= 0) {
      CurveSpec s;
      s.t = pr[3];
      s.h = pr[4];
      s.w = pr[5];
      s.sliced = pr[6] == 1;
      nb = cached_block_neighbors(s);
      prm.neighbors = nb.get();
    }
    const int64_t B = q.dim(0), H = q.dim(1), N = q.dim(2), D = q.dim(3);
    CarveDiagnostics diag;
    const CarveMask m = build_carve_mask(q.data_as<float>(), k.data_as<float>(), B, H, N, D, prm, &diag);
    const int64_t nq = gold.dim(2), nk = gold.dim(3);
    ASSERT_EQ(nq, m.normal_blocks);
    ASSERT_EQ(nk, m.blocks);
    const uint8_t* g = gold.data_as<uint8_t>();
    for (int64_t bh = 0; bh < B * H; ++bh)
      for (int64_t i = 0; i < nq; ++i) {
        ++rows;
        bool same = true;
        for (int64_t j = 0; j < nk; ++j)
          same &= (g[(bh * nq + i) * nk + j] != 0) == (m.onehot[(bh * nk + i) * nk + j] != 0);
        if (!same) {
          EXPECT_TRUE(diag.near_threshold[bh * nq + i]) << "row (bh " << bh << ", block " << i << ") differs";
          ++near_rows_differing;
        }
      }
    for (int64_t bh = 0; bh < B * H; ++bh)  // text query rows are dense
      for (int64_t i = nq; i < nk; ++i)
        for (int64_t j = 0; j < nk; ++j) EXPECT_EQ(m.onehot[(bh * nk + i) * nk + j], 1);
    const auto layout = m.layout();
    layout.validate();
    EXPECT_EQ(layout.to_onehot(), m.onehot);
  }
  std::printf("[carve-mask parity] %d cases, %d rows, %d rows differ (all within 1e-6 of a threshold)\n", cases,
              rows, near_rows_differing);
  EXPECT_GE(cases, 7);
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
