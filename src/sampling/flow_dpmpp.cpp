#include "sampling/flow_dpmpp.h"

#include <cmath>

#include "core/error.h"
#include "sampling/flow_unipc.h"  // apply_solver_update

namespace jenga {

namespace {

// lambda = log(alpha / sigma), alpha = 1 - sigma: -inf at sigma 1, +inf at sigma 0.
double lambda_of(double sigma) { return std::log(1.0 - sigma) - std::log(sigma); }

void check_table(const std::vector<float>& s) {
  if (s.size() < 2) fail("DPM++: a schedule needs at least one step (got {} sigmas)", s.size());
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (!(s[i] > 0.0f && s[i] <= 1.0f)) fail("DPM++: sigma {} = {} is outside (0, 1]", i, s[i]);
    if (!(s[i + 1] < s[i])) fail("DPM++: sigmas must decrease (sigma {} = {}, sigma {} = {})", i, s[i], i + 1, s[i + 1]);
  }
  if (s.back() < 0.0f) fail("DPM++: the final sigma {} is negative", s.back());
}

}  // namespace

FlowDpmSchedule wan_dpmpp_schedule(int steps, double shift) {
  if (steps < 1) usage_fail("--steps {}: must be at least 1", steps);
  if (!(shift > 0.0) || !std::isfinite(shift)) usage_fail("--shift {}: must be a positive number", shift);
  // numpy linspace(1, 0, N+1): y_i = i * (-1/N) + 1, in f64; get_sampling_sigmas shifts in f64.
  const double step = -1.0 / steps;
  FlowDpmSchedule s;
  for (int i = 0; i < steps; ++i) {
    const double sig = i * step + 1.0;
    const double shifted = shift * sig / (1 + (shift - 1) * sig);
    s.sigmas.push_back(static_cast<float>(shifted));
    s.timesteps.push_back(static_cast<int64_t>(shifted * 1000));
  }
  s.sigmas.push_back(0.0f);
  return s;
}

FlowDpmCoefs FlowDPMpp::step_coefficients(const std::vector<float>& sigmas, int index, int history, int order) {
  const int n = static_cast<int>(sigmas.size()) - 1;
  JENGA_ASSERT(index >= 0 && index < n);
  const double s0 = sigmas[static_cast<size_t>(index)], t = sigmas[static_cast<size_t>(index) + 1];
  FlowDpmCoefs k;
  k.sigma = s0;
  // Final sigma 0 makes the official lower_order_final true on the last step for any N.
  k.order = (order == 1 || history < 1 || index == n - 1) ? 1 : 2;
  const double h = lambda_of(t) - lambda_of(s0);  // +inf from sigma 1 or to sigma 0
  const double e = (1.0 - t) * std::expm1(-h);    // alpha_t (e^-h - 1)
  k.a = t / s0;
  k.b = -e;
  if (k.order == 2) {
    // D1 = (m0 - m1) / r0, r0 = h0 / h; x -= 0.5 e D1. h0 = +inf after sigma 1 gives D1 = 0.
    const double h0 = lambda_of(s0) - lambda_of(sigmas[static_cast<size_t>(index) - 1]);
    const double inv_r0 = h / h0;
    k.b -= 0.5 * e * inv_r0;
    k.c = 0.5 * e * inv_r0;
  }
  return k;
}

FlowDPMpp::FlowDPMpp(std::vector<float> sigmas, size_t n, int order) : n_(n), order_(order) {
  if (order < 1 || order > 2) fail("DPM++: solver order {} is not supported (1 or 2)", order);
  reset(std::move(sigmas), 0);
}

void FlowDPMpp::reset(std::vector<float> sigmas, int start_index) {
  check_table(sigmas);
  if (start_index < 0 || start_index >= static_cast<int>(sigmas.size()) - 1)
    fail("DPM++: start index {} is outside a {}-step schedule", start_index, sigmas.size() - 1);
  sigmas_ = std::move(sigmas);
  index_ = start_index;
  lower_order_nums_ = 0;
}

SolverUpdate FlowDPMpp::next_update() {
  if (index_ >= steps()) fail("DPM++: step {} is past the end of a {}-step schedule", index_, steps());
  const FlowDpmCoefs k = step_coefficients(sigmas_, index_, lower_order_nums_, order_);
  SolverUpdate u;
  u.sigma = static_cast<float>(k.sigma);
  u.p_x = static_cast<float>(k.a);
  u.p_m = static_cast<float>(k.b);
  u.p_h0 = static_cast<float>(k.c);
  if (lower_order_nums_ < order_) ++lower_order_nums_;
  ++index_;
  return u;
}

int FlowDPMpp::step(const float* v, float* x) {
  if (h0_.size() != n_) h0_.assign(n_, 0.0f), h1_.assign(n_, 0.0f), last_.assign(n_, 0.0f);
  const SolverUpdate u = next_update();
  apply_solver_update(u, v, x, last_.data(), h0_.data(), h1_.data(), n_);
  h0_.swap(h1_);
  return index_ - 1;
}

}  // namespace jenga
