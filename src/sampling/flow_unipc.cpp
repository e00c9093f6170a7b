#include "sampling/flow_unipc.h"

#include <cmath>

#include "core/error.h"

namespace jenga {

namespace {

// lambda = log(alpha / sigma) with alpha = 1 - sigma (flow matching).
double lambda_of(double sigma) { return std::log(1.0 - sigma) - std::log(sigma); }

// UniPC bh2 scalars for one update from sigma_s0 to sigma_t: h, h*phi_1 = expm1(-h), B(h).
struct Bh {
  double alpha_t, sigma_t, sigma_s0, h_phi_1, b_h, hh;
};
Bh bh(double sigma_s0, double sigma_t) {
  Bh r;
  r.alpha_t = 1.0 - sigma_t;
  r.sigma_t = sigma_t;
  r.sigma_s0 = sigma_s0;
  const double h = lambda_of(sigma_t) - lambda_of(sigma_s0);  // +inf when sigma_t = 0
  r.hh = -h;
  r.h_phi_1 = std::expm1(r.hh);
  r.b_h = std::expm1(r.hh);
  return r;
}

// b_i = h_phi_k * i! / B_h for i = 1..order, with the official recurrence.
std::vector<double> b_vector(const Bh& s, int order) {
  std::vector<double> b;
  double h_phi_k = s.h_phi_1 / s.hh - 1.0;
  double factorial = 1.0;
  for (int i = 1; i <= order; ++i) {
    b.push_back(h_phi_k * factorial / s.b_h);
    factorial *= i + 1;
    h_phi_k = h_phi_k / s.hh - 1.0 / factorial;
  }
  return b;
}

}  // namespace

FlowUniPC::FlowUniPC(std::vector<float> sigmas, size_t n, int order, bool lower_order_final)
    : n_(n), order_(order), lower_order_final_(lower_order_final) {
  if (order < 1 || order > 2) fail("UniPC: solver order {} is not supported (1 or 2)", order);
  reset(std::move(sigmas), 0);
}

void FlowUniPC::reset(std::vector<float> sigmas, int start_index) {
  if (sigmas.size() < 2) fail("UniPC: a schedule needs at least one step");
  for (size_t i = 0; i + 1 < sigmas.size(); ++i)
    if (!(sigmas[i] > 0.0f && sigmas[i] < 1.0f)) fail("UniPC: sigma {} = {} is outside (0, 1)", i, sigmas[i]);
  sigmas_ = std::move(sigmas);
  index_ = start_index;
  lower_order_nums_ = 0;
  have_last_ = false;
}

void FlowUniPC::predict_x0(const float* v, const float* x, float sigma, float* x0, size_t n) {
  for (size_t i = 0; i < n; ++i) x0[i] = x[i] - sigma * v[i];
}

SolverUpdate FlowUniPC::next_update() {
  const int N = steps();
  if (index_ < 0 || index_ >= N) fail("UniPC: step {} is past the end of a {}-step schedule", index_, N);
  SolverUpdate u;
  const double s_i = sigmas_[index_];
  u.sigma = static_cast<float>(s_i);  // m: the x0 prediction (official convert_model_output)

  // UniC corrector: refines x with this step's prediction (not on the first step after a
  // (re)start, which has no previous sample). x = cx last + cm h0 + cb (rho_t (m - h0) +
  // rho_d1 (h1 - h0) / rk).
  if (index_ > 0 && have_last_) {
    const Bh s = bh(sigmas_[index_ - 1], s_i);
    double rho_d1 = 0.0, rho_t = 0.5, rk = 1.0;
    if (this_order_ == 2) {
      rk = (lambda_of(sigmas_[index_ - 2]) - lambda_of(sigmas_[index_ - 1])) / (lambda_of(s_i) - lambda_of(sigmas_[index_ - 1]));
      const auto b = b_vector(s, 2);
      // Solve [[1, 1], [rk, 1]] rho = b.
      const double det = 1.0 - rk;
      rho_d1 = (b[0] - b[1]) / det;
      rho_t = (b[1] - rk * b[0]) / det;
    }
    const double cx = s.sigma_t / s.sigma_s0, cm = -s.alpha_t * s.h_phi_1, cb = -s.alpha_t * s.b_h;
    const double d1 = this_order_ == 2 ? rho_d1 / rk : 0.0;
    u.correct = true;
    u.c_last = static_cast<float>(cx);
    u.c_h0 = static_cast<float>(cm - cb * rho_t - cb * d1);
    u.c_h1 = static_cast<float>(cb * d1);
    u.c_m = static_cast<float>(cb * rho_t);
  }

  int this_order = lower_order_final_ ? std::min(order_, N - index_) : order_;
  this_order = std::min(this_order, lower_order_nums_ + 1);
  if (force_first_order_) {
    this_order = 1;
    force_first_order_ = false;
  }
  this_order_ = this_order;
  have_last_ = true;

  // UniP predictor to sigma_{i+1} (sigma_N = 0 gives x = m): x = cx x + cm m + cd (h0 - m).
  const Bh s = bh(s_i, sigmas_[index_ + 1]);
  const double cx = s.sigma_t / s.sigma_s0, cm = -s.alpha_t * s.h_phi_1;
  u.p_x = static_cast<float>(cx);
  if (this_order == 2) {
    const double rk = (lambda_of(sigmas_[index_ - 1]) - lambda_of(s_i)) / (lambda_of(sigmas_[index_ + 1]) - lambda_of(s_i));
    const double cd = -s.alpha_t * s.b_h * 0.5 / rk;
    u.p_m = static_cast<float>(cm - cd);
    u.p_h0 = static_cast<float>(cd);
  } else {
    u.p_m = static_cast<float>(cm);
  }
  if (lower_order_nums_ < order_) ++lower_order_nums_;
  ++index_;
  return u;
}

void apply_solver_update(const SolverUpdate& u, const float* v, float* x, float* last, const float* h0, float* h1,
                         size_t n) {
  if (u.euler) {
    for (size_t k = 0; k < n; ++k) x[k] += u.euler_d * v[k];
    return;
  }
  for (size_t k = 0; k < n; ++k) {
    const float m = x[k] - u.sigma * v[k];
    float xk = x[k];
    if (u.correct) xk = u.c_last * last[k] + u.c_h0 * h0[k] + u.c_h1 * h1[k] + u.c_m * m;
    last[k] = xk;
    x[k] = u.p_x * xk + u.p_m * m + u.p_h0 * h0[k];
    h1[k] = m;
  }
}

int FlowUniPC::step(const float* v, float* x) {
  if (h0_.size() != n_) h0_.assign(n_, 0.0f), h1_.assign(n_, 0.0f), last_.assign(n_, 0.0f);
  const SolverUpdate u = next_update();
  apply_solver_update(u, v, x, last_.data(), h0_.data(), h1_.data(), n_);
  h0_.swap(h1_);
  return index_ - 1;
}

void flow_euler_step(const float* v, float* x, float sigma, float sigma_next, size_t n) {
  const float d = sigma_next - sigma;
  for (size_t i = 0; i < n; ++i) x[i] += d * v[i];
}

}  // namespace jenga
