#pragma once
// Flow-matching DPM-Solver++ (multistep, order 2, midpoint), the official Wan2.1
// `--sample_solver dpm++` (wan/utils/fm_solvers.py FlowDPMSolverMultistepScheduler with Wan's
// settings: dpmsolver++, midpoint, lower_order_final, final sigma 0, no thresholding).
// The coefficients of a step are computed on the host from the sigma table; the update is
//   m0 = x - sigma_i v                  (this step's x0 prediction)
//   x  = a x + b m0 + c m1              (m1: the previous step's x0 prediction)
// i.e. a predictor-only SolverUpdate (p_x = a, p_m = b, p_h0 = c), so every backend applies it
// with the same element-wise update as UniPC (apply_solver_update / the CUDA step kernel).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "sampling/solver_update.h"

namespace jenga {

// Wan's dpm++ table: sigmas = shift(linspace(1, 0, N+1)[:N]) (f64, then f32) with 0 appended,
// timesteps = int64(sigma * 1000) from the f64 values ([N]; the first is 1000).
struct FlowDpmSchedule {
  std::vector<float> sigmas;        // [N+1]
  std::vector<int64_t> timesteps;   // [N]
};
FlowDpmSchedule wan_dpmpp_schedule(int steps, double shift);

// One step's update (see the top of this file). order 1: c = 0.
struct FlowDpmCoefs {
  double sigma = 0;  // sigma_i, for m0 = x - sigma v
  double a = 0, b = 0, c = 0;
  int order = 1;
};

class FlowDPMpp {
 public:
  // sigmas: [N+1], sigma_0 <= 1 (the dpm++ table starts at exactly 1), the last 0; `n`:
  // elements per sample.
  FlowDPMpp(std::vector<float> sigmas, size_t n, int order = 2);

  // set_timesteps again mid-run (e.g. Jenga Turbo's shift change): new table, history cleared,
  // the next step at `start_index` (the official scheduler looks its index up from t).
  void reset(std::vector<float> sigmas, int start_index);

  // One step on the CPU: v is the model's flow prediction at sample x; x is replaced by the
  // sample at the next sigma. Returns the index just completed.
  int step(const float* v, float* x);
  // The same step as coefficients for a backend that holds x and the history itself (the GPU):
  // advances the solver's state exactly as step() does, touching no arrays.
  SolverUpdate next_update();
  int step_index() const { return index_; }
  int steps() const { return static_cast<int>(sigmas_.size()) - 1; }
  float sigma(int i) const { return sigmas_.at(static_cast<size_t>(i)); }

  // The official rule: first order on the first step after a (re)start and on the last step
  // (final sigma 0), else `order`. `history` = previous steps since the (re)start.
  static FlowDpmCoefs step_coefficients(const std::vector<float>& sigmas, int index, int history, int order);

 private:
  std::vector<float> sigmas_;
  size_t n_;
  int order_;
  int index_ = 0;
  int lower_order_nums_ = 0;
  std::vector<float> h0_, h1_, last_;  // apply_solver_update's arrays (h0: previous x0 prediction)
};

}  // namespace jenga
