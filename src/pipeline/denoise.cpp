#include "pipeline/denoise.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"
#include "core/interrupt.h"
#include "jenga/carve_mask.h"
#include "jenga/schedule.h"
#include "jenga/svg/svg_plan.h"
#include "pipeline/step_cost.h"
#include "backend/denoise_backend.h"
#include "sampling/flow_dpmpp.h"
#include "sampling/flow_euler.h"
#include "sampling/flow_unipc.h"

namespace jenga {

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// A plain run (no Jenga): every step dense and computed, raster order, one stage; the model's
// table (FlowMatch: HunyuanVideo's linspace(1, 0) with flow-reverse, t = 1000 sigma as f32) or
// the Wan solver's own (dpm++ starts at sigma 1, UniPC at 0.999).
Plan dense_plan(int steps, double shift, const std::array<int64_t, 3>& latent, const std::array<int64_t, 3>& patch,
               bool dpmpp, SigmaTable table) {
  WanSchedule sch;
  std::vector<double> ts;
  if (table == SigmaTable::FlowMatch) {
    const HunyuanSchedule h = hunyuan_flow_schedule(steps, shift);
    sch.sigmas = h.sigmas;
    for (float t : h.timesteps) ts.push_back(static_cast<double>(t));
  } else if (dpmpp) {
    const FlowDpmSchedule d = wan_dpmpp_schedule(steps, shift);
    sch.sigmas = d.sigmas, sch.timesteps = d.timesteps;
  } else {
    sch = wan_unipc_schedule(steps, shift);
  }
  Plan p;
  p.steps = steps;
  for (int i = 0; i < steps; ++i) {
    StepPlan s;
    s.step = i;
    s.latent = latent;
    s.tokens = {latent[0] / patch[0], latent[1] / patch[1], latent[2] / patch[2]};
    s.timestep = ts.empty() ? static_cast<double>(sch.timesteps[i]) : ts[i];
    s.sigma = sch.sigmas[i];
    s.sigma_index = i;
    s.sigma_next = sch.sigmas[i + 1];
    s.shift = shift;
    p.step.push_back(s);
  }
  return p;
}

// TeaCache decisions of the whole run, decided up front: the indicator (e or e0) depends only
// on the timestep, so no step has to read the GPU. [2 * steps], 1 = compute the blocks.
std::vector<uint8_t> teacache_decisions(const Plan& plan, const Preset& pr, DenoiseBackend& be, int branches) {
  const auto tc = wan_teacache_coefficients(pr.model, pr.use_ret_steps);
  const int n = plan.steps;
  std::vector<uint8_t> out(static_cast<size_t>(2 * n), 1);
  if (pr.teacache_thresh <= 0) return out;
  std::vector<std::vector<float>> m(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) m[i] = be.time_embedding(plan.step[i].timestep, pr.use_ret_steps);
  for (int branch = 0; branch < branches; ++branch) {
    TeaCache cache(tc.coefficients, pr.teacache_thresh, tc.ret_steps, 2 * n - tc.cutoff_from_end);
    for (int i = 0; i < n; ++i) {
      double rel = 0;
      if (i > 0) {
        double num = 0, den = 0;
        for (size_t k = 0; k < m[i].size(); ++k) num += std::fabs(m[i][k] - m[i - 1][k]), den += std::fabs(m[i - 1][k]);
        rel = den > 0 ? num / den : 0;
      }
      const bool forced = (branch == 0 ? plan.step[i].compute : plan.step[i].compute_uncond) == StepCompute::Computed;
      out[2 * i + branch] = cache.should_compute(2 * i + branch, rel, forced) ? 1 : 0;
    }
  }
  return out;
}

StageGeometry geometry(const std::array<int64_t, 3>& latent, bool jenga, const Geometry& model) {
  StageGeometry g;
  g.latent = latent;
  if (jenga) {
    // The model's curve over the token grid and its neighbours (jenga_wan.py: sliced Gilbert
    // curve, one 2D curve per latent frame).
    const auto& p = model.patch;
    const CurveSpec spec{latent[0] / p[0], latent[1] / p[1], latent[2] / p[2], model.curve == CurveKind::FrameSliced,
                         std::nullopt};
    g.curve = cached_curve(spec);
    g.neighbors = cached_block_neighbors(spec);
  }
  return g;
}

// Sparse VideoGen for the run (one stage, raster frame-major order); the rows are drawn once.
// A DiT whose text rows join self-attention (HunyuanVideo: condition blocks) takes the official
// HunyuanVideo rules over its text_len rows, with each branch's valid rows.
SvgStage svg_stage(const DenoiseRequest& req, const DenoiserInfo& info, const std::array<int64_t, 3>& latent,
                   bool cfg_on, int64_t dense_layers) {
  const Geometry& geo = info.geometry;
  SvgStage st;
  st.grid.frames = latent[0] / geo.patch[0];
  st.grid.frame_tokens = (latent[1] / geo.patch[1]) * (latent[2] / geo.patch[2]);
  if (geo.condition_blocks > 0) {
    const Conditioning* cs[2] = {&req.context, &req.context_null};
    for (int b = 0; b < (cfg_on ? 2 : 1); ++b) {
      const int64_t rows = cs[b]->tokens.ndim() == 2 ? cs[b]->tokens.dim(0) : 0;
      if (rows != info.text_len)
        usage_fail("--attention svg on {}: the {} text states have {} rows; SVG takes the DiT's {} text rows (the "
                   "official context length), valid rows first", geo.name, b ? "negative" : "prompt", rows, info.text_len);
      st.text_valid[static_cast<size_t>(b)] = cs[b]->valid_rows();
    }
    if (!cfg_on) st.text_valid[1] = st.text_valid[0];
    st.grid.rules = svg::SvgRules::hunyuan;
    st.grid.text = info.text_len;
    st.grid.text_valid = st.text_valid[0];
  }
  st.grid.validate();
  st.params = req.svg.params();
  st.rows = svg::sample_rows(st.params, st.grid.sequence(), req.svg.seed);
  st.dense_layers = dense_layers;
  return st;
}

void check_latent(const Tensor& t, const char* name, int64_t z, const std::array<int64_t, 3>& want) {
  if (t.dtype() != DType::F32 || t.ndim() != 4 || t.dim(0) != z || t.dim(1) != want[0] || t.dim(2) != want[1] ||
      t.dim(3) != want[2])
    fail("denoise: {} is {} {}, expected f32 [{}, {}, {}, {}]", name, dtype_name(t.dtype()), t.shape().str(), z,
         want[0], want[1], want[2]);
}

}  // namespace

