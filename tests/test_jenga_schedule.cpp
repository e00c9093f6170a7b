// Schedules against goldens from the official schedulers (Jenga's FlowUniPCMultistepScheduler
// with its turbo switch, FlowMatchDiscreteScheduler) and the official drop-rate / reuse rules.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <type_traits>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "io/safetensors.h"
#include "jenga/presets.h"
#include "jenga/schedule.h"

using namespace jenga;

namespace {

std::shared_ptr<SafetensorsFile> golden() {
  return SafetensorsFile::open(std::string(JENGA_TEST_DATA) + "/jenga_core/schedules.safetensors");
}

template <typename T>
std::vector<T> vec(const SafetensorsFile& f, const std::string& name) {
  if constexpr (std::is_same_v<T, double>) {  // F64 goldens: jenga's loader has no f64, read the bytes
    const auto raw = f.raw(f.info(name));
    std::vector<double> out(raw.size() / sizeof(double));
    std::memcpy(out.data(), raw.data(), out.size() * sizeof(double));
    return out;
  }
  Tensor t = f.load(name);
  const T* p = t.data_as<T>();
  return {p, p + t.numel()};
}

std::string key(const char* prefix, int steps, double shift) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s_%d_%g", prefix, steps, shift);
  return buf;
}

}  // namespace

TEST(JengaSchedule, WanUniPCMatchesOfficial) {
  auto f = golden();
  for (auto [steps, shift] : std::vector<std::pair<int, double>>{{50, 8}, {50, 10}, {30, 5}, {7, 3}, {27, 8}, {40, 10}}) {
    SCOPED_TRACE(key("wan", steps, shift));
    const auto s = wan_unipc_schedule(steps, shift);
    EXPECT_EQ(s.sigmas, vec<float>(*f, key("wan", steps, shift) + "_sigmas"));
    EXPECT_EQ(s.timesteps, vec<int64_t>(*f, key("wan", steps, shift) + "_timesteps"));
  }
}

TEST(JengaSchedule, HunyuanFlowMatchesOfficial) {
  auto f = golden();
  for (auto [steps, shift] : std::vector<std::pair<int, double>>{{50, 7}, {50, 9}, {50, 11}, {50, 5}, {5, 7}, {13, 11}}) {
    SCOPED_TRACE(key("hy", steps, shift));
    const auto s = hunyuan_flow_schedule(steps, shift);
    EXPECT_EQ(s.sigmas, vec<float>(*f, key("hy", steps, shift) + "_sigmas"));
    EXPECT_EQ(s.timesteps, vec<float>(*f, key("hy", steps, shift) + "_timesteps"));
  }
}

TEST(JengaSchedule, WanTurboPlanStepByStep) {
  auto f = golden();
  const Preset& p = find_preset(ModelFamily::Wan, "turbo-1.3b");
  for (int steps : {50, 27, 40}) {
    SCOPED_TRACE(steps);
    const Plan plan = build_plan(p, steps);
    const auto ts = vec<int64_t>(*f, "wanturbo_" + std::to_string(steps) + "_timesteps");
    const auto sig = vec<float>(*f, "wanturbo_" + std::to_string(steps) + "_sigmas");
    const auto sw = vec<double>(*f, "wanturbo_" + std::to_string(steps) + "_switch");
    ASSERT_EQ(plan.step.size(), ts.size());
    for (int i = 0; i < steps; ++i) {
      EXPECT_EQ(plan.step[i].timestep, static_cast<double>(ts[i])) << i;
      EXPECT_EQ(static_cast<float>(plan.step[i].sigma), sig[i]) << i;
      EXPECT_EQ(plan.step[i].stage, i > 25 ? 1 : 0);
      EXPECT_EQ(plan.step[i].stage_switch.has_value(), i == static_cast<int>(sw[0]));
    }
    const auto& s = *plan.step[25].stage_switch;
    EXPECT_EQ(static_cast<float>(s.x0_sigma), static_cast<float>(sw[1]));
    EXPECT_EQ(static_cast<float>(s.renoise_sigma), static_cast<float>(sw[2]));
    EXPECT_EQ(s.new_shift, 10.0);
    // 832x480: 21 x 30 x 52 tokens at full res, 21 x 22 x 39 at 0.75.
    EXPECT_EQ(plan.step[0].tokens, (std::array<int64_t, 3>{21, 22, 39}));
    EXPECT_EQ(plan.step[26].tokens, (std::array<int64_t, 3>{21, 30, 52}));
    EXPECT_EQ(plan.step[26].compute, StepCompute::Computed);  // stage_start forces TeaCache to compute
  }
  EXPECT_THROW(build_plan(p, 26), UsageError);
}

