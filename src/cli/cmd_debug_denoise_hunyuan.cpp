// `jenga debug denoise` with a HunyuanVideo DiT: the loop (dense, a Jenga preset or SVG) from
// given noise and text states, on the CPU (f32) or CUDA, as generate runs it: embedded guidance
// 6.0 (one forward a step; true CFG with --cfg-scale > 1), Euler, shift 7 (a preset's own).
#include "cli/debug_denoise.h"
#include "core/error.h"
#include "models/registry.h"
#include "models/hunyuan/hunyuan_dit.h"
#include "models/hunyuan/hunyuan_model.h"
#include "models/hunyuan/hunyuan_presets.h"
#include "models/hunyuan/i2v_jenga.h"
#include "models/hunyuan/i2v_loop.h"

namespace jenga::cli {

bool is_hunyuan_dit(const std::string& path) {
  for (const FoundModel& f : detect_models_at(path))
    if (f.model.family == "hunyuanvideo-dit") return true;
  return false;
}

namespace {

// One branch's conditioning: `name` [L, text_dim] (L <= max_rows), name_valid (real rows first;
// default all) and the pooled CLIP vector `pooled` [text_dim_2].
Conditioning load_text(const SafetensorsFile& in, const std::string& name, const std::string& pooled,
                       const hunyuan::HunyuanConfig& c, int64_t max_rows) {
  Conditioning k;
  k.tokens = load_opt(in, name, true, "LLM text states [L, text_dim], real rows first");
  if (k.tokens.ndim() != 2 || k.tokens.dim(1) != c.text_dim || k.tokens.dim(0) < 1 || k.tokens.dim(0) > max_rows)
    fail("{}: '{}' must be [L, {}] with 1 <= L <= {}; got {}", in.path(), name, c.text_dim, max_rows,
         k.tokens.shape().str());
  const Tensor v = load_opt(in, name + "_valid", false, "real text rows");
  k.valid = v.defined() && v.numel() == 1 && v.ndim() <= 1 ? static_cast<int64_t>(v.data_as<float>()[0]) : k.tokens.dim(0);
  if (k.valid < 1 || k.valid > k.tokens.dim(0))
    fail("{}: '{}_valid' is {}; it must be 1 .. {} (a scalar)", in.path(), name, k.valid, k.tokens.dim(0));
  k.pooled = load_opt(in, pooled, true, "CLIP-L pooled vector [text_dim_2]");
  if (k.pooled.numel() != c.text_dim_2)
    fail("{}: '{}' must have {} values; got {}", in.path(), pooled, c.text_dim_2, k.pooled.numel());
  return k;
}

}  // namespace

void run_denoise_hunyuan(const DenoiseOptions& o, const SafetensorsFile& in, AttentionMode mode) {
  const bool cuda = o.device == "cuda";
  if (!o.solver.empty() && o.solver != "euler")
    usage_fail("--solver {}: HunyuanVideo runs Euler (its only official solver); drop --solver", o.solver);
  // The GPU computes with bf16 matrices: load them so (half the host memory).
  const hunyuan::HunyuanDit model = hunyuan::load_hunyuan_dit(o.model, cuda ? DType::BF16 : DType::F32);
  const auto& c = model.config;
  if (c.is_i2v())
    usage_fail("{}: a latent_concat HunyuanVideo-I2V DiT ({} input channels); debug denoise runs the 16-channel ones "
               "(T2V, or token_replace I2V with --i2v)", o.model, c.in_channels);
  if (o.i2v_stability && !o.i2v) usage_fail("--i2v-stability goes with --i2v");
  const hunyuan::Release release = o.i2v ? hunyuan::Release::I2V : hunyuan::Release::T2V;
  DenoiseRequest r;
  r.jenga = hunyuan::hunyuan_preset_for(o.preset, release, o.jenga, o.steps);
  load_noises(in, r);
  if (o.i2v) {  // the official I2V loop: frame 0 is the image latent before every forward and never stepped
    r.first_frame = load_opt(in, "image_latent", true, "the image latent [16, 1, H, W] (--i2v)");
    if (r.first_frame.ndim() != 4 || r.first_frame.dim(1) != 1 || r.first_frame.dim(0) != r.noise.dim(0) ||
        r.first_frame.dim(2) != r.noise.dim(2) || r.first_frame.dim(3) != r.noise.dim(3))
      fail("{}: 'image_latent' must be [{}, 1, {}, {}] (noise's channels and size); got {}", o.inputs, r.noise.dim(0),
           r.noise.dim(2), r.noise.dim(3), r.first_frame.shape().str());
    if (o.i2v_stability) {  // on a copy: the loaded noise may be a read-only view of the inputs file
      r.noise = Tensor::from_f32(r.noise.to_f32_vector(), r.noise.shape());
      blend_toward_first_frame(r.noise, r.first_frame, hunyuan::kI2vStabilityT);
    }
  } else if (in.find("image_latent")) {
    usage_fail("{}: has 'image_latent': pass --i2v for HunyuanVideo-I2V's loop", o.inputs);
  }
  r.steps = o.steps;
  r.shift = o.shift.value_or(r.jenga ? r.jenga->flow_shift : o.i2v ? hunyuan::i2v_default_flow_shift(o.i2v_stability) : 7.0);
  r.guide_scale = o.cfg_scale.value_or(1.0);
  r.true_cfg = r.guide_scale > 1.0;
  r.embedded_guidance = 6.0;
  const int64_t rows = o.i2v ? hunyuan::kI2vTextTokens : 256;
  r.context = load_text(in, "context", "pooled", c, rows);
  if (r.true_cfg) r.context_null = load_text(in, "context_null", "pooled_null", c, rows);
  r.solver = "euler";
  r.save_steps = o.save_steps;
  r.attention = mode;
  r.svg = svg_settings(o.svg, static_cast<uint64_t>(o.seed), SvgFamily::hunyuan);
  const bool offload = o.offload && cuda;
  Progress progress(o.quiet ? Progress::Mode::Quiet : Progress::Mode::Auto);
  if (o.offload && !cuda) progress.note("--offload: the DiT runs on the CPU here; the flag changes nothing");
#if JENGA_HAVE_CUDA
  const auto denoiser = cuda ? hunyuan::cuda_parts().denoiser(model, offload, release)
                             : hunyuan::make_cpu_denoiser(model, release);
#else
  const auto denoiser = hunyuan::make_cpu_denoiser(model, release);
#endif
  r.denoiser = denoiser.get();
  run_and_write(r, o, mode, offload, progress);
}

}  // namespace jenga::cli