std::vector<std::array<int64_t, 3>> stage_latents(const std::optional<Preset>& jenga, int64_t t, int64_t h,
                                                   int64_t w) {
  std::vector<std::array<int64_t, 3>> out;
  const std::vector<double> rates = jenga ? jenga->res_rates : std::vector<double>{1.0};
  const bool hunyuan = jenga && jenga->family == ModelFamily::Hunyuan;
  for (size_t k = 0; k < rates.size(); ++k) {
    // pipeline_hunyuan_video_prores.py resizes (and re-noises) at a switch only when the stage
    // before it ran at a rate other than 1.0, even to the same size (0.75 0.75 1.0: twice);
    // after a 1.0 stage the latents keep their size. Wan: a new size only when the rate changes.
    if (k > 0 && (hunyuan ? rates[k - 1] == 1.0 : rates[k] == rates[k - 1])) continue;
    const double r = rates[k];
    if (hunyuan) {  // pipeline_hunyuan_video_prores.py: (int(H_px * r) // 16) * 2 latent rows
      out.push_back({t, static_cast<int64_t>(static_cast<double>(h * 8) * r) / 16 * 2,
                     static_cast<int64_t>(static_cast<double>(w * 8) * r) / 16 * 2});
      continue;
    }
    // jenga_wan.py: int(size * res_rate) // 2 * 2 per latent side.
    out.push_back({t, static_cast<int64_t>(static_cast<double>(h) * r) / 2 * 2,
                   static_cast<int64_t>(static_cast<double>(w) * r) / 2 * 2});
  }
  return out;
}

