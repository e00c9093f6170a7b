#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "io/safetensors.h"
#include "sampling/flow_unipc.h"

using namespace jenga;

// Goldens from the official FlowUniPCMultistepScheduler (tools/golden/unipc_golden.py) on the
// stand-in model v = 0.6 tanh(x) - 0.25 x + 0.05 (step % 7).
namespace {
std::vector<float> model(const std::vector<float>& x, int step) {
  std::vector<float> v(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    v[i] = 0.6f * std::tanh(x[i]) - 0.25f * x[i] + 0.05f * static_cast<float>(step % 7);
  return v;
}

double rel_err(const float* a, const float* b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    num = std::max(num, std::fabs(double(a[i]) - b[i]));
    den = std::max(den, std::fabs(double(b[i])));
  }
  return num / std::max(den, 1e-30);
}

void run_case(const std::string& name, int turbo_at) {
  auto f = SafetensorsFile::open(std::string(JENGA_TEST_DATA) + "/sampling/" + name + ".safetensors");
  auto sig = f->load("sigmas").to_f32_vector();
  auto x = f->load("x_start").to_f32_vector();
  Tensor traj = f->load("trajectory");
  const int steps = static_cast<int>(traj.dim(0));
  const size_t n = x.size();
  ASSERT_EQ(static_cast<int>(sig.size()), steps + 1);
  FlowUniPC solver(sig, n);
  double worst = 0;
  for (int idx = 0; idx < steps; ++idx) {
    auto v = model(x, idx);
    if (idx == turbo_at) {
      // Jenga Turbo's switch: x0 from the old schedule, re-noise at the old sigma of the next
      // step, new schedule (shift + 2) from the next index, first-order step without corrector.
      std::vector<float> x0(n);
      FlowUniPC::predict_x0(v.data(), x.data(), sig[idx], x0.data(), n);
      const auto noise = f->load("noise").to_f32_vector();
      const float s = sig[idx + 1];
      for (size_t i = 0; i < n; ++i) x[i] = (1.0f - s) * x0[i] + s * noise[i];
      solver.reset(f->load("sigmas_after").to_f32_vector(), idx + 1);
      solver.force_first_order_once();
    } else {
      EXPECT_EQ(solver.step(v.data(), x.data()), idx);
    }
    const double e = rel_err(x.data(), traj.data_as<float>() + idx * n, n);
    worst = std::max(worst, e);
    ASSERT_LT(e, 1e-5) << name << " step " << idx;
  }
  std::printf("%s: worst relative error over %d steps %.2e\n", name.c_str(), steps, worst);
}
}  // namespace

TEST(FlowUniPC, MatchesOfficialSchedulerN50Shift5) { run_case("unipc_n50_shift5", -1); }
TEST(FlowUniPC, MatchesOfficialSchedulerN10Shift8) { run_case("unipc_n10_shift8", -1); }
TEST(FlowUniPC, MatchesOfficialJengaTurboSwitch) { run_case("unipc_n50_shift8_turbo25", 25); }

TEST(FlowUniPC, LastStepReturnsTheX0PredictionAndGuardsTheEnd) {
  std::vector<float> sig = {0.5f, 0.0f};
  FlowUniPC s(sig, 2);
  std::vector<float> x = {1.0f, 2.0f}, v = {0.5f, -1.0f};
  s.step(v.data(), x.data());
  EXPECT_FLOAT_EQ(x[0], 1.0f - 0.5f * 0.5f);
  EXPECT_FLOAT_EQ(x[1], 2.0f + 0.5f);
  EXPECT_THROW(s.step(v.data(), x.data()), Error);
  EXPECT_THROW(FlowUniPC({1.5f, 0.0f}, 2), Error);
  EXPECT_THROW(FlowUniPC({0.5f, 0.0f}, 2, 3), Error);
}

TEST(FlowEuler, Step) {
  std::vector<float> x = {1.0f}, v = {2.0f};
  flow_euler_step(v.data(), x.data(), 0.8f, 0.6f, 1);
  EXPECT_FLOAT_EQ(x[0], 1.0f - 0.4f);
}