TEST(JengaSchedule, WanDropRateWarmupAndTeaCache) {
  const Plan plan = build_plan(find_preset(ModelFamily::Wan, "base-1.3b"), 50);
  // drop = min(d, d * 10 * idx / 49): dense (<= 0.25) at idx 0, 1.
  EXPECT_EQ(plan.step[0].drop_rate, 0.0);
  EXPECT_TRUE(plan.step[1].dense);
  EXPECT_DOUBLE_EQ(plan.step[2].drop_rate, 2.0 / 49 * 10 * 0.75);
  EXPECT_FALSE(plan.step[2].dense);
  EXPECT_EQ(plan.step[25].drop_rate, 0.75);
  EXPECT_EQ(plan.step[26].drop_rate, 0.85);
  EXPECT_EQ(plan.step[26].top_k, 38);  // int(256 * 0.15)
  EXPECT_EQ(plan.step[26].first_frame_blocks, 12);
  // use_ret_steps: the first 10 calls (5 steps) computed, then TeaCache decides.
  EXPECT_EQ(plan.step[4].compute_uncond, StepCompute::Computed);
  EXPECT_EQ(plan.step[5].compute, StepCompute::ModelDependent);
  EXPECT_EQ(plan.step[49].compute, StepCompute::ModelDependent);
  EXPECT_EQ(plan.step[30].timestep, static_cast<double>(wan_unipc_schedule(50, 8).timesteps[30]));
}

TEST(JengaSchedule, HunyuanThreeStagePlan) {
  auto f = golden();
  const Plan plan = build_plan(find_preset(ModelFamily::Hunyuan, "3stage"), 50);
  const auto s7 = vec<float>(*f, "hy_50_7_sigmas"), s9 = vec<float>(*f, "hy_50_9_sigmas"),
             s11 = vec<float>(*f, "hy_50_11_sigmas");
  for (int i = 0; i < 50; ++i) {
    const auto& st = plan.step[i];
    const auto& ref = i <= 15 ? s7 : i <= 25 ? s9 : s11;
    EXPECT_EQ(static_cast<float>(st.sigma), ref[i]) << i;
    EXPECT_EQ(st.stage, i <= 15 ? 0 : i <= 25 ? 1 : 2);
    EXPECT_EQ(st.drop_rate, i <= 15 ? 0.75 : 0.85);
  }
  EXPECT_EQ(static_cast<float>(plan.step[15].stage_switch->x0_sigma), s9[15]);
  EXPECT_EQ(static_cast<float>(plan.step[15].stage_switch->renoise_sigma), s9[16]);
  EXPECT_EQ(static_cast<float>(plan.step[25].stage_switch->renoise_sigma), s11[26]);
  // Token grids: 720x1280 at 0.5 / 0.75 / 1.0 -> 22x40, 33x60, 45x80; 32 latent frames.
  EXPECT_EQ(plan.step[0].tokens, (std::array<int64_t, 3>{32, 22, 40}));
  EXPECT_EQ(plan.step[20].tokens, (std::array<int64_t, 3>{32, 33, 60}));
  EXPECT_EQ(plan.step[30].tokens, (std::array<int64_t, 3>{32, 45, 80}));
  // text_amp only before the first resolution change.
  EXPECT_GT(plan.step[0].text_amp, 0.0);
  EXPECT_EQ(plan.step[16].text_amp, 0.0);
  int computed = 0;
  for (const auto& st : plan.step) computed += st.compute == StepCompute::Computed;
  EXPECT_EQ(computed, 23);  // the official fixed list; step 16 and 26 are in it anyway
}

TEST(JengaSchedule, HunyuanBaseKeepsShiftAndAccVideoSwitches) {
  auto f = golden();
  const Plan base = build_plan(find_preset(ModelFamily::Hunyuan, "Base"), 50);
  const auto s7 = vec<float>(*f, "hy_50_7_sigmas");
  for (int i = 0; i < 50; ++i) EXPECT_EQ(static_cast<float>(base.step[i].sigma), s7[i]);
  EXPECT_FALSE(base.step[25].stage_switch->resolution_changes);
  EXPECT_EQ(base.step[26].drop_rate, 0.85);
  EXPECT_EQ(base.step[0].text_amp, 0.0);
  const Plan acc = build_plan(find_preset(ModelFamily::Hunyuan, "accvideo"), 0);
  ASSERT_EQ(acc.steps, 5);
  const auto a9 = vec<float>(*f, "hy_5_9_sigmas");
  EXPECT_TRUE(acc.step[2].stage_switch.has_value());  // int(5 * 0.5) = 2
  EXPECT_EQ(static_cast<float>(acc.step[3].sigma), a9[3]);
  for (const auto& st : acc.step) EXPECT_EQ(st.compute, StepCompute::Computed);
  EXPECT_THROW(find_preset(ModelFamily::Hunyuan, "nope"), UsageError);
}