void check_shift_and_cfg(std::optional<double> shift, std::optional<double> cfg_scale) {
  if (shift && !(*shift >= 0.01 && *shift <= 100))
    usage_fail("--shift {}: must be between 0.01 and 100 (official: 5-17)", *shift);
  if (cfg_scale && !(*cfg_scale >= 0 && *cfg_scale <= 100))
    usage_fail("--cfg-scale {}: must be between 0 and 100", *cfg_scale);
}

void check_jenga_token_grid(const std::optional<Preset>& jenga, const Geometry& geo, int width, int height, int frames) {
  if (!jenga || geo.condition_blocks <= 0) return;
  const int64_t lt0 = (frames - 1) / geo.vae_time + 1;
  std::vector<std::array<int64_t, 3>> sparse_latents;
  if (jenga->family == ModelFamily::Hunyuan && jenga->world_size == 1) {
    // The official single-GPU DiT takes its dense flash branch at drop rate 0 (any token count):
    // only the stages that run the block-sparse kernel need whole blocks. The multi-GPU
    // scripts' path is block-sparse at every drop rate.
    Preset sized = *jenga;
    sized.width = width, sized.height = height, sized.frames = frames;
    for (const auto& s : build_plan(sized, sized.steps).step)
      if (!s.dense && std::find(sparse_latents.begin(), sparse_latents.end(), s.latent) == sparse_latents.end())
        sparse_latents.push_back(s.latent);
  } else {
    sparse_latents = stage_latents(jenga, lt0, height / geo.vae_space, width / geo.vae_space);
  }
  for (const auto& l : sparse_latents) {
    const int64_t tokens = (l[0] / geo.patch[0]) * (l[1] / geo.patch[1]) * (l[2] / geo.patch[2]);
    if (tokens % 128 != 0 || tokens == 0)
      usage_fail("--preset {} at {}x{}, {} frames: a stage of {}x{}x{} latents has {} image tokens, not a multiple of "
                 "128, which Jenga's block-sparse attention needs (the official kernel pads nothing); use 125 frames "
                 "(32 latent frames) at a size whose token grid h*w is a multiple of 4 at every resolution rate, e.g. "
                 "1280x720x125 (official) or 512x288x125, or --preset dense",
                 jenga->name, width, height, frames, l[0], l[1], l[2], tokens);
  }
}

void blend_toward_first_frame(Tensor& noise, const Tensor& frame0, double t) {
  if (noise.dtype() != DType::F32 || noise.ndim() != 4 || frame0.dtype() != DType::F32 || frame0.ndim() != 4 ||
      frame0.dim(0) != noise.dim(0) || frame0.dim(1) != 1 || frame0.dim(2) != noise.dim(2) || frame0.dim(3) != noise.dim(3))
    fail("image blend: noise {} and first frame {} do not fit", noise.shape().str(), frame0.shape().str());
  const float a = static_cast<float>(t), b = 1.0f - a;
  const int64_t C = noise.dim(0), T = noise.dim(1), HW = noise.dim(2) * noise.dim(3);
  float* x = noise.data_as<float>();
  const float* im = frame0.data_as<float>();
  for (int64_t c = 0; c < C; ++c)
    for (int64_t f = 0; f < T; ++f)
      for (int64_t i = 0; i < HW; ++i) x[(c * T + f) * HW + i] = x[(c * T + f) * HW + i] * a + im[c * HW + i] * b;
}

