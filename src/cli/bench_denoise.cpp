// `jenga bench denoise --config hunyuan[-i2v] --preset P`: the whole denoising loop of generate
// (pipeline/denoise.cpp: the preset's ProRes stages, fixed step reuse, AttenCarve masks built on
// the GPU, flow-matching Euler) over the CUDA HunyuanVideo DiT with random bf16 weights drawn on
// the GPU, so the DiT time of every preset is measured at full size without a checkpoint on disk
// (what the Jenga paper reports: DiT time after warm-up). Random text states stand in for the
// encoders (their time is `bench text-encoder`'s, the decode's `bench vae`'s). The step-reuse list
// is fixed, so the forwards computed per stage are those of the official scripts. hunyuan-i2v:
// HunyuanVideo-I2V's loop (token_replace DiT of the same shapes, 396 text rows = 144 image rows +
// the prompt's, a random image latent held in frame 0; presets dense and base).
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "jenga/version.h"
#include "pipeline/denoise.h"
#if JENGA_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#include "core/rng.h"
#include "io/safetensors.h"
#include "pipeline/output_target.h"
#include "models/hunyuan/hunyuan_model.h"
#include "models/hunyuan/hunyuan_presets.h"
#endif

namespace jenga::cli {

namespace {

struct BenchDenoiseOptions {
  std::string config = "hunyuan";
  std::string preset = "dense";
  std::string size = "1280x720";
  std::string out;  // final latents for a drift table (same seed: same weights, text, noise)
  int frames = 125, steps = 0, text_valid = 40, warmup = 1;
  uint64_t seed = 0;
  double cfg_scale = 1.0, embedded_cfg_scale = 6.0;
  bool accvideo = false, json = false, quiet = false, offload = false;
  JengaOverrides jenga;
};

#if JENGA_HAVE_CUDA
Tensor randn(Shape s, uint64_t seed, float scale = 1.0f) {
  Tensor t = Tensor::empty(DType::F32, s);
  fill_normal(std::span<float>(t.data_as<float>(), static_cast<size_t>(t.numel())), seed, 0);
  if (scale != 1.0f)
    for (int64_t i = 0; i < t.numel(); ++i) t.data_as<float>()[i] *= scale;
  return t;
}

void run(const BenchDenoiseOptions& o) {
  const auto [width, height] = parse_size("--size", o.size);
  if (width % 16 || height % 16) usage_fail("--size {}: width and height must be multiples of 16", o.size);
  if (o.frames < 1 || (o.frames - 1) % 4) usage_fail("--frames {}: must be 4k+1", o.frames);
  if (o.text_valid < 1 || o.text_valid > 252) usage_fail("--text-valid {}: must be 1 .. 252", o.text_valid);
  if (o.warmup < 0) usage_fail("--warmup {}: must be >= 0", o.warmup);
  if (!o.out.empty()) check_output_target(o.out, 1);  // before minutes of GPU work
  const hunyuan::HunyuanConfig c = hunyuan::HunyuanConfig::t2v_720p();
  const bool i2v = o.config == "hunyuan-i2v";
  if (i2v && o.accvideo) usage_fail("--accvideo goes with --config hunyuan (T2V)");
  const hunyuan::Release release = i2v ? hunyuan::Release::I2V : o.accvideo ? hunyuan::Release::AccVideo : hunyuan::Release::T2V;
  const std::optional<Preset> jenga =
      o.preset == "dense" ? std::nullopt : hunyuan::hunyuan_preset_for(o.preset, release, o.jenga, o.steps);
  check_jenga_token_grid(jenga, hunyuan::hunyuan_geometry(c, release), width, height, o.frames);
  // Every flag is checked above on the CPU, so a wrong one is named before the GPU check.
  if (!cuda::available()) fail("{}: 'jenga bench denoise' needs a GPU", cuda::no_gpu_reason());
  cuda::init();
  auto denoiser = hunyuan::make_random_cuda_denoiser(c, o.seed, release, o.offload);
  const Geometry& geo = denoiser->info().geometry;
  const int steps = o.steps > 0 ? o.steps : jenga ? jenga->steps : o.accvideo ? 5 : geo.default_steps;

  DenoiseRequest r;
  r.denoiser = denoiser.get();
  r.jenga = jenga;
  r.steps = steps;
  r.shift = jenga ? jenga->flow_shift : geo.default_shift;
  r.solver = "euler";
  r.embedded_guidance = o.embedded_cfg_scale;
  r.true_cfg = o.cfg_scale > 1.0;
  r.guide_scale = o.cfg_scale;
  const int64_t lt = (o.frames - 1) / geo.vae_time + 1, lh = height / geo.vae_space, lw = width / geo.vae_space;
  const auto sizes = stage_latents(jenga, lt, lh, lw);
  uint64_t seed = o.seed + 100;
  auto noise = [&](const std::array<int64_t, 3>& l) { return randn(Shape{geo.latent_channels, l[0], l[1], l[2]}, seed++); };
  r.noise = noise(sizes[0]);
  for (size_t k = 1; k < sizes.size(); ++k) r.renoise.push_back(noise(sizes[k]));
  // Text: 256 rows of which text_valid are real (the anchor's 40), the CLIP pooled vector. I2V:
  // the 144 image rows, all real, then 252 text rows.
  auto conditioning = [&](uint64_t s) {
    Conditioning cond;
    cond.tokens = randn(Shape{i2v ? 144 + 252 : 256, c.text_dim}, s);
    cond.valid = (i2v ? 144 : 0) + o.text_valid;
    cond.pooled = randn(Shape{c.text_dim_2}, s + 1);
    return cond;
  };
  r.context = conditioning(o.seed + 10);
  if (r.true_cfg) r.context_null = conditioning(o.seed + 20);
  if (i2v) r.first_frame = randn(Shape{geo.latent_channels, 1, lh, lw}, o.seed + 30);  // the image latent

  Progress progress(o.quiet || o.json ? Progress::Mode::Quiet : Progress::Mode::Auto);
  // Warm-up: one dense step at the first stage's size (kernels, cuBLASLt plans), untimed.
  if (o.warmup > 0) {
    DenoiseRequest w = r;
    w.jenga = std::nullopt;
    w.renoise.clear();
    w.steps = o.warmup;
    Progress quiet(Progress::Mode::Quiet);
    (void)denoise(w, quiet);
  }
  cuda::reset_peak_memory();
  const DenoiseResult res = denoise(r, progress);
  const auto dev = cuda::device_info(0);
  if (!o.out.empty()) {
    SafetensorsWriter w;
    w.add("latents", res.latents);
    w.set_metadata("jenga", fmt::format("bench denoise config={} preset={} size={} frames={} steps={} seed={}", o.config,
                                        jenga ? jenga->name : "dense", o.size, o.frames, steps, o.seed));
    w.write(o.out);
  }
  nlohmann::json j = {{"bench", "denoise"},
                      {"model", i2v ? "hunyuanvideo-i2v (random bf16, token_replace)"
                                : o.accvideo ? "accvideo (random bf16, HunyuanVideo shapes)"
                                             : "hunyuanvideo-t2v (random bf16)"},
                      {"preset", jenga ? jenga->name : "dense"},
                      {"size", o.size},
                      {"frames", o.frames},
                      {"steps", steps},
                      {"text_valid", o.text_valid},
                      {"true_cfg", r.true_cfg},
                      {"offload", o.offload},
                      {"seconds", res.report.value("seconds", 0.0)},
                      {"denoise", res.report},
                      {"device", dev.name},
                      {"commit", JENGA_GIT_COMMIT}};
  if (o.json) {
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("%s, preset %s, %dx%d, %d frames, %d steps: %.1f s of DiT loop, %d forwards computed, %d reused, "
              "block density %.3f, peak %.2f GiB on %s\n",
              j["model"].get<std::string>().c_str(), j["preset"].get<std::string>().c_str(), width, height, o.frames,
              steps, res.report.value("seconds", 0.0), res.forwards, res.forwards_reused,
              res.report.value("sparse_block_density", 0.0), res.report.value("peak_gpu_alloc_gib", 0.0),
              dev.name.c_str());
  for (const auto& s : res.report["stages"]) std::printf("  stage %s\n", s.dump().c_str());
}
#endif

}  // namespace

void register_bench_denoise(CLI::App& bench) {
  auto o = std::make_shared<BenchDenoiseOptions>();
  auto* c = bench.add_subcommand("denoise",
                                 "The whole denoising loop of a preset on the GPU (random DiT weights, random text): "
                                 "HunyuanVideo with --config hunyuan or hunyuan-i2v");
  c->add_option("--config", o->config,
                "Random-weight model: hunyuan (the HunyuanVideo T2V DiT), hunyuan-i2v (HunyuanVideo-I2V, token_replace)")
      ->check(CLI::IsMember({"hunyuan", "hunyuan-i2v"}))
      ->capture_default_str();
  c->add_option("--preset", o->preset, "dense, base, turbo, flash, 3stage, accvideo (hunyuan-i2v: dense, base)")
      ->capture_default_str();
  c->add_flag("--accvideo", o->accvideo, "AccVideo's loop (5 steps; its presets)");
  c->add_flag("--offload", o->offload, "Stream the DiT blocks' matrices from pinned host memory");
  c->add_option("-s,--size", o->size, "WIDTHxHEIGHT in pixels")->capture_default_str();
  c->add_option("-f,--frames", o->frames, "Frames (4k+1)")->capture_default_str();
  c->add_option("--steps", o->steps, "Sampling steps (default: the preset's or the model's)");
  c->add_option("--text-valid", o->text_valid, "Real text tokens of the 256 rows (hunyuan-i2v: after the 144 image rows)")
      ->capture_default_str();
  c->add_option("--cfg-scale", o->cfg_scale, "> 1: true CFG (two branches)")->capture_default_str();
  c->add_option("--embedded-cfg-scale", o->embedded_cfg_scale, "The DiT's embedded guidance")->capture_default_str();
  c->add_option("--warmup", o->warmup, "Untimed dense steps first")->capture_default_str();
  c->add_option("--seed", o->seed, "Seed of the weights, text and noise")->capture_default_str();
  add_jenga_flags(*c, o->jenga);
  c->add_flag("-q,--quiet", o->quiet, "No progress bar");
  c->add_flag("--json", o->json, "One JSON object");
  c->add_option("--out", o->out,
                "Write the final latents (safetensors 'latents'): same --seed, same weights, text and noise, so "
                "presets can be compared with bench/compare_latents.py");
  c->callback([o] {
#if JENGA_HAVE_CUDA
    run(*o);
#else
    fail("'jenga bench denoise' needs a CUDA build and a GPU");
#endif
  });
}

}  // namespace jenga::cli
