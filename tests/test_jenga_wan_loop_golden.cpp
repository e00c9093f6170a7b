// The OFFICIAL Jenga Wan loop recorded in tests/data/jenga_wan_pipeline_*.safetensors
// (tools/golden/jenga_wan_pipeline.py, docs/debug-denoise.md) against
//  - the per-step plan (src/jenga/schedule): the t fed to the model, the drop rate, the latent
//    grid per stage and TeaCache's decision wherever the plan can tell it without the model;
//  - the whole CPU denoising loop (denoise, f32) on the same tiny DiT, noise and contexts.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "io/safetensors.h"
#include "jenga/presets.h"
#include "jenga/schedule.h"
#include "models/wan/wan_dit.h"
#include "models/wan/wan_tiny.h"
#include "pipeline/denoise.h"
#include "models/wan/wan_model.h"
#include "models/wan/wan_presets.h"
#include "tensor_compare.h"
#include "test_util.h"

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
// 144 steps: the official UniPC scheduler starts at sigma 1 (the first two timesteps are both 999)
// until Turbo's switch re-initialises it; the loop used to stop at step 0 ("solver at sigma 0").
TEST(JengaWanLoopGolden, TurboLongPlanMatchesOfficialTrace) { check_plan_against_official_trace("turbo_long"); }

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

namespace {

using jenga::test::rel_l2;

// What `jenga debug denoise` does with the golden's metadata, on the CPU.
void check_loop_against_official(const std::string& name) {
  SCOPED_TRACE(name);
  auto f = golden(name);
  // The golden's model: make-tiny --size tiny --seed 7 with 2 heads (head dim 64).
  test::TempDir dir;
  wan::WanConfig c = wan::WanConfig::tiny();
  c.num_heads = 2;
  wan::write_random_checkpoint(dir.path().string(), c, 7, DType::F32);
  const wan::WanDit model = wan::load_wan_dit(dir.path().string());

  const std::string preset = meta(*f, "preset");
  JengaOverrides o;
  if (preset == "sparse") {  // base flags with p 0.3 and every forward computed (official: thresh -1e30)
    o.p_remain_rates = std::stod(meta(*f, "p_remain_rates"));
    o.teacache_thresh = 0.0;
  }
  DenoiseRequest r;
  const auto denoiser = wan::make_cpu_denoiser(model);
  r.denoiser = denoiser.get();
  r.steps = std::stoi(meta(*f, "steps"));
  r.jenga = wan_preset_for(preset == "sparse" ? "base" : preset == "turbo_long" ? "turbo" : preset, "1.3B", o, r.steps);
  r.noise = f->load("noise", DType::F32);
  if (f->find("noise_full")) r.renoise.push_back(f->load("noise_full", DType::F32));  // Turbo: one change
  r.context = f->load("context", DType::F32);
  r.context_null = f->load("context_null", DType::F32);
  r.shift = std::stod(meta(*f, "shift"));
  r.guide_scale = std::stod(meta(*f, "guide_scale"));
  r.solver = meta(*f, "solver");
  std::vector<std::string> snaps;
  for (const auto& t : f->header().tensors)
    if (t.name.rfind("step_", 0) == 0) r.save_steps.push_back(std::stoi(t.name.substr(5))), snaps.push_back(t.name);
  Progress quiet(Progress::Mode::Quiet);
  const DenoiseResult res = denoise(r, quiet);

  // f32 on both sides: the official loop moves by ~1e-6 under input perturbations of that size.
  const double d = rel_l2(res.latents, f->load("latents", DType::F32));
  std::printf("%s: final latents rel L2 %.3g vs the official loop\n", name.c_str(), d);
  EXPECT_LT(d, 1e-4);
  const Tensor calls = f->load("teacache_computed");
  ASSERT_EQ(res.computed_calls.size(), static_cast<size_t>(calls.numel()));
  for (int64_t i = 0; i < calls.numel(); ++i) EXPECT_EQ(res.computed_calls[i], calls.data_as<int32_t>()[i]) << i;
  ASSERT_EQ(res.saved.size(), snaps.size());
  for (const auto& [i, t] : res.saved)  // bf16 snapshots: storage rounding ~2e-3
    EXPECT_LT(rel_l2(t, f->load("step_" + std::to_string(i), DType::F32)), 1e-2) << "step " << i;
}

}  // namespace

TEST(JengaWanLoopGolden, DenseLoopMatchesOfficial) { check_loop_against_official("dense"); }
TEST(JengaWanLoopGolden, BaseLoopMatchesOfficial) { check_loop_against_official("base"); }
TEST(JengaWanLoopGolden, TurboLoopMatchesOfficial) { check_loop_against_official("turbo"); }
TEST(JengaWanLoopGolden, SparseLoopMatchesOfficial) { check_loop_against_official("sparse"); }
TEST(JengaWanLoopGolden, TurboLongLoopMatchesOfficial) { check_loop_against_official("turbo_long"); }
// Upstream Wan's `--sample_solver dpm++` loop (FlowDPMSolverMultistepScheduler).
TEST(JengaWanLoopGolden, DenseDpmppLoopMatchesOfficial) { check_loop_against_official("dense_dpmpp"); }
// jenga_wan.py Turbo with `--sample_solver dpm++`: dpm++ table, step_to_zero / add_noise at the
// switch, set_timesteps(shift + 2) restarting the solver.
TEST(JengaWanLoopGolden, TurboDpmppLoopMatchesOfficial) { check_loop_against_official("turbo_dpmpp"); }