TEST(JengaSchedule, TeaCacheRescaleMatchesNumpy) {
  auto f = golden();
  const auto xs = vec<double>(*f, "teacache_x");
  const std::string models[4] = {"t2v-1.3B", "t2v-14B", "t2v-1.3B", "t2v-14B"};
  for (int i = 0; i < 4; ++i) {
    const auto c = wan_teacache_coefficients(models[i], i < 2);
    EXPECT_EQ(c.coefficients, vec<double>(*f, "teacache_coef_" + std::to_string(i)));
    const auto ys = vec<double>(*f, "teacache_y_" + std::to_string(i));
    for (size_t j = 0; j < xs.size(); ++j) EXPECT_NEAR(TeaCache::rescale(c.coefficients, xs[j]), ys[j], 1e-9 * (1 + std::abs(ys[j])));
  }
  TeaCache tc({1.0, 0.0}, 0.15, 2, 98);  // rescale(x) = x
  EXPECT_TRUE(tc.should_compute(0, 0, false));
  EXPECT_FALSE(tc.should_compute(2, 0.1, false));
  EXPECT_TRUE(tc.should_compute(4, 0.1, false));  // accumulated 0.2 >= 0.15
  EXPECT_EQ(tc.accumulated(), 0.0);
  EXPECT_TRUE(tc.should_compute(6, 0.0, true));
}

// Every preset value against the flags of the official scripts (parsed by the golden generator).
TEST(JengaPresets, MatchOfficialScripts) {
  std::ifstream in(std::string(JENGA_TEST_DATA) + "/jenga_core/official_scripts.json");
  ASSERT_TRUE(in.good());
  const auto scripts = nlohmann::json::parse(in);
  auto nums = [](const nlohmann::json& v) {
    std::vector<double> out;
    if (v.is_array())
      for (const auto& x : v) out.push_back(std::stod(x.get<std::string>()));
    else
      out.push_back(std::stod(v.get<std::string>()));
    return out;
  };
  auto num = [&](const nlohmann::json& v) { return nums(v).at(0); };
  int checked = 0;
  for (const auto& p : presets()) {
    SCOPED_TRACE(p.name);
    if (!p.official) {  // Wan presets carried over from HunyuanVideo: its rates, Wan's loop
      const Preset& from = find_preset(ModelFamily::Hunyuan, p.carried_from);
      EXPECT_EQ(p.family, ModelFamily::Wan);
      EXPECT_EQ(p.sa_drop_rates, from.sa_drop_rates);
      EXPECT_EQ(p.res_rates, from.res_rates);
      if (p.res_rates.size() > 2) EXPECT_EQ(p.step_rates, from.step_rates);
      continue;
    }
    ASSERT_TRUE(scripts.contains(p.script)) << p.script;
    const auto& s = scripts[p.script];
    ++checked;
    if (p.family == ModelFamily::Hunyuan) {
      EXPECT_EQ(p.sa_drop_rates, nums(s["sa-drop-rates"]));
      EXPECT_EQ(p.p_remain, num(s["p-remain-rates"]));
      EXPECT_EQ(p.res_rates, nums(s["res-rate-list"]));
      EXPECT_EQ(p.step_rates, nums(s["step-rate-list"]));
      EXPECT_EQ(p.shifts, nums(s["scheduler-shift-list"]));
      EXPECT_EQ(p.steps, num(s["infer-steps"]));
      EXPECT_EQ(p.flow_shift, num(s["flow-shift"]));
      EXPECT_EQ(p.frames, num(s["video-length"]));
      EXPECT_EQ(p.guide_scale, num(s["embedded-cfg-scale"]));
      EXPECT_EQ(p.world_size, s.contains("ulysses-degree") ? num(s["ulysses-degree"]) : 1.0);
      if (s.contains("video-size")) EXPECT_EQ(nums(s["video-size"]), (std::vector<double>{1.0 * p.height, 1.0 * p.width}));
    } else {
      EXPECT_EQ(p.sa_drop_rates, nums(s["sa_drop_rates"]));
      EXPECT_EQ(p.p_remain, num(s["p_remain_rates"]));
      EXPECT_EQ(p.flow_shift, num(s["sample_shift"]));
      EXPECT_EQ(p.guide_scale, num(s["sample_guide_scale"]));
      EXPECT_EQ(p.frames, num(s["frame_num"]));
      EXPECT_EQ(p.teacache_thresh, num(s["teacache_thresh"]));
      EXPECT_EQ(p.use_ret_steps, s.contains("use_ret_step") || s.contains("use_ret_steps"));
      EXPECT_EQ(p.wan_turbo, s.contains("enable_turbo"));
      EXPECT_EQ(std::to_string(p.width) + "*" + std::to_string(p.height), s["size"].get<std::string>());
      EXPECT_EQ(p.model, s["task"].get<std::string>());
    }
  }
  EXPECT_EQ(checked, 14);
}
