// Sparse VideoGen (v1) on HunyuanVideo against goldens from the official svg/models/hyvideo code
// (tools/golden/svg_hunyuan_golden.py): joint sequences [video | valid text | padding text]. The
// head decisions, profiling masks and the attention output with the exact token layout (rel <=
// 1e-5) are checked with Wan's in test_svg_policy.cpp; here placement, the flex mask, the text
// rows under 128 tiles and the full-size formulas.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "golden_compare.h"
#include "jenga/svg/svg_plan.h"
#include "svg_golden_file.h"

using namespace jenga;
using namespace jenga::svg;
using test::SvgGolden;

namespace {

const char* kCases[] = {"hy_aligned", "hy_ragged", "hy_wide"};

}  // namespace

TEST(SvgHunyuanPolicy, PlacementAndMasksMatchOfficial) {
  for (const char* name : kCases) {
    SCOPED_TRACE(name);
    const SvgGolden g = test::load_svg_golden(name);
    const int64_t nv = g.grid.tokens(), n = g.grid.sequence(), real = g.grid.real();
    const SvgPlan plan = plan_attention(g.q.data(), g.k.data(), g.v.data(), g.heads, g.dim, g.grid, g.params, g.rows);
    // Official order over the whole sequence: the video rows placed, the text rows where they were.
    const std::vector<int32_t> order = g.i32("order");
    for (int64_t h = 0; h < g.heads; ++h)
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(order[h * n + i], i < nv ? plan.order[h * nv + i] : i) << "head " << h << " position " << i;
    EXPECT_EQ(plan.band_width, std::stoll(g.meta("band_width")));
    EXPECT_GT(plan.band_width, 0);
    // 128 tiles: the official flex BlockMask on every query block of video rows only (a block
    // holding text rows attends densely here, as the text rows do), up to the valid text.
    const Tensor cover = g.f->load("block_cover");  // [L blocks, L blocks]
    ASSERT_EQ(plan.layout.q_blocks, (nv + 127) / 128);
    ASSERT_EQ(plan.layout.k_blocks, (real + 127) / 128);
    plan.layout.validate();
    const std::vector<uint8_t> onehot = plan.layout.to_onehot();
    const int64_t cb = cover.dim(1), tiles = plan.layout.q_blocks * plan.layout.k_blocks;
    for (int64_t h = 0; h < g.heads; ++h)
      for (int64_t qb = 0; qb < nv / 128; ++qb)
        for (int64_t kb = 0; kb < cb; ++kb) {
          const bool off = cover.data_as<uint8_t>()[qb * cb + kb] != 0;
          const bool ours = kb < plan.layout.k_blocks && onehot[h * tiles + qb * plan.layout.k_blocks + kb] != 0;
          ASSERT_EQ(ours, off) << "head " << h << " tile " << qb << "," << kb;
        }
    if (!g.f->find("token_mask_bits")) continue;
    // Token level: our mask over the whole sequence is the official mask_mod; the video rows'
    // block-1 layout is its video-row part (keys past the valid text never kept).
    const Tensor bits = g.f->load("token_mask_bits");  // [L, L]
    int64_t mismatches = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) mismatches += placed_keeps(g.grid, plan.band_width, i, j) != test::packed_bit(bits, i * n + j);
    EXPECT_EQ(mismatches, 0);
    const BlockSparseLayout tok = placed_layout(g.grid, plan.band_width, 1, 1);
    const std::vector<uint8_t> t1 = tok.to_onehot();  // [nv, real]
    mismatches = 0;
    for (int64_t i = 0; i < nv; ++i)
      for (int64_t j = 0; j < n; ++j)
        mismatches += (j < real && t1[i * real + j] != 0) != test::packed_bit(bits, i * n + j);
    EXPECT_EQ(mismatches, 0);
  }
}

TEST(SvgHunyuanPolicy, KernelLayoutKeepsTextRowsExact) {
  // With 128 tiles the video rows may see extra keys of partial tiles; the text rows (dense over
  // video + valid text, padding over padding) equal the official output exactly.
  for (const char* name : kCases) {
    SCOPED_TRACE(name);
    const SvgGolden g = test::load_svg_golden(name);
    const SvgPlan plan = plan_attention(g.q.data(), g.k.data(), g.v.data(), g.heads, g.dim, g.grid, g.params, g.rows);
    std::vector<float> out(g.q.size());
    run_plan_cpu(plan, g.q.data(), g.k.data(), g.v.data(), g.dim, out.data());
    const std::vector<float> gold = g.f32("out");
    const int64_t n = g.grid.sequence(), nv = g.grid.tokens();
    std::vector<float> ours_text, gold_text;
    for (int64_t h = 0; h < g.heads; ++h)
      for (int64_t i = nv; i < n; ++i)
        for (int64_t c = 0; c < g.dim; ++c) {
          ours_text.push_back(out[(h * n + i) * g.dim + c]);
          gold_text.push_back(gold[(h * n + i) * g.dim + c]);
        }
    EXPECT_LE(test::max_rel_error(ours_text, gold_text), 1e-5);
    EXPECT_LT(plan.layout.density(), 1.0);
  }
}

TEST(SvgHunyuanPolicy, FullSizeSettingsMatchOfficialFormulas) {
  // 720x1280, 125 frames: 32 latent frames x 3600 tokens + 256 text rows; the official script's
  // sparsity 0.25: sparsity_to_width 4.2147 frames (computed with the official Python), band
  // floor(4.2147 * 3600 / 128) * 128 = 15104; profiling band (3600 * 1.5) // 128 = 42 blocks.
  SvgGrid g;
  g.frames = 32, g.frame_tokens = 3600, g.text = 256, g.text_valid = 40, g.rules = SvgRules::hunyuan;
  g.validate();
  const double mul = band_multiplier(g, 0.25);
  EXPECT_NEAR(mul, 4.214723143226904, 1e-12);
  EXPECT_EQ(band_width(g, mul), 15104);
  EXPECT_EQ(profile_band_blocks(g), 42);
  // 480p script (480x720x129: 33 x 1560, sparsity 0.2): 3.3183 frames, band 5120.
  SvgGrid s = g;
  s.frames = 33, s.frame_tokens = 1560;
  EXPECT_EQ(band_width(s, band_multiplier(s, 0.2)), 5120);
  // Official warm-up: 0.1 x 50 steps, 0.03 x 60 blocks -> 5 dense steps, dense layer 0.
  const SvgWarmup w = SvgWarmup::from_fractions(0.1, 0.03, 50, 60);
  EXPECT_EQ(w.dense_steps, 5);
  EXPECT_EQ(w.dense_layers, 1);
}

TEST(SvgHunyuanPolicy, BadGridsFailClearly) {
  SvgGrid g;
  g.frames = 2, g.frame_tokens = 8, g.text = 4, g.text_valid = 0, g.rules = SvgRules::hunyuan;
  EXPECT_THROW(g.validate(), Error);  // no valid text row
  g.text_valid = 5;
  EXPECT_THROW(g.validate(), Error);  // more valid rows than text rows
  SvgGrid w;
  w.frames = 2, w.frame_tokens = 8, w.text = 4;
  EXPECT_THROW(w.validate(), Error);  // Wan rules take no text rows
}