Tensor resize_trilinear(const Tensor& x, int64_t t, int64_t h, int64_t w) {
  if (x.ndim() != 4 || x.dtype() != DType::F32) fail("resize_trilinear: expects f32 [C, T, H, W]");
  const int64_t C = x.dim(0), T0 = x.dim(1), H0 = x.dim(2), W0 = x.dim(3);
  // torch area_pixel_compute_source_index with align_corners=False and an output size.
  struct Tap {
    int64_t i0, i1;
    float l1;
  };
  auto taps = [](int64_t in, int64_t out) {
    std::vector<Tap> v(static_cast<size_t>(out));
    const float scale = static_cast<float>(in) / static_cast<float>(out);
    for (int64_t o = 0; o < out; ++o) {
      float src = scale * (static_cast<float>(o) + 0.5f) - 0.5f;
      if (src < 0) src = 0;
      const int64_t i0 = static_cast<int64_t>(src);
      const int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
      v[o] = {i0, i1, src - static_cast<float>(i0)};
    }
    return v;
  };
  const auto tt = taps(T0, t), th = taps(H0, h), tw = taps(W0, w);
  Tensor out = Tensor::empty(DType::F32, Shape{C, t, h, w});
  const float* s = x.data_as<float>();
  float* d = out.data_as<float>();
  for (int64_t c = 0; c < C; ++c)
    for (int64_t a = 0; a < t; ++a)
      for (int64_t b = 0; b < h; ++b)
        for (int64_t e = 0; e < w; ++e) {
          auto at = [&](int64_t i, int64_t j, int64_t k) { return s[((c * T0 + i) * H0 + j) * W0 + k]; };
          const Tap &A = tt[a], &B = th[b], &E = tw[e];
          auto lerp_w = [&](int64_t i, int64_t j) { return (1 - E.l1) * at(i, j, E.i0) + E.l1 * at(i, j, E.i1); };
          auto lerp_h = [&](int64_t i) { return (1 - B.l1) * lerp_w(i, B.i0) + B.l1 * lerp_w(i, B.i1); };
          d[((c * t + a) * h + b) * w + e] = (1 - A.l1) * lerp_h(A.i0) + A.l1 * lerp_h(A.i1);
        }
  return out;
}

