#include "pipeline/step_cost.h"

#include <algorithm>

#include <fmt/format.h>

namespace jenga {

std::vector<double> expected_step_costs(const StepCostInputs& in) {
  std::vector<double> cost;
  if (!in.plan) return cost;
  const double n_star = 5.6 * static_cast<double>(in.hidden > 0 ? in.hidden : 3072);
  constexpr double kReusedShare = 1.0 / 200;
  const auto& steps = in.plan->step;
  cost.reserve(steps.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    const StepPlan& sp = steps[i];
    const double n = static_cast<double>(sp.tokens[0] * sp.tokens[1] * sp.tokens[2]);
    const double kept = in.sparse && !sp.dense ? std::clamp(1.0 - sp.drop_rate, 0.05, 1.0) : 1.0;
    const double forward = n + n * n * kept / n_star;
    double c = 0;
    for (int b = 0; b < in.branches; ++b) {
      const size_t call = 2 * i + static_cast<size_t>(b);
      const bool computed = !in.computed_calls || call >= in.computed_calls->size() || (*in.computed_calls)[call];
      c += computed ? forward : forward * kReusedShare;
    }
    cost.push_back(c);
  }
  return cost;
}

double approx_forward_flops(int64_t tokens, int64_t hidden, int64_t layers) {
  const double n = static_cast<double>(tokens), h = static_cast<double>(hidden);
  return static_cast<double>(layers) * n * (24.0 * h * h + 4.0 * n * h);
}

std::string cpu_run_note(int64_t tokens, int64_t hidden, int64_t layers, int forwards) {
  const double flops = approx_forward_flops(tokens, hidden, layers);
  if (!(flops > 1e12)) return "";
  return fmt::format(
      "the DiT runs on the CPU: up to {} tokens a forward, ~{:.3g} TFLOP each, up to {} forwards; a CPU does well under "
      "1 TFLOP/s, so this takes a long time (the ETA follows the first step). Real runs: --device cuda on an NVIDIA "
      "GPU; a smoke test: a small --size and --frames (e.g. --size 64x48 --frames 5)",
      tokens, flops / 1e12, forwards);
}

}  // namespace jenga
