#include <gtest/gtest.h>

#include "jenga/presets.h"
#include "jenga/schedule.h"
#include "pipeline/step_cost.h"

using namespace jenga;

namespace {
Plan two_stage_plan() {
  // Stage 0 at a quarter of the tokens, dense; stage 1 at full size, sparse (drop 0.8).
  Plan plan;
  for (int i = 0; i < 4; ++i) {
    StepPlan sp;
    sp.step = i;
    sp.stage = i < 2 ? 0 : 1;
    sp.tokens = i < 2 ? std::array<int64_t, 3>{8, 16, 16} : std::array<int64_t, 3>{8, 32, 32};
    sp.dense = i < 2;
    sp.drop_rate = i < 2 ? 0.0 : 0.8;
    plan.step.push_back(sp);
  }
  plan.steps = 4;
  return plan;
}
}  // namespace

TEST(StepCost, LaterLargerStagesAndReusedStepsWeighAsExpected) {
  const Plan plan = two_stage_plan();
  const std::vector<uint8_t> calls{1, 0, 1, 0, 1, 0, 0, 0};  // step 3 reused
  const auto c = expected_step_costs({.plan = &plan, .computed_calls = &calls, .branches = 1, .sparse = true, .hidden = 64});
  ASSERT_EQ(c.size(), 4u);
  const double n0 = 8 * 16 * 16, n1 = 8 * 32 * 32, ns = 5.6 * 64;
  EXPECT_DOUBLE_EQ(c[0], n0 + n0 * n0 / ns);
  EXPECT_DOUBLE_EQ(c[1], c[0]);
  EXPECT_DOUBLE_EQ(c[2], n1 + n1 * n1 * 0.2 / ns);  // the kept fraction scales the attention term
  EXPECT_NEAR(c[3], c[2] / 200, 1e-9 * c[2]);        // reused
  // Dense attention (no Jenga): the full quadratic term; two branches double a step.
  const std::vector<uint8_t> both(8, 1);
  const auto d = expected_step_costs({.plan = &plan, .computed_calls = &both, .branches = 2, .sparse = false, .hidden = 64});
  EXPECT_DOUBLE_EQ(d[2], 2 * (n1 + n1 * n1 / ns));
  EXPECT_TRUE(expected_step_costs({}).empty());
}

// The CPU warning: HunyuanVideo 13B at 720p (60 layers, hidden 3072, 115,200 image tokens) is
// ~1.1e16 flops a forward; the make-tiny model (4 layers, hidden 64) at 720p still ~1.4e13 (worth
// the note); a 64x48x5 smoke test is far below 1e12 (no note).
TEST(StepCost, CpuRunNoteOnlyForLargeForwards) {
  EXPECT_NEAR(approx_forward_flops(115200, 3072, 60), 1.14e16, 0.01e16);
  EXPECT_DOUBLE_EQ(approx_forward_flops(10, 2, 3), 3 * 10 * (24.0 * 4 + 4.0 * 10 * 2));
  const std::string big = cpu_run_note(115200, 64, 4, 50);
  EXPECT_NE(big.find("up to 115200 tokens"), std::string::npos) << big;
  EXPECT_NE(big.find("up to 50 forwards"), std::string::npos) << big;
  EXPECT_NE(big.find("--device cuda"), std::string::npos) << big;
  EXPECT_TRUE(cpu_run_note(2 * 3 * 2, 64, 4, 3).empty());
  EXPECT_TRUE(cpu_run_note(1560, 64, 2, 100).empty());     // a tiny model's smoke run stays quiet
  EXPECT_FALSE(cpu_run_note(1560, 1536, 30, 100).empty());  // the real Wan 1.3B, even small: ~3e12 a forward
}
