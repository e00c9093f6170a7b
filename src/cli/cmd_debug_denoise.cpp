// `jenga debug denoise`: the whole Wan denoising loop (dense, a Jenga preset or SVG) from given
// noise and text contexts, so it can be compared step for step with the official loop
// (tools/golden/jenga_wan_pipeline.py; contract in docs/debug-denoise.md). A HunyuanVideo DiT
// goes to cmd_debug_denoise_hunyuan.cpp.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "cli/debug_denoise.h"
#include "cli/debug_model.h"
#include "core/error.h"
#include "io/safetensors.h"
#include "models/wan/wan_dit.h"
#include "models/wan/wan_model.h"
#include "models/wan/wan_presets.h"
#include "pipeline/denoise.h"
#if JENGA_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#endif

namespace jenga::cli {

void add_jenga_flags(CLI::App& c, JengaOverrides& o) {
  c.add_option("--sa-drop-rates", o.sa_drop_rates, "Jenga: AttenCarve drop rate per stage (Wan: before / after step 25)")
      ->expected(1, 3);
  c.add_option("--p-remain-rates", o.p_remain_rates, "Jenga: AttenCarve cumulative-probability threshold");
  c.add_option("--res-rate-list", o.res_rate_list, "Jenga ProRes: resolution rate per stage, the last 1.0 (e.g. 0.75 1.0)")
      ->expected(1, 3);
  c.add_option("--step-rate-list", o.step_rate_list,
               "HunyuanVideo ProRes: fraction of the steps at which each stage ends (e.g. 0.5 1.0)")
      ->expected(1, 3);
  c.add_option("--scheduler-shift-list", o.scheduler_shift_list, "HunyuanVideo ProRes: the flow shift of each stage from the first switch on (e.g. 7 9); as in jenga_hyvideo.py, entry 0 is not used: stage 0 runs --shift")
      ->expected(1, 3);
  c.add_option("--scale-txt-amp", o.scale_txt_amp, "HunyuanVideo: text amplifier scale of the first stage (official 1.0)");
  c.add_option("--teacache-thresh", o.teacache_thresh, "Jenga step reuse threshold (0 = compute every forward)");
}

void add_attention_flags(CLI::App& c, std::string& attention, SvgOverrides& o) {
  c.add_option("--attention", attention,
               "Self-attention: dense, jenga (AttenCarve; default with a Jenga preset) or svg (Sparse VideoGen "
               "on the dense schedule)")
      ->check(CLI::IsMember({"dense", "jenga", "svg"}));
  add_svg_flags(c, o);
}

void add_svg_flags(CLI::App& c, SvgOverrides& o) {
  c.add_option("--svg-sparsity", o.sparsity,
               "SVG: kept fraction of the attention band (official --sparsity; default 0.3 Wan, 0.25 HunyuanVideo)");
  c.add_option("--first-times-fp", o.first_times_fp,
               "SVG: fraction of the first steps run dense (default 0.2 Wan, 0.1 HunyuanVideo)");
  c.add_option("--first-layers-fp", o.first_layers_fp, "SVG: fraction of the first layers run dense (default 0.03)");
  c.add_option("--num-sampled-rows", o.num_sampled_rows, "SVG: query rows sampled to classify heads (default 64)");
  c.add_option("--sample-mse-max-row", o.sample_mse_max_row, "SVG: rows are sampled below this index (default 10000)");
}

namespace {

void run_denoise(const DenoiseOptions& o) {
  const bool cuda = o.device == "cuda";
#if JENGA_HAVE_CUDA
  if (cuda && !cuda::available()) fail("--device cuda: {}; use --device cpu", cuda::no_gpu_reason());
#else
  if (cuda) fail("--device cuda: this build has no CUDA backend; use --device cpu");
#endif
  check_jenga_overrides(o.preset, o.jenga);
  check_shift_and_cfg(o.shift, o.cfg_scale);
  const AttentionMode mode = resolve_attention(o.attention, !o.preset.empty() && o.preset != "dense", o.svg);
  // The model first: a missing, damaged or wrong --model is named as such, and the inputs are
  // read for the family it is.
  const DebugDit dit = find_debug_dit(o.model, "debug denoise");
  if (dit.hunyuan) return run_denoise_hunyuan(o, dit.path, mode);
  if (o.i2v || o.i2v_stability) usage_fail("--i2v and --i2v-stability are for a HunyuanVideo-I2V DiT; {} is Wan's", o.model);
  if (o.accvideo) usage_fail("--accvideo is for a HunyuanVideo (AccVideo) DiT; {} is Wan's", o.model);
  const auto inputs = SafetensorsFile::open(o.inputs);  // its header: a bad file fails before the weights load
  // The GPU computes with bf16 matrices: load them so (half the host memory).
  const wan::WanDit model = wan::load_wan_dit(dit.path, cuda ? DType::BF16 : DType::F32);
  const auto& c = model.config;
  const DebugInputs in(inputs, "a Wan2.1 DiT",
                       "noise, context and context_null (+ noise_full, noise_1 for presets that start smaller)");
  DenoiseRequest r;
  r.jenga = wan_preset_for(o.preset, c.size_name(), o.jenga, o.steps);
  load_noises(in, r);
  const ShapeWant text{{-1, c.text_dim}, fmt::format("[L, {}]", c.text_dim)};
  r.context = in.floats("context", text, "prompt embeddings");
  r.context_null = in.floats("context_null", text, "negative-prompt embeddings");
  auto at_most_text_len = [&](const char* name, const Conditioning& k) {
    if (k.tokens.dim(0) > c.text_len)
      fail("{}: '{}' has {} rows; this model takes at most {}", o.inputs, name, k.tokens.dim(0), c.text_len);
  };
  at_most_text_len("context", r.context);
  at_most_text_len("context_null", r.context_null);
  r.steps = o.steps;
  r.shift = o.shift.value_or(r.jenga ? r.jenga->flow_shift : 5.0);
  r.guide_scale = o.cfg_scale.value_or(r.jenga ? r.jenga->guide_scale : 5.0);
  r.solver = o.solver.empty() ? "unipc" : o.solver;
  r.save_steps = o.save_steps;
  r.attention = mode;
  r.svg = svg_settings(o.svg, static_cast<uint64_t>(o.seed));
  const bool offload = o.offload && cuda;
  Progress progress(o.quiet ? Progress::Mode::Quiet : Progress::Mode::Auto);
  if (o.offload && !cuda) progress.note("--offload: the DiT runs on the CPU here; the flag changes nothing");
#if JENGA_HAVE_CUDA
  const auto denoiser = cuda ? wan::cuda_parts().denoiser(model, offload) : wan::make_cpu_denoiser(model);
#else
  const auto denoiser = wan::make_cpu_denoiser(model);
#endif
  r.denoiser = denoiser.get();
  run_and_write(r, o, mode, offload, progress);
}

}  // namespace

void load_noises(const DebugInputs& in, DenoiseRequest& r) {
  const ShapeWant latent{{-1, -1, -1, -1}, "[C, T, H, W]"};
  r.noise = in.floats("noise", latent, "first-stage noise");
  // Re-noise per resolution change: noise_full for the (last) full-size stage, noise_1.. before it.
  const size_t changes = r.jenga ? stage_latents(r.jenga, 1, 16, 16).size() - 1 : 0;
  for (size_t k = 1; k <= changes; ++k)
    r.renoise.push_back(k == changes ? in.floats("noise_full", latent, "full-size re-noise")
                                     : in.floats("noise_" + std::to_string(k), latent, "re-noise of a middle stage"));
}

void run_and_write(DenoiseRequest& r, const DenoiseOptions& o, AttentionMode mode, bool offload, Progress& progress) {
  const DenoiseResult res = denoise(r, progress);

  SafetensorsWriter w;
  w.add("latents", res.latents);
  for (const auto& [i, t] : res.saved) w.add("step_" + std::to_string(i), t);
  Tensor calls = Tensor::empty(DType::I32, Shape{static_cast<int64_t>(res.computed_calls.size())});
  std::copy(res.computed_calls.begin(), res.computed_calls.end(), calls.data_as<int32_t>());
  w.add("teacache_computed", calls);
  w.set_metadata("jenga", fmt::format("debug denoise preset={} attention={} steps={} shift={} cfg={} solver={} device={} offload={}",
                                      r.jenga ? r.jenga->name : "dense", attention_mode_name(mode), r.steps, r.shift,
                                      r.guide_scale, r.solver, o.device, offload ? 1 : 0));
  w.set_metadata("report", res.report.dump());
  w.write(o.out);
  std::printf("wrote %s: latents %s, %d forwards (%d reused), %.2f s denoising on %s\n", o.out.c_str(),
              res.latents.shape().str().c_str(), res.forwards, res.forwards_reused,
              res.report.value("seconds", 0.0), o.device.c_str());
  std::printf("report %s\n", res.report.dump().c_str());
}

void register_debug_denoise(CLI::App& debug) {
  auto o = std::make_shared<DenoiseOptions>();
  auto* c = debug.add_subcommand("denoise",
                                 "The Wan2.1 or HunyuanVideo denoising loop (dense, Jenga or SVG) from given noise and contexts");
  c->add_option("--model", o->model, "DiT checkpoint folder or file")->required();
  c->add_option("--inputs", o->inputs,
                "safetensors: noise [16,T,h,w] (first stage), noise_full [16,T,H,W] (presets that start smaller; "
                "3stage also noise_1 at the middle size), context and context_null [L,text_dim] (f32)")
      ->required();
  c->add_option("--out", o->out, "Output safetensors: latents, step_<i>, teacache_computed")->required();
  c->add_option("--device", o->device, "cpu (f32 reference) or cuda")->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  c->add_option("--preset", o->preset, "dense | base | turbo | flash | 3stage | full preset name")->capture_default_str();
  c->add_option("--steps", o->steps, "Sampling steps (HunyuanVideo AccVideo: default 5)")->capture_default_str();
  c->add_option("--shift", o->shift, "Sigma shift (default 5; Jenga presets 8)");
  c->add_option("--cfg-scale", o->cfg_scale, "Guidance scale (Wan: default 5, Jenga presets 6; HunyuanVideo: > 1 adds the negative branch, default 1)");
  c->add_option("--solver", o->solver, "unipc | dpm++ | euler (default: Wan unipc, HunyuanVideo euler)")
      ->check(CLI::IsMember({"unipc", "dpm++", "euler"}));
  c->add_option("--save-steps", o->save_steps, "Also write the latents after these steps (0-based)");
  c->add_flag("--i2v", o->i2v,
              "HunyuanVideo-I2V (token_replace): the inputs' image_latent [16, 1, H, W] held in latent frame 0, "
              "context up to 396 rows; presets dense, base");
  c->add_flag("--i2v-stability", o->i2v_stability, "HunyuanVideo-I2V: blend the noise 0.999 : 0.001 toward the image latent");
  c->add_flag("--accvideo", o->accvideo,
              "HunyuanVideo: the DiT is AccVideo's 5-step one (a path naming accvideo says so too); presets dense, accvideo");
  c->add_flag("-q,--quiet", o->quiet, "No progress output");
  c->add_flag("--offload", o->offload,
              "CUDA: stream the DiT's blocks from pinned host memory (as generate --offload); same latents");
  add_jenga_flags(*c, o->jenga);
  add_attention_flags(*c, o->attention, o->svg);
  c->add_option("--seed", o->seed, "Philox seed of the SVG sampled rows")->capture_default_str();
  c->callback([o, c] {
    o->steps_given = c->count("--steps") > 0;
    run_denoise(*o);
  });
}

}  // namespace jenga::cli
