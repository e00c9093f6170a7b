#pragma once
// `jenga debug denoise` pieces shared by its Wan half (cmd_debug_denoise.cpp) and its
// HunyuanVideo half (cmd_debug_denoise_hunyuan.cpp): the options, reading the inputs file and
// running + writing the result.
#include <optional>
#include <string>
#include <vector>

#include "cli/debug_inputs.h"
#include "pipeline/denoise.h"

namespace jenga::cli {

struct DenoiseOptions {
  std::string model, inputs, out;
  std::string device = "cpu";
  std::string preset = "dense";
  std::string solver;  // "" = the model's (Wan: unipc, HunyuanVideo: euler)
  int steps = 50;
  std::optional<double> shift, cfg_scale;
  std::vector<int> save_steps;
  bool quiet = false, offload = false;
  // HunyuanVideo-I2V (token_replace; its DiT has T2V's key names, so the flag says so): the
  // image latent held in frame 0, --i2v-stability's blend of the noise.
  bool i2v = false, i2v_stability = false;
  // AccVideo (same tensors as T2V): this flag, or a path naming accvideo, as generate tells it.
  bool accvideo = false;
  bool steps_given = false;  // --steps on the command line (else the release's: AccVideo 5)
  JengaOverrides jenga;
  std::string attention;
  SvgOverrides svg;
  int64_t seed = 42;
};

// r.noise and, for a preset that changes resolution, r.renoise (noise_1.., noise_full): [C, T, H, W]
// each (the loop checks the sizes against the model and preset).
void load_noises(const DebugInputs& in, DenoiseRequest& r);
// denoise(r) then OUT: latents, step_<i>, teacache_computed, the settings and report as metadata.
void run_and_write(DenoiseRequest& r, const DenoiseOptions& o, AttentionMode mode, bool offload, Progress& progress);

// The HunyuanVideo loop: inputs noise [16, T, H, W], context [L <= 256, text_dim] with
// context_valid (real rows first; default all) and pooled [text_dim_2]; with --cfg-scale > 1
// also context_null, context_null_valid, pooled_null. Embedded guidance 6.0, Euler, shift 7.
// --i2v: HunyuanVideo-I2V's token_replace loop; also image_latent [16, 1, H, W], context up to 396
// rows (144 image + 252 prompt rows), shift default the preset's or 7 / 17 (with / without
// --i2v-stability), presets dense and base (jenga_hyi2v.py). An AccVideo DiT (--accvideo or its
// path) runs dense (sample_t2v.py) or --preset accvideo (accvideo_jenga.sh), 5 steps by default.
// `dit`: the DiT's weights (cli/debug_model.h found them).
void run_denoise_hunyuan(const DenoiseOptions& o, const std::string& dit, AttentionMode mode);

}  // namespace jenga::cli
