#include "jenga/schedule.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "jenga/carve_mask.h"
#include "jenga/text_amp.h"
#include "sampling/flow_dpmpp.h"

namespace jenga {

std::string_view step_compute_name(StepCompute c) {
  switch (c) {
    case StepCompute::Computed: return "computed";
    case StepCompute::Reused: return "reused";
    case StepCompute::ModelDependent: return "model-dependent";
  }
  return "?";
}

WanSchedule wan_unipc_schedule(int steps, double shift) {
  if (steps < 1) usage_fail("--steps {}: must be at least 1", steps);
  // sigma_max is the first train sigma (1 - 1/1000) after a round trip through f32.
  const double sigma_max = static_cast<double>(static_cast<float>(1.0 - 1.0 / 1000.0));
  const double step = (0.0 - sigma_max) / steps;  // numpy linspace(sigma_max, 0, steps + 1)
  WanSchedule s;
  for (int i = 0; i < steps; ++i) {
    const double sig = i * step + sigma_max;
    const double shifted = shift * sig / (1 + (shift - 1) * sig);
    s.sigmas.push_back(static_cast<float>(shifted));
    s.timesteps.push_back(static_cast<int64_t>(shifted * 1000));
  }
  s.sigmas.push_back(0.0f);
  return s;
}

HunyuanSchedule hunyuan_flow_schedule(int steps, double shift) {
  if (steps < 1) usage_fail("--steps {}: must be at least 1", steps);
  // torch.linspace(1, 0, steps + 1) in f32: the first half counts up from 1, the rest down from
  // 0, each value start + step * i rounded once (torch's CPU kernel is compiled with FMA).
  const int64_t n = steps + 1;
  const float step = (0.0f - 1.0f) / static_cast<float>(n - 1);
  // The shift itself is plain f32 arithmetic (no fused multiply-add), as torch computes it.
  const float fs = static_cast<float>(shift), fs1 = static_cast<float>(shift - 1);
  HunyuanSchedule s;
  for (int64_t i = 0; i < n; ++i) {
    const float t = i < n / 2 ? std::fma(step, static_cast<float>(i), 1.0f)
                              : std::fma(-step, static_cast<float>(n - i - 1), 0.0f);
    const float num = fs * t;
    const float den = 1.0f + fs1 * t;
    s.sigmas.push_back(num / den);
  }
  for (int i = 0; i < steps; ++i) s.timesteps.push_back(s.sigmas[i] * 1000.0f);
  return s;
}

namespace {

// diffusers index_for_timestep: the second match when the timestep repeats, else the first.
template <typename T>
int index_for_timestep(const std::vector<T>& ts, T t) {
  std::vector<int> hits;
  for (int i = 0; i < static_cast<int>(ts.size()); ++i)
    if (ts[i] == t) hits.push_back(i);
  if (hits.empty()) return static_cast<int>(ts.size()) - 1;
  return hits.size() > 1 ? hits[1] : hits[0];
}

WanSchedule wan_table(WanSolverTable table, int steps, double shift) {
  if (table == WanSolverTable::UniPC) return wan_unipc_schedule(steps, shift);
  const FlowDpmSchedule d = wan_dpmpp_schedule(steps, shift);
  return {d.sigmas, d.timesteps};
}

Plan build_wan_plan(const Preset& pr, int steps, WanSolverTable table) {
  if (steps < 2) usage_fail("--steps {}: Wan needs at least 2 steps (the official drop-rate warm-up divides by steps - 1)", steps);
  // Stage k+1 starts after step switches[k]. The official loop switches after step 25 whatever
  // the step count, and re-noises to the next step's sigma.
  std::vector<int> switches = pr.wan_switch_steps;
  if (switches.empty())
    for (size_t k = 0; k + 1 < pr.step_rates.size(); ++k) switches.push_back(static_cast<int>(steps * pr.step_rates[k]));
  if (pr.res_rates.size() != switches.size() + 1 || pr.res_rates.back() != 1.0)
    usage_fail("preset {}: {} resolution rates for {} stages; the last must be 1.0", pr.name, pr.res_rates.size(),
               switches.size() + 1);
  for (size_t k = 0; k < switches.size(); ++k) {
    const bool changes = pr.res_rates[k] != pr.res_rates[k + 1];
    if (changes && switches[k] + 2 > steps)
      usage_fail("--steps {}: preset {} switches resolution after step {} and needs at least {} steps", steps, pr.name,
                 switches[k], switches[k] + 2);
    if (k > 0 && switches[k] <= switches[k - 1]) usage_fail("preset {}: stage switches must increase", pr.name);
  }
  const auto tc = wan_teacache_coefficients(pr.model, pr.use_ret_steps);
  const int cutoff = 2 * steps - tc.cutoff_from_end;
  const int64_t frames = (pr.frames - 1) / 4 + 1, th = pr.height / 16, tw = pr.width / 16;

  Plan plan;
  plan.preset = &pr;
  plan.steps = steps;
  double shift = pr.flow_shift;
  WanSchedule sch = wan_table(table, steps, shift);
  int sigma_base = index_for_timestep(sch.timesteps, sch.timesteps[0]), base_step = 0;
  int stage = 0;
  bool stage_start = false;
  for (int idx = 0; idx < steps; ++idx) {
    StepPlan s;
    s.step = idx;
    s.stage = stage;
    const double r = pr.res_rates[stage];
    s.tokens = {frames, static_cast<int64_t>(th * r), static_cast<int64_t>(tw * r)};
    s.latent = {frames, s.tokens[1] * 2, s.tokens[2] * 2};
    if (stage_start) {  // set_timesteps(shift + 2) reset the step index
      sigma_base = index_for_timestep(sch.timesteps, sch.timesteps[idx]);
      base_step = idx;
      s.solver_note = "UniPC history reset by the shift change: first-order predictor, no corrector";
    }
    const int si = sigma_base + (idx - base_step);
    if (si >= steps)  // official: `assert self.this_order > 0` in FlowUniPCMultistepScheduler.step
      usage_fail("--steps {} at shift {:g}: the official UniPC schedule's first two timesteps are both {}, so its "
                 "scheduler starts one sigma late and fails at the last step; use fewer steps or a smaller shift",
                 steps, pr.flow_shift, sch.timesteps[0]);
    s.timestep = static_cast<double>(sch.timesteps[idx]);
    s.sigma = sch.sigmas[si];
    s.sigma_index = si;
    s.sigma_next = sch.sigmas[std::min<int>(si + 1, steps)];
    s.shift = shift;
    const auto& d = pr.sa_drop_rates;
    const double base = d[std::min<size_t>(static_cast<size_t>(stage), d.size() - 1)];
    const double step_normed = static_cast<double>(idx) / (steps - 1) * 10;
    s.drop_rate = std::min(base, step_normed * base);
    s.dense = s.drop_rate <= 0.25;
    const int64_t tokens = s.tokens[0] * s.tokens[1] * s.tokens[2];
    if (!s.dense) {
      s.top_k = wan_top_k(tokens, s.drop_rate);
      s.first_frame_blocks = wan_first_frame_blocks(tokens);
    }
    auto tea = [&](int call) {
      return (call < tc.ret_steps || call >= cutoff || stage_start) ? StepCompute::Computed
                                                                    : StepCompute::ModelDependent;
    };
    s.compute = tea(2 * idx);
    s.compute_uncond = tea(2 * idx + 1);
    stage_start = false;
    if (static_cast<size_t>(stage) < switches.size() && idx == switches[stage]) {
      ++stage;
      if (pr.res_rates[stage] != pr.res_rates[stage - 1]) {
        StageSwitch sw;
        sw.next_stage = stage;
        sw.resolution_changes = true;
        sw.x0_sigma = sch.sigmas[si];
        sw.renoise_sigma = sch.sigmas[index_for_timestep(sch.timesteps, sch.timesteps[idx + 1])];
        sw.new_shift = shift + 2;
        sw.note = "x0 and re-noise use the old schedule; later steps read the new one";
        s.sigma_next = sw.renoise_sigma;
        s.stage_switch = sw;
        shift += 2;
        // set_timesteps(shift=...) without sigmas: linspace(sigma_max 0.999, 0) for either
        // solver, so a dpm++ run continues on the UniPC-style table (as the official one does).
        sch = wan_unipc_schedule(steps, shift);
        stage_start = true;
      }
    }
    plan.step.push_back(std::move(s));
  }
  return plan;
}

Plan build_hunyuan_plan(const Preset& pr, int steps) {
  const size_t stages = pr.res_rates.size();
  JENGA_ASSERT(stages >= 1 && pr.step_rates.size() == stages && pr.shifts.size() == stages &&
               pr.sa_drop_rates.size() >= stages);
  std::vector<int> split;
  for (double q : pr.step_rates) split.push_back(static_cast<int>(steps * q));
  const int64_t frames = 1 + (pr.frames - 1) / 4;
  auto grid = [&](size_t st) {
    const double r = pr.res_rates[st];
    return std::array<int64_t, 3>{frames, static_cast<int64_t>(pr.height * r) / 16,
                                  static_cast<int64_t>(pr.width * r) / 16};
  };
  const auto full = grid(stages - 1);
  // The stage's grid changes only at a resolution switch (the previous rate not 1.0): after a
  // 1.0 stage the official loop keeps the latents (and curve) of the size it has.
  auto cur = grid(0);

  Plan plan;
  plan.preset = &pr;
  plan.steps = steps;
  double shift = pr.flow_shift;
  HunyuanSchedule sch = hunyuan_flow_schedule(steps, shift);
  size_t stage = 0;
  const auto g0 = grid(0);
  double amp = text_amp_log2(g0[1], g0[2], full[1], full[2], pr.scale_txt_amp);
  double drop = pr.sa_drop_rates[0];
  bool start_stage = true;
  for (int i = 0; i < steps; ++i) {
    StepPlan s;
    s.step = i;
    s.stage = static_cast<int>(stage);
    s.tokens = cur;
    s.latent = {s.tokens[0], s.tokens[1] * 2, s.tokens[2] * 2};
    s.timestep = sch.timesteps[i];
    s.sigma = sch.sigmas[i];
    s.sigma_index = i;
    s.sigma_next = sch.sigmas[i + 1];
    s.shift = shift;
    s.drop_rate = drop;
    s.dense = drop == 0.0;
    if (!s.dense) s.top_k = hunyuan_top_k(s.tokens[0] * s.tokens[1] * s.tokens[2], drop, pr.world_size);
    s.text_amp = amp;
    const bool listed = std::find(pr.computed_steps.begin(), pr.computed_steps.end(), i % steps) != pr.computed_steps.end();
    s.compute = (listed || start_stage) ? StepCompute::Computed : StepCompute::Reused;
    if (s.compute == StepCompute::Computed) start_stage = false;
    s.compute_uncond = s.compute;  // one forward per step (embedded CFG)
    if (std::find(split.begin(), split.end(), i) != split.end() && stage + 1 < stages) {
      ++stage;
      StageSwitch sw;
      sw.next_stage = static_cast<int>(stage);
      sw.resolution_changes = pr.res_rates[stage - 1] != 1.0;
      if (sw.resolution_changes) {
        if (i + 1 >= steps)
          usage_fail("--steps {}: the stage switch after step {} needs a following step", steps, i);
        shift = pr.shifts[stage];
        sch = hunyuan_flow_schedule(steps, shift);
        sw.new_shift = shift;
        sw.x0_sigma = sch.sigmas[i];  // the new schedule's sigma, though v was predicted at the old t
        sw.renoise_sigma = sch.sigmas[i + 1];
        sw.note = "shift switched before x0 prediction";
        s.sigma_next = sw.renoise_sigma;
        amp = 0.0;
        start_stage = true;
        cur = grid(stage);
      } else {
        sw.new_shift = shift;
        sw.upsample = "none";
        sw.note = "same resolution: plain Euler step, only the drop rate changes";
      }
      drop = pr.sa_drop_rates[stage];
      s.stage_switch = sw;
    }
    plan.step.push_back(std::move(s));
  }
  return plan;
}

}  // namespace

Plan build_plan(const Preset& preset, int steps, WanSolverTable table) {
  if (steps <= 0) steps = preset.steps;
  if (steps > 100000) usage_fail("--steps {}: too many", steps);
  return preset.family == ModelFamily::Wan ? build_wan_plan(preset, steps, table) : build_hunyuan_plan(preset, steps);
}

std::string plan_to_json(const Plan& plan, int indent) {
  using nlohmann::ordered_json;
  const Preset& p = *plan.preset;
  ordered_json j;
  j["model"] = std::string(family_name(p.family));
  j["preset"] = p.name;
  j["script"] = p.script;
  j["checkpoint"] = p.model;
  j["size"] = {p.width, p.height};
  j["frames"] = p.frames;
  j["steps"] = plan.steps;
  j["p_remain"] = p.p_remain;
  j["sa_drop_rates"] = p.sa_drop_rates;
  j["res_rates"] = p.res_rates;
  if (p.family == ModelFamily::Hunyuan) {
    j["step_rates"] = p.step_rates;
    j["scheduler_shifts"] = p.shifts;
    j["text_blocks"] = p.text_blocks;
    j["world_size"] = p.world_size;
    j["computed_steps"] = p.computed_steps;
  } else {
    const auto tc = wan_teacache_coefficients(p.model, p.use_ret_steps);
    j["teacache"] = {{"thresh", p.teacache_thresh},
                     {"use_ret_steps", p.use_ret_steps},
                     {"coefficients", tc.coefficients},
                     {"ret_steps", tc.ret_steps},
                     {"cutoff_steps", 2 * plan.steps - tc.cutoff_from_end}};
  }
  ordered_json arr = ordered_json::array();
  for (const auto& s : plan.step) {
    ordered_json e;
    e["step"] = s.step;
    e["stage"] = s.stage;
    e["tokens"] = s.tokens;
    e["latent"] = s.latent;
    e["resolution"] = {s.latent[1] * 8, s.latent[2] * 8};  // pixels (H, W) the stage decodes to
    e["timestep"] = s.timestep;
    e["sigma"] = s.sigma;
    e["sigma_next"] = s.sigma_next;
    e["shift"] = s.shift;
    e["drop_rate"] = s.drop_rate;
    e["attention"] = s.dense ? "dense" : "sparse";
    if (!s.dense) e["top_k"] = s.top_k;
    if (p.family == ModelFamily::Wan) {
      if (!s.dense) e["first_frame_blocks"] = s.first_frame_blocks;
      e["cond"] = std::string(step_compute_name(s.compute));
      e["uncond"] = std::string(step_compute_name(s.compute_uncond));
      // Reuse is TeaCache's run-time decision unless the step is forced to compute.
      if (s.compute == StepCompute::Computed && s.compute_uncond == StepCompute::Computed)
        e["reused"] = false;
      else
        e["reused"] = "model-dependent";
    } else {
      e["text_amp"] = s.text_amp;
      e["compute"] = std::string(step_compute_name(s.compute));
      e["reused"] = s.compute == StepCompute::Reused;
    }
    if (!s.solver_note.empty()) e["solver"] = s.solver_note;
    if (s.stage_switch) {
      const auto& w = *s.stage_switch;
      e["stage_switch"] = {{"next_stage", w.next_stage},   {"resolution_changes", w.resolution_changes},
                           {"new_shift", w.new_shift},     {"x0_sigma", w.x0_sigma},
                           {"renoise_sigma", w.renoise_sigma}, {"upsample", w.upsample},
                           {"note", w.note}};
    }
    arr.push_back(std::move(e));
  }
  j["plan"] = std::move(arr);
  if (p.family == ModelFamily::Hunyuan) {
    // DiT forwards that run the blocks, per stage (the rest reuse the cached residual).
    std::vector<int> per_stage;
    for (const auto& s : plan.step) {
      if (static_cast<size_t>(s.stage) >= per_stage.size()) per_stage.resize(static_cast<size_t>(s.stage) + 1, 0);
      per_stage[static_cast<size_t>(s.stage)] += s.compute == StepCompute::Computed;
    }
    int total = 0;
    for (int n : per_stage) total += n;
    j["computed_forwards_per_stage"] = per_stage;
    j["computed_forwards"] = total;
  }
  return j.dump(indent);
}

TeaCache::TeaCache(std::vector<double> coefficients, double threshold, int ret_steps, int cutoff_steps)
    : coef_(std::move(coefficients)), thresh_(threshold), ret_steps_(ret_steps), cutoff_(cutoff_steps) {}

double TeaCache::rescale(const std::vector<double>& c, double x) {
  double y = 0.0;
  for (double v : c) y = y * x + v;
  return y;
}

bool TeaCache::should_compute(int call, double rel_l1, bool stage_start) {
  if (call < ret_steps_ || call >= cutoff_ || stage_start) {
    acc_ = 0;
    return true;
  }
  acc_ += rescale(coef_, rel_l1);
  if (acc_ < thresh_) return false;
  acc_ = 0;
  return true;
}

}  // namespace jenga
