#pragma once
// Flow-matching UniPC multistep solver (bh2, x0-prediction, order 2, lower-order final steps),
// the official Wan2.1 default (FlowUniPCMultistepScheduler), plus Euler. The step coefficients
// are computed on the host from the sigma table; the update is a linear combination of a few
// same-shaped arrays, done here on the CPU (a CUDA backend applies the same coefficients).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "sampling/solver_update.h"

namespace jenga {

class FlowUniPC {
 public:
  // sigmas: [N+1] as the official scheduler holds them after set_timesteps (f32 values, the last
  // 0); `n`: elements per sample.
  FlowUniPC(std::vector<float> sigmas, size_t n, int order = 2, bool lower_order_final = true);

  // set_timesteps again (e.g. Jenga Turbo's shift change): new table, history cleared; the step
  // counter is kept by the caller through `start_index` (the official loop continues its index).
  void reset(std::vector<float> sigmas, int start_index);
  // Jenga's patched step(): the next step runs as 1st-order predictor, without corrector.
  void force_first_order_once() { force_first_order_ = true; }

  // One step at the current index: v is the model's flow prediction at sample x; x is replaced
  // by the sample at the next sigma. Returns the index just completed.
  int step(const float* v, float* x);
  // The same step as coefficients for a backend that holds x and the history itself (the GPU):
  // advances the solver's state exactly as step() does, touching no arrays.
  SolverUpdate next_update();
  int step_index() const { return index_; }
  int steps() const { return static_cast<int>(sigmas_.size()) - 1; }
  float sigma(int i) const { return sigmas_.at(static_cast<size_t>(i)); }

  // x0 = x - sigma_i v (the official step_to_zero).
  static void predict_x0(const float* v, const float* x, float sigma, float* x0, size_t n);

 private:
  std::vector<float> sigmas_;
  size_t n_;
  int order_;
  bool lower_order_final_;
  int index_ = 0;
  int lower_order_nums_ = 0;
  int this_order_ = 1;
  bool have_last_ = false;
  bool force_first_order_ = false;
  std::vector<float> h0_, h1_, last_;  // x0 predictions (newest, older), last corrected sample
};

// Applies u to host arrays (see solver_update.h); h1 receives m and the caller swaps h0/h1.
void apply_solver_update(const SolverUpdate& u, const float* v, float* x, float* last, const float* h0, float* h1,
                         size_t n);

// x_{i+1} = x_i + (sigma_{i+1} - sigma_i) v.
void flow_euler_step(const float* v, float* x, float sigma, float sigma_next, size_t n);

}  // namespace jenga