DenoiseResult denoise(const DenoiseRequest& req, Progress& progress) {
  if (!req.denoiser) fail("denoise: no model");
  Denoiser& model = *req.denoiser;
  const DenoiserInfo& info = model.info();
  const Geometry& geo = info.geometry;
  const int64_t z = geo.latent_channels;
  const bool embedded = geo.guidance == GuidanceKind::Embedded;
  const bool cfg_on = !cfg_gated_by_scale(geo.guidance) || req.true_cfg;  // two branches
  const bool jenga = req.jenga.has_value();
  if (req.solver != "unipc" && req.solver != "euler" && req.solver != "dpm++")
    usage_fail("--solver {}: use unipc, dpm++ or euler", req.solver);
  if (geo.sigmas == SigmaTable::FlowMatch && req.solver != "euler")
    usage_fail("--solver {}: {} samples with flow-matching Euler (its official and only solver); use --solver euler",
               req.solver, geo.name);
  const bool dpmpp = req.solver == "dpm++";
  if (req.noise.ndim() != 4) fail("denoise: noise must be [z, T, H, W]");

  // The full latent size: the last re-noise's when the preset starts smaller.
  const Tensor& full = req.renoise.empty() ? req.noise : req.renoise.back();
  if (full.ndim() != 4) fail("denoise: noise must be [z, T, H, W]");
  const std::array<int64_t, 3> latent{full.dim(1), full.dim(2), full.dim(3)};
  if (latent[0] % geo.patch[0] || latent[1] % geo.patch[1] || latent[2] % geo.patch[2])
    fail("denoise: latent {}x{} is not a multiple of the patch size", latent[1], latent[2]);
  const auto sizes = stage_latents(req.jenga, latent[0], latent[1], latent[2]);
  if (req.renoise.size() + 1 != sizes.size())
    usage_fail("denoise: preset {} changes resolution {} times and needs that many re-noise tensors (got {})",
               req.jenga ? req.jenga->name : "dense", sizes.size() - 1, req.renoise.size());
  check_latent(req.noise, "noise", z, sizes[0]);
  for (size_t k = 0; k < req.renoise.size(); ++k)
    check_latent(req.renoise[k], k + 1 == req.renoise.size() ? "full-size re-noise" : "re-noise", z, sizes[k + 1]);

  const bool first_frame = req.first_frame.ndim() > 0;  // a default Tensor is 0-d (numel 1)
  if (first_frame) {
    if (geo.image_condition != ImageCondition::FirstFrame)
      usage_fail("--image: {} takes no reference image", geo.name);
    check_latent(req.first_frame, "the image latent", z, {1, latent[1], latent[2]});
    if (sizes.size() > 1)
      usage_fail("--preset {}: changes resolution, which image-to-video does not run yet (the image would be "
                 "re-encoded per stage); use --preset base or dense", req.jenga ? req.jenga->name : "dense");
  }

  Plan plan;
  Preset sized;
  if (jenga) {
    sized = *req.jenga;
    sized.width = static_cast<int>(latent[2] * geo.vae_space);
    sized.height = static_cast<int>(latent[1] * geo.vae_space);
    sized.frames = static_cast<int>((latent[0] - 1) * geo.vae_time + 1);
    sized.flow_shift = req.shift;
    plan = build_plan(sized, req.steps, dpmpp ? WanSolverTable::DPMpp : WanSolverTable::UniPC);
    if (plan.step[0].latent != sizes[0])
      fail("denoise: the plan's first stage {}x{} differs from the noise", plan.step[0].latent[1], plan.step[0].latent[2]);
  } else {
    if (req.steps < 1 || req.steps > 1000) usage_fail("--steps {}: must be between 1 and 1000", req.steps);
    plan = dense_plan(req.steps, req.shift, latent, geo.patch, dpmpp, geo.sigmas);
  }
  const int N = plan.steps;
  const AttentionMode mode = req.attention.value_or(jenga ? AttentionMode::jenga : AttentionMode::dense);
  if (mode == AttentionMode::jenga && !jenga) usage_fail("--attention jenga needs a Jenga --preset");
  if (mode == AttentionMode::svg && jenga) usage_fail("--attention svg runs the dense schedule; use --preset dense");
  const bool svg_on = mode == AttentionMode::svg;
  if (svg_on && first_frame && geo.condition_blocks > 0)
    svg_image_to_video_unsupported();
  svg::SvgWarmup warmup;
  if (svg_on) warmup = svg::SvgWarmup::from_fractions(req.svg.first_times_fp, req.svg.first_layers_fp, N, info.layers);

  auto backend = model.make_loop_backend(req.comm);
  backend->set_contexts(req.context, req.context_null);
  std::vector<double> ts;
  for (const auto& s : plan.step) ts.push_back(s.timestep);
  backend->set_timesteps(ts);

  DenoiseResult res;
  const int branches = cfg_on ? 2 : 1;
  // Step reuse: TeaCache (Wan) decided up front, or the preset's fixed list of computed steps
  // (HunyuanVideo), which the plan already applied (forced steps after a switch included).
  const bool fixed_list = jenga && !sized.computed_steps.empty();
  if (fixed_list) {
    res.computed_calls.assign(static_cast<size_t>(2 * N), 0);
    for (int i = 0; i < N; ++i)
      res.computed_calls[2 * i] = res.computed_calls[2 * i + 1] = plan.step[i].compute == StepCompute::Computed;
  } else {
    res.computed_calls = jenga ? teacache_decisions(plan, sized, *backend, branches) : std::vector<uint8_t>(2 * N, 1);
  }
  if (!cfg_on)
    for (int i = 0; i < N; ++i) res.computed_calls[2 * i + 1] = 0;  // no uncond branch
  const bool reuse_on = jenga && (sized.teacache_thresh > 0 || fixed_list);

  // Solver state (host: coefficients only).
  WanSchedule sch = wan_unipc_schedule(N, jenga ? plan.step[0].shift : req.shift);
  FlowUniPC unipc(sch.sigmas, 0);
  std::optional<FlowDPMpp> dpm;
  if (dpmpp) dpm.emplace(wan_dpmpp_schedule(N, jenga ? plan.step[0].shift : req.shift).sigmas, 0);
  // The official scheduler starts at index_for_timestep(t_0), the plan's first sigma: 1, not 0,
  // when the first two integer timesteps repeat (Wan UniPC from 144 steps at shift 8).
  if (const int first = plan.step[0].sigma_index; first != 0 && req.solver != "euler") {
    if (dpm) dpm->reset(wan_dpmpp_schedule(N, jenga ? plan.step[0].shift : req.shift).sigmas, first);
    else unipc.reset(sch.sigmas, first);
  }

  backend->set_stage(geometry(plan.step[0].latent, jenga, geo), reuse_on);
  backend->set_latents(std::vector<float>(req.noise.data_as<float>(), req.noise.data_as<float>() + req.noise.numel()));
  if (first_frame)
    backend->set_first_frame(
        std::vector<float>(req.first_frame.data_as<float>(), req.first_frame.data_as<float>() + req.first_frame.numel()));
  if (svg_on) backend->set_svg(svg_stage(req, info, latent, cfg_on, warmup.dense_layers));

  const double t0 = now_s();
  double stage_t0 = t0;
  size_t switches = 0;
  nlohmann::json stages = nlohmann::json::array();
  double density_sum = 0;
  int sparse_steps = 0;
  progress.begin("denoise", N,
                 expected_step_costs({.plan = &plan, .computed_calls = &res.computed_calls, .branches = branches,
                                      .sparse = mode == AttentionMode::jenga, .hidden = info.hidden}));
  for (int i = 0; i < N; ++i) {
    check_interrupt();  // between steps: the GPU queue drains when the backend goes away
    const StepPlan& sp = plan.step[i];
    StepRun run;
    run.step = i;
    run.timestep = sp.timestep;
    run.guide = static_cast<float>(cfg_on ? req.guide_scale : req.embedded_guidance);
    run.embedded_guidance = embedded ? static_cast<float>(req.embedded_guidance) : 0.0f;
    run.two_branch = cfg_on;
    run.text_amp = sp.text_amp;
    run.sparse = mode == AttentionMode::jenga && !sp.dense;
    run.svg = svg_on && i >= warmup.dense_steps;  // the first dense_layers layers: the backend
    run.top_k = sp.top_k, run.first_frame_blocks = sp.first_frame_blocks;
    run.p_remain = jenga ? sized.p_remain : 0.0;
    run.cache = reuse_on;
    run.reuse[0] = !res.computed_calls[2 * i];
    run.reuse[1] = cfg_on && !res.computed_calls[2 * i + 1];
    res.forwards += branches;
    res.forwards_reused += run.reuse[0] + (cfg_on && run.reuse[1]);
    if (run.sparse) density_sum += 1.0 - sp.drop_rate, ++sparse_steps;

    if (sp.stage_switch && sp.stage_switch->resolution_changes) {
      // ProRes: x0 from this step's velocity, trilinear upsample, re-noise at the next sigma.
      const auto& sw = *sp.stage_switch;
      const auto v = backend->velocity(run);
      auto x = backend->latents();
      if (backend->nan_step() >= 0) break;
      Tensor x0 = Tensor::empty(DType::F32, Shape{z, sp.latent[0], sp.latent[1], sp.latent[2]});
      FlowUniPC::predict_x0(v.data(), x.data(), static_cast<float>(sw.x0_sigma), x0.data_as<float>(), x.size());
      const auto& next = plan.step[i + 1].latent;
      const Tensor up = resize_trilinear(x0, next[0], next[1], next[2]);
      const float s = static_cast<float>(sw.renoise_sigma);
      std::vector<float> xn(static_cast<size_t>(up.numel()));
      const float* u = up.data_as<float>();
      const Tensor& noise = req.renoise.at(switches++);
      if (noise.numel() != up.numel()) fail("denoise: re-noise of {} values for a stage of {}", noise.numel(), up.numel());
      const float* e = noise.data_as<float>();
      for (size_t k = 0; k < xn.size(); ++k) xn[k] = (1.0f - s) * u[k] + s * e[k];
      stages.push_back({{"stage", sp.stage}, {"latent", sp.latent}, {"steps_end", i + 1}, {"seconds", now_s() - stage_t0}});
      stage_t0 = now_s();
      backend->set_stage(geometry(next, true, geo), reuse_on);
      backend->set_latents(xn);
      if (dpm) {
        // set_timesteps(shift + 2) without sigmas: the 0.999 table, as for UniPC.
        dpm->reset(wan_unipc_schedule(N, sw.new_shift).sigmas, plan.step[i + 1].sigma_index);
      } else {
        sch = wan_unipc_schedule(N, sw.new_shift);
        unipc.reset(sch.sigmas, plan.step[i + 1].sigma_index);
        unipc.force_first_order_once();
      }
    } else {
      SolverUpdate u;
      if (req.solver == "euler") {
        u = flow_euler_update(sp.sigma, sp.sigma_next);
      } else if (dpm) {
        if (dpm->step_index() != sp.sigma_index)
          fail("denoise: solver at sigma {} but the plan expects {} (step {})", dpm->step_index(), sp.sigma_index, i);
        u = dpm->next_update();
      } else {
        if (unipc.step_index() != sp.sigma_index)
          fail("denoise: solver at sigma {} but the plan expects {} (step {})", unipc.step_index(), sp.sigma_index, i);
        u = unipc.next_update();
      }
      backend->step(run, u);
      backend->wait(true);  // the previous step: keeps one step queued on the device
    }
    progress.update(i + 1);
    if (std::find(req.save_steps.begin(), req.save_steps.end(), i) != req.save_steps.end()) {
      const auto x = backend->latents();
      res.saved.emplace_back(i, Tensor::from_f32(x, Shape{z, plan.step[std::min(i + 1, N - 1)].latent[0],
                                                          plan.step[std::min(i + 1, N - 1)].latent[1],
                                                          plan.step[std::min(i + 1, N - 1)].latent[2]}));
    }
  }
  backend->wait(false);
  progress.end();
  const int bad = backend->nan_step();
  if (bad >= 0)
    fail("the latents became NaN/inf at step {}; the weights may be corrupt (try --device cpu to compare)", bad + 1);
  const double t_end = now_s();
  const auto& last = plan.step.back();
  stages.push_back({{"stage", last.stage}, {"latent", last.latent}, {"steps_end", N}, {"seconds", t_end - stage_t0}});
  const auto x = backend->latents();
  res.latents = Tensor::from_f32(x, Shape{z, latent[0], latent[1], latent[2]});
  res.report = {{"seconds", t_end - t0},
                {"stages", stages},
                {"forwards", res.forwards},
                {"forwards_reused", res.forwards_reused},
                {"sparse_steps", sparse_steps},
                {"mean_drop_floor", sparse_steps ? 1.0 - density_sum / sparse_steps : 0.0},
                {"sparse_block_density", backend->sparse_density()},
                {"attention", attention_mode_name(mode)}};
  if (svg_on) {
    res.report["svg"] = {{"dense_steps", warmup.dense_steps},   {"dense_layers", warmup.dense_layers},
                         {"sparsity", req.svg.sparsity},        {"num_sampled_rows", req.svg.num_sampled_rows},
                         {"sample_mse_max_row", req.svg.sample_mse_max_row}, {"rows_seed", req.svg.seed},
                         {"temporal_head_fraction", backend->svg_temporal_fraction()}};
  }
  if (const DitMemory m = backend->dit_memory(); m.on_gpu) {
    res.report["peak_gpu_alloc_gib"] = backend->peak_memory_gib();
    res.report["dit_weights_gpu_gib"] = m.gpu_weights_gib;
    if (m.offload)
      res.report["offload"] = {{"ring_blocks", m.ring}, {"streamed_block_mib", m.streamed_block_mib},
                               {"host_pinned_gib", m.host_pinned_gib}};
  }
  return res;
}

}  // namespace jenga
