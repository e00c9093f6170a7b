#pragma once
// Expected relative cost of each denoising step, for the progress ETA only. A ProRes preset's
// later stages run at more tokens, and reused steps cost almost nothing, so "seconds per step so
// far x steps left" undershoots badly (Turbo at 720p: half the steps are left at a third of the
// time). The model: a computed forward costs n (GEMMs, linear in tokens) + n^2 x kept / n_star
// (attention, quadratic, scaled by the kept fraction), with n_star the token count where the two
// are equal (~5.6 x hidden: GEMMs ~ n h^2, attention ~ n^2 h; 17k tokens for HunyuanVideo, close
// to its measured split); a reused forward costs 1/200 of a computed one. Only the ratios matter.
#include <cstdint>
#include <string>
#include <vector>

#include "jenga/schedule.h"

namespace jenga {

struct StepCostInputs {
  const Plan* plan = nullptr;
  // Per forward call, 2 per step (cond, uncond) as DenoiseResult::computed_calls: 1 = computed.
  const std::vector<uint8_t>* computed_calls = nullptr;
  int branches = 1;      // forward calls per step
  bool sparse = false;   // Jenga AttenCarve on the steps the plan marks sparse
  int64_t hidden = 0;    // the DiT's width (0: unknown, a HunyuanVideo-like 3072 is assumed)
};

std::vector<double> expected_step_costs(const StepCostInputs& in);

// A DiT forward's floating-point operations, roughly: per layer and token 24 h^2 for the
// projections and MLP (12 h^2 weights, 2 flops a multiply-add) plus 4 n h for attention (QK^T and
// PV). Within ~2x of the real count (HunyuanVideo 720p: 11e15 against ~13e15), enough to say how
// long a CPU run would take.
double approx_forward_flops(int64_t tokens, int64_t hidden, int64_t layers);

// generate on the CPU: a note before any work when a forward is large (over 1e12 flops: minutes
// or more a step on a CPU), with the count, the forwards and what to run instead; empty otherwise.
std::string cpu_run_note(int64_t tokens, int64_t hidden, int64_t layers, int forwards);

}  // namespace jenga
