#pragma once
// Flow-matching Euler (the `--solver euler` of the denoise loop): x_next = x + (sigma_next - sigma) v,
// no history. As a SolverUpdate every backend applies it with the same element-wise update as
// UniPC and DPM++ (apply_solver_update / the CUDA step kernel).
#include "sampling/solver_update.h"

namespace jenga {

// The step from sigma to sigma_next (the difference in f64, then f32, as the loop always did).
inline SolverUpdate flow_euler_update(double sigma, double sigma_next) {
  SolverUpdate u;
  u.euler = true;
  u.euler_d = static_cast<float>(sigma_next - sigma);
  return u;
}

}  // namespace jenga
