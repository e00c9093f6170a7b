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
