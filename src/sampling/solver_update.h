#pragma once
// One sampler step as a fixed linear combination of a few same-shaped arrays, so every backend
// (CPU loop, CUDA kernel) applies the same host-computed coefficients. With v the guided model
// output at sample x, and h0 / h1 the newest / older x0 predictions of earlier steps:
//   m = x - sigma * v                                    (x0 prediction of this step)
//   corrector: x = c_last * last + c_h0 * h0 + c_h1 * h1 + c_m * m      (UniC, when `correct`)
//   last = x
//   predictor: x = p_x * x + p_m * m + p_h0 * h0
//   history: h1 = h0, h0 = m
// Euler (`euler`): x = x + euler_d * v, no history.
namespace jenga {

struct SolverUpdate {
  bool euler = false;
  float euler_d = 0.0f;
  float sigma = 0.0f;
  bool correct = false;
  float c_last = 0.0f, c_h0 = 0.0f, c_h1 = 0.0f, c_m = 0.0f;
  float p_x = 1.0f, p_m = 0.0f, p_h0 = 0.0f;
};

}  // namespace jenga
