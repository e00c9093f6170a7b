#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "io/safetensors.h"
#include "sampling/flow_dpmpp.h"
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

// DPM++: goldens from the official FlowDPMSolverMultistepScheduler (tools/golden/wan_dpmpp.py)
// as Wan's `--sample_solver dpm++` builds it, same stand-in model.
namespace {
std::vector<int64_t> i64_vector(const Tensor& t) {
  EXPECT_EQ(t.dtype(), DType::I64);
  return {t.data_as<int64_t>(), t.data_as<int64_t>() + t.numel()};
}

void run_dpmpp_case(const std::string& name, int steps, double shift) {
  auto f = SafetensorsFile::open(std::string(JENGA_TEST_DATA) + "/sampling/" + name + ".safetensors");
  const auto sig = f->load("sigmas").to_f32_vector();
  const auto ts = i64_vector(f->load("timesteps"));
  // Our table is the official one, bit for bit.
  const FlowDpmSchedule mine = wan_dpmpp_schedule(steps, shift);
  ASSERT_EQ(mine.sigmas, sig) << name;
  ASSERT_EQ(mine.timesteps, ts) << name;

  auto x = f->load("x_start").to_f32_vector();
  Tensor traj = f->load("trajectory");
  ASSERT_EQ(traj.dim(0), steps);
  const size_t n = x.size();
  const int restart = f->find("sigmas_after") ? static_cast<int>(i64_vector(f->load("start_after"))[0]) : -1;
  FlowDPMpp solver(sig, n);
  double worst = 0;
  for (int idx = 0; idx < steps; ++idx) {
    if (idx == restart) solver.reset(f->load("sigmas_after").to_f32_vector(), idx);
    const auto v = model(x, idx);
    EXPECT_EQ(solver.step(v.data(), x.data()), idx);
    const double e = rel_err(x.data(), traj.data_as<float>() + idx * n, n);
    worst = std::max(worst, e);
    ASSERT_LT(e, 1e-5) << name << " step " << idx;
  }
  std::printf("%s: worst relative error over %d steps %.2e\n", name.c_str(), steps, worst);
}
}  // namespace

TEST(FlowDPMpp, MatchesOfficialSchedulerN50Shift5) { run_dpmpp_case("dpmpp_n50_shift5", 50, 5.0); }
TEST(FlowDPMpp, MatchesOfficialSchedulerN10Shift8) { run_dpmpp_case("dpmpp_n10_shift8", 10, 8.0); }
TEST(FlowDPMpp, MatchesOfficialSchedulerTwoSteps) { run_dpmpp_case("dpmpp_n2_shift3", 2, 3.0); }
TEST(FlowDPMpp, MatchesOfficialSchedulerAfterSetTimestepsMidRun) {
  run_dpmpp_case("dpmpp_n30_shift8_reset25", 30, 8.0);
}

TEST(FlowDPMpp, CoefficientsFollowTheOrderRules) {
  const auto sch = wan_dpmpp_schedule(6, 5.0);
  const std::vector<double> s(sch.sigmas.begin(), sch.sigmas.end());
  // From sigma 1 (alpha 0): x1 = sigma_1 x + (1 - sigma_1) x0, whatever the history.
  auto k = FlowDPMpp::step_coefficients(sch.sigmas, 0, 0, 2);
  EXPECT_EQ(k.order, 1);
  EXPECT_DOUBLE_EQ(k.a, s[1]);
  EXPECT_NEAR(k.b, 1.0 - s[1], 1e-12);
  EXPECT_EQ(k.c, 0.0);
  // The second step follows sigma 1: second order, but D1 vanishes (r0 = inf).
  k = FlowDPMpp::step_coefficients(sch.sigmas, 1, 1, 2);
  EXPECT_EQ(k.order, 2);
  EXPECT_EQ(k.c, 0.0);
  // A middle step: the midpoint formula x_t = (st/s0) x - E m0 - 0.5 E (m0 - m1) / r0.
  const int i = 3;
  k = FlowDPMpp::step_coefficients(sch.sigmas, i, 2, 2);
  ASSERT_EQ(k.order, 2);
  auto lam = [](double q) { return std::log((1 - q) / q); };
  const double h = lam(s[i + 1]) - lam(s[i]), h0 = lam(s[i]) - lam(s[i - 1]);
  const double E = (1 - s[i + 1]) * (std::exp(-h) - 1), r0 = h0 / h;
  EXPECT_NEAR(k.a, s[i + 1] / s[i], 1e-12);
  EXPECT_NEAR(k.b, -E - 0.5 * E / r0, 1e-12);
  EXPECT_NEAR(k.c, 0.5 * E / r0, 1e-12);
  // A first-order history makes it first order; so does the last step (final sigma 0: x = x0).
  EXPECT_EQ(FlowDPMpp::step_coefficients(sch.sigmas, i, 0, 2).order, 1);
  EXPECT_EQ(FlowDPMpp::step_coefficients(sch.sigmas, i, 2, 1).order, 1);
  k = FlowDPMpp::step_coefficients(sch.sigmas, 5, 5, 2);
  EXPECT_EQ(k.order, 1);
  EXPECT_EQ(k.a, 0.0);
  EXPECT_DOUBLE_EQ(k.b, 1.0);
}

TEST(FlowDPMpp, UpdateIsPredictorOnlyAndGuardsInput) {
  // The backend path: next_update() carries the coefficients as a predictor-only SolverUpdate.
  const auto sch = wan_dpmpp_schedule(8, 8.0);
  FlowDPMpp a(sch.sigmas, 3);
  for (int i = 0; i < 8; ++i) {
    const SolverUpdate u = a.next_update();
    const FlowDpmCoefs k = FlowDPMpp::step_coefficients(sch.sigmas, i, i, 2);
    EXPECT_FALSE(u.correct);
    EXPECT_FALSE(u.euler);
    EXPECT_EQ(u.sigma, sch.sigmas[i]);
    EXPECT_EQ(u.p_x, static_cast<float>(k.a));
    EXPECT_EQ(u.p_m, static_cast<float>(k.b));
    EXPECT_EQ(u.p_h0, static_cast<float>(k.c));
    EXPECT_EQ(a.step_index(), i + 1);
  }
  std::vector<float> x(3, 0.5f), v(3, 0.0f);
  EXPECT_THROW(a.step(v.data(), x.data()), Error);           // past the end
  EXPECT_THROW(FlowDPMpp({1.0f}, 3), Error);                 // no step
  EXPECT_THROW(FlowDPMpp({1.5f, 0.0f}, 3), Error);           // sigma > 1
  EXPECT_THROW(FlowDPMpp({0.5f, 0.6f, 0.0f}, 3), Error);     // not decreasing
  EXPECT_THROW(FlowDPMpp({0.5f, 0.0f}, 3, 3), Error);        // order 3
  EXPECT_THROW(a.reset(sch.sigmas, 8), Error);               // start past the end
  EXPECT_THROW(wan_dpmpp_schedule(0, 5.0), UsageError);
  EXPECT_THROW(wan_dpmpp_schedule(10, 0.0), UsageError);
}
