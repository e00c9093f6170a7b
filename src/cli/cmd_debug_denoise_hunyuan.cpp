// `jenga debug denoise` with a HunyuanVideo DiT: the loop (dense, a Jenga preset or SVG) from
// given noise and text states, on the CPU (f32) or CUDA, as generate runs it: embedded guidance
// 6.0 (one forward a step; true CFG with --cfg-scale > 1), Euler, shift 7 (a preset's own).
#include <algorithm>
#include <vector>

#include "cli/debug_denoise.h"
#include "core/error.h"
#include "models/hunyuan/hunyuan_dit.h"
#include "models/hunyuan/hunyuan_folder.h"
#include "models/hunyuan/hunyuan_model.h"
#include "models/hunyuan/hunyuan_presets.h"
#include "models/hunyuan/i2v_jenga.h"
#include "models/hunyuan/i2v_loop.h"

namespace jenga::cli {

namespace {

// One branch's conditioning: `name` [L, text_dim] (L <= max_rows), name_valid (real rows first,
// a whole number of any dtype; default all) and the pooled CLIP vector `pooled` [text_dim_2].
Conditioning load_text(const DebugInputs& in, const std::string& name, const std::string& pooled,
                       const hunyuan::HunyuanConfig& c, int64_t max_rows) {
  Conditioning k;
  k.tokens = in.floats(name, {{-1, c.text_dim}, fmt::format("[L, {}]", c.text_dim)}, "LLM text states, real rows first");
  if (k.tokens.dim(0) > max_rows)
    fail("{}: '{}' has {} rows; this loop takes at most {}", in.path(), name, k.tokens.dim(0), max_rows);
  k.valid = in.has(name + "_valid") ? in.count(name + "_valid", "real text rows") : k.tokens.dim(0);
  if (k.valid < 1 || k.valid > k.tokens.dim(0))
    fail("{}: '{}_valid' is {}; it must be 1 .. {} (the real rows of '{}')", in.path(), name, k.valid, k.tokens.dim(0),
         name);
  k.pooled = in.floats(pooled, {{c.text_dim_2}, fmt::format("[{}]", c.text_dim_2)}, "CLIP-L pooled vector");
  return k;
}

// Zero rows after the given ones, up to `rows`: the official Jenga kernel's sequence always holds
// the LLM's 256 text rows (its two text blocks; the text queries attend over every one of them),
// so a shorter context is what the official run sees with zero padding.
void pad_text_rows(Conditioning& k, int64_t rows) {
  const int64_t l = k.tokens.dim(0), d = k.tokens.dim(1);
  if (l >= rows) return;
  std::vector<float> v(static_cast<size_t>(rows * d), 0.0f);
  std::copy_n(k.tokens.data_as<float>(), l * d, v.data());
  k.valid = k.valid_rows();
  k.tokens = Tensor::from_f32(v, Shape{rows, d});
}

}  // namespace

void run_denoise_hunyuan(const DenoiseOptions& o, const std::string& dit, AttentionMode mode) {
  const bool cuda = o.device == "cuda";
  if (!o.solver.empty() && o.solver != "euler")
    usage_fail("--solver {}: HunyuanVideo runs Euler (its only official solver); drop --solver", o.solver);
  const auto inputs = SafetensorsFile::open(o.inputs);  // its header: a bad file fails before the weights load
  // The GPU computes with bf16 matrices: load them so (half the host memory).
  const hunyuan::HunyuanDit model = hunyuan::load_hunyuan_dit(dit, cuda ? DType::BF16 : DType::F32);
  const auto& c = model.config;
  if (c.is_i2v())
    usage_fail("{}: a latent_concat HunyuanVideo-I2V DiT ({} input channels); debug denoise runs the 16-channel ones "
               "(T2V, or token_replace I2V with --i2v)", o.model, c.in_channels);
  if (o.i2v_stability && !o.i2v) usage_fail("--i2v-stability goes with --i2v");
  if (o.i2v && o.accvideo) usage_fail("--accvideo and --i2v: AccVideo is a text-to-video DiT; pass one of them");
  // AccVideo has T2V's tensors: the flag or the DiT's own path says so, as generate tells it.
  const bool accvideo = !o.i2v && (o.accvideo || hunyuan::release_from_path(dit) == hunyuan::Release::AccVideo);
  const hunyuan::Release release = o.i2v ? hunyuan::Release::I2V
                                   : accvideo ? hunyuan::Release::AccVideo
                                              : hunyuan::Release::T2V;
  // sample_t2v.py and accvideo_jenga.sh run 5 steps.
  const int steps = o.steps_given || !accvideo ? o.steps : hunyuan::hunyuan_geometry(c, release).default_steps;
  const DebugInputs in(inputs, "a HunyuanVideo DiT",
                       "noise, context and pooled (+ context_valid; noise_1.., noise_full for a preset that changes "
                       "resolution; context_null, pooled_null with --cfg-scale > 1; image_latent with --i2v)");
  // A mask is how dit-forward takes the real rows; the loop takes their count.
  for (const char* mask : {"text_mask", "context_mask"})
    if (in.has(mask))
      fail("{}: has '{}'; debug denoise takes the real text rows as a count, 'context_valid' (and "
                 "'context_null_valid'), e.g. text_mask.sum()", o.inputs, mask);
  DenoiseRequest r;
  r.jenga = hunyuan::hunyuan_preset_for(o.preset, release, o.jenga, steps);
  load_noises(in, r);
  {  // generate's, bench denoise's and debug schedule's check: Jenga's blocks hold whole 128-token runs
    const Geometry geo = hunyuan::hunyuan_geometry(c, release);
    const Tensor& full = r.renoise.empty() ? r.noise : r.renoise.back();
    check_jenga_token_grid(r.jenga, geo, static_cast<int>(full.dim(3) * geo.vae_space),
                           static_cast<int>(full.dim(2) * geo.vae_space), static_cast<int>((full.dim(1) - 1) * geo.vae_time + 1));
  }
  if (o.i2v) {  // the official I2V loop: frame 0 is the image latent before every forward and never stepped
    const int64_t z = r.noise.dim(0), h = r.noise.dim(2), w = r.noise.dim(3);
    r.first_frame = in.floats("image_latent", {{z, 1, h, w}, fmt::format("[{}, 1, {}, {}] (noise's channels and size)", z, h, w)},
                              "the image latent (--i2v)");
    if (o.i2v_stability) blend_toward_first_frame(r.noise, r.first_frame, hunyuan::kI2vStabilityT);  // an owned copy
  } else if (in.has("image_latent")) {
    usage_fail("{}: has 'image_latent': pass --i2v for HunyuanVideo-I2V's loop", o.inputs);
  }
  r.steps = steps;
  r.shift = o.shift.value_or(r.jenga ? r.jenga->flow_shift : o.i2v ? hunyuan::i2v_default_flow_shift(o.i2v_stability) : 7.0);
  r.guide_scale = o.cfg_scale.value_or(1.0);
  r.true_cfg = r.guide_scale > 1.0;
  r.embedded_guidance = 6.0;
  const int64_t rows = o.i2v ? hunyuan::kI2vTextTokens : 256;
  r.context = load_text(in, "context", "pooled", c, rows);
  if (r.true_cfg) r.context_null = load_text(in, "context_null", "pooled_null", c, rows);
  if (mode == AttentionMode::jenga && !o.i2v) {
    pad_text_rows(r.context, rows);
    if (r.true_cfg) pad_text_rows(r.context_null, rows);
  }
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
