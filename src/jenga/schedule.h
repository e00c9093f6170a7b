#pragma once
// Per-step plan of a Jenga run: stage, token grid, timestep/sigma, shift, drop rate, dense or
// sparse attention, and whether the DiT is computed or its cached residual reused. Mirrors the
// official loops (jenga_wan.py t2v_generate + teacache_forward; Hunyuan
// pipeline_hunyuan_video_prores.py + jenga_hyvideo.py ra_forward).
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "jenga/presets.h"

namespace jenga {

// Wan UniPC (FlowUniPCMultistepScheduler.set_timesteps, shift s): sigmas [N+1] (f32, final 0)
// and int64 timesteps [N].
struct WanSchedule {
  std::vector<float> sigmas;
  std::vector<int64_t> timesteps;
};
WanSchedule wan_unipc_schedule(int steps, double shift);
// Hunyuan FlowMatchDiscreteScheduler.set_timesteps (flow-reverse): sigmas [N+1] f32,
// timesteps [N] f32 = sigma * 1000.
struct HunyuanSchedule {
  std::vector<float> sigmas;
  std::vector<float> timesteps;
};
HunyuanSchedule hunyuan_flow_schedule(int steps, double shift);

// What a step does with the DiT.
enum class StepCompute { Computed, Reused, ModelDependent };
std::string_view step_compute_name(StepCompute c);  // "computed", "reused", "model-dependent"

struct StageSwitch {
  int next_stage = 0;
  bool resolution_changes = false;
  double new_shift = 0;
  double x0_sigma = 0;       // x0 = x_t - x0_sigma * v
  double renoise_sigma = 0;  // x = (1 - s) * x0 + s * noise, noise drawn at the new size
  std::string upsample = "trilinear";
  std::string note;
};

struct StepPlan {
  int step = 0;
  int stage = 0;
  std::array<int64_t, 3> tokens{};  // token grid (T, H, W) seen by the DiT
  std::array<int64_t, 3> latent{};  // latent (T, H, W) before patchify (patch 1x2x2)
  double timestep = 0;              // as fed to the model (Wan: integer)
  double sigma = 0;
  int sigma_index = 0;  // position of sigma in the current schedule (what the solver steps from)
  double sigma_next = 0;
  double shift = 0;
  double drop_rate = 0;
  bool dense = true;
  int64_t top_k = 0;               // sparse steps only
  int64_t first_frame_blocks = 0;  // Wan sparse steps only
  double text_amp = 0;             // Hunyuan, log2 units (official)
  // Hunyuan: one forward per step. Wan: cond and uncond passes, each with its own TeaCache.
  StepCompute compute = StepCompute::Computed;
  StepCompute compute_uncond = StepCompute::Computed;
  std::string solver_note;  // e.g. Wan first post-switch step: 1st order, no corrector
  std::optional<StageSwitch> stage_switch;  // after this step's model evaluation
};

struct Plan {
  const Preset* preset = nullptr;
  int steps = 0;
  std::vector<StepPlan> step;
};

// Which sigma table a Wan run steps through: UniPC's (the default, starts at 0.999) or the
// dpm++ one (`--sample_solver dpm++`, starts at 1.0; after a ProRes switch the official
// set_timesteps(shift + 2) gives both solvers the 0.999 table). Hunyuan ignores it.
enum class WanSolverTable { UniPC, DPMpp };

// steps <= 0 uses the preset's default. Throws UsageError on step counts the official code
// cannot run.
Plan build_plan(const Preset& preset, int steps, WanSolverTable table = WanSolverTable::UniPC);
std::string plan_to_json(const Plan& plan, int indent = 2);

// TeaCache for one branch (cond or uncond) of Wan: feed each forward call in order.
class TeaCache {
 public:
  TeaCache(std::vector<double> coefficients, double threshold, int ret_steps, int cutoff_steps);
  // call: the branch's forward-call counter as the official code counts it (2*step for cond,
  // 2*step+1 for uncond); rel_l1 = mean|m - m_prev| / mean|m_prev| of the timestep modulation
  // (ignored on forced calls). Returns true when the blocks must be computed.
  bool should_compute(int call, double rel_l1, bool stage_start);
  double accumulated() const { return acc_; }
  static double rescale(const std::vector<double>& coefficients, double x);  // numpy poly1d

 private:
  std::vector<double> coef_;
  double thresh_;
  int ret_steps_, cutoff_;
  double acc_ = 0;
};

}  // namespace jenga
