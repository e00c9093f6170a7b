// The per-step plan (src/jenga/schedule) against the trace of the OFFICIAL Jenga Wan loop
// recorded in tests/data/jenga_wan_pipeline_*.safetensors (tools/golden/jenga_wan_pipeline.py,
// docs/debug-denoise.md): the t fed to the model, the drop rate, the latent grid per stage and
// TeaCache's computed/reused decision wherever the plan can tell it without the model.
#include <gtest/gtest.h>

#include <string>

#include "io/safetensors.h"
#include "jenga/presets.h"
#include "jenga/schedule.h"

using namespace jenga;

namespace {

std::shared_ptr<SafetensorsFile> golden(const std::string& preset) {
  return SafetensorsFile::open(std::string(JENGA_TEST_DATA) + "/jenga_wan_pipeline_" + preset + ".safetensors");
}

const std::string& meta(const SafetensorsFile& f, const std::string& key) {
  const auto& m = f.header().metadata;
  auto it = m.find(key);
  if (it == m.end()) throw std::runtime_error("golden metadata lacks " + key);
  return it->second;
}

// The official run's settings, from the file's metadata, on top of the script's preset.
Preset preset_of(const SafetensorsFile& f) {
  Preset p = find_preset(ModelFamily::Wan, meta(f, "enable_turbo") == "true" ? "turbo-1.3b" : "base-1.3b");
  const std::string size = meta(f, "size");
  p.width = std::stoi(size.substr(0, size.find('x')));
  p.height = std::stoi(size.substr(size.find('x') + 1));
  p.frames = std::stoi(meta(f, "frames"));
  p.p_remain = std::stod(meta(f, "p_remain_rates"));
  p.teacache_thresh = std::stod(meta(f, "teacache_thresh"));
  EXPECT_EQ(meta(f, "sa_drop_rates"), "0.75 0.85");
  EXPECT_EQ(meta(f, "use_ret_steps"), "true");
  EXPECT_EQ(std::stod(meta(f, "shift")), p.flow_shift);
  return p;
}

std::array<int64_t, 3> grid(const Tensor& t) { return {t.dim(1), t.dim(2), t.dim(3)}; }

void check_plan_against_official_trace(const std::string& name) {
  SCOPED_TRACE(name);
  auto f = golden(name);
  const Preset p = preset_of(*f);
  const int steps = std::stoi(meta(*f, "steps"));
  const Plan plan = build_plan(p, steps);
  const auto ts = f->load("timesteps").to_f32_vector();
  const auto drop = f->load("sa_drop_rate").to_f32_vector();
  const Tensor computed = f->load("teacache_computed");
  ASSERT_EQ(static_cast<int>(ts.size()), steps);
  ASSERT_EQ(computed.numel(), 2 * steps);
  const int32_t* c = computed.data_as<int32_t>();
  ASSERT_EQ(static_cast<int>(plan.step.size()), steps);
  EXPECT_EQ(plan.step.front().latent, grid(f->load("noise")));
  EXPECT_EQ(plan.step.back().latent, grid(f->load("latents")));
  int checked = 0;
  for (int i = 0; i < steps; ++i) {
    const StepPlan& s = plan.step[static_cast<size_t>(i)];
    EXPECT_EQ(s.timestep, ts[i]) << "step " << i;
    EXPECT_EQ(static_cast<float>(s.drop_rate), drop[i]) << "step " << i;
    EXPECT_EQ(s.dense, drop[i] <= 0.25f) << "step " << i;
    EXPECT_EQ(s.stage_switch.has_value(), p.wan_turbo && i == 25) << "step " << i;
    const StepCompute both[2] = {s.compute, s.compute_uncond};
    for (int b = 0; b < 2; ++b) {
      if (both[b] == StepCompute::ModelDependent) continue;
      EXPECT_EQ(c[2 * i + b], both[b] == StepCompute::Computed ? 1 : 0) << "step " << i << " call " << b;
      ++checked;
    }
  }
  EXPECT_GE(checked, 10);  // at least the retention steps
}

}  // namespace

TEST(JengaWanLoopGolden, BasePlanMatchesOfficialTrace) { check_plan_against_official_trace("base"); }
TEST(JengaWanLoopGolden, TurboPlanMatchesOfficialTrace) { check_plan_against_official_trace("turbo"); }
TEST(JengaWanLoopGolden, SparsePlanMatchesOfficialTrace) { check_plan_against_official_trace("sparse"); }

TEST(JengaWanLoopGolden, DenseUsesThePlainUniPCSchedule) {
  auto f = golden("dense");
  const int steps = std::stoi(meta(*f, "steps"));
  const WanSchedule s = wan_unipc_schedule(steps, std::stod(meta(*f, "shift")));
  const auto ts = f->load("timesteps").to_f32_vector();
  ASSERT_EQ(static_cast<int>(ts.size()), steps);
  for (int i = 0; i < steps; ++i) EXPECT_EQ(static_cast<double>(s.timesteps[i]), ts[i]) << i;
  const Tensor c = f->load("teacache_computed");
  for (int64_t i = 0; i < c.numel(); ++i) EXPECT_EQ(c.data_as<int32_t>()[i], 1);
  EXPECT_EQ(grid(f->load("noise")), grid(f->load("latents")));
}
