#pragma once
// The Wan2.1 denoising loop, dense or with Jenga (jenga_wan.py t2v_generate + teacache_forward):
// per-step plan (jenga/schedule.h), curve order and AttenCarve masks per stage, ProRes switch
// (x0 prediction, trilinear upsample, re-noise), TeaCache step reuse, CFG, UniPC / Euler.
// Backend-neutral: the CPU backend (f32 reference, CI goldens) and the CUDA backend (latents,
// solver history and masks stay on the GPU) apply the same host-computed plan and solver
// coefficients.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor.h"
#include "jenga/presets.h"
#include "pipeline/attention_mode.h"
#include "pipeline/progress.h"

namespace jenga {

namespace wan {
struct WanDit;
}
namespace dist {
class Communicator;
}

struct DenoiseRequest {
  const wan::WanDit* model = nullptr;
  bool cuda = false;
  // Noise at the first stage's latent size [z, T, h0, w0], and for each resolution change of
  // the preset the noise it re-noises with, at the next stage's size (official Turbo: the
  // full-size noise, drawn right after the first).
  Tensor noise;
  std::vector<Tensor> renoise;
  Tensor context, context_null;  // [L, text_dim] f32, the prompt's rows (zero-padded later)
  int steps = 50;
  double shift = 5.0, guide_scale = 5.0;
  std::string solver = "unipc";  // unipc | euler
  // Jenga: a preset with the run's size (width/height/frames) already set; none = dense Wan.
  std::optional<Preset> jenga;
  // Self-attention: unset = what the preset implies (AttenCarve with a Jenga preset, else dense).
  // svg needs the dense schedule (no preset); dense with a preset keeps its schedule, no masks.
  std::optional<AttentionMode> attention;
  SvgSettings svg;  // used with AttentionMode::svg
  std::vector<int> save_steps;  // latents after these steps are returned too
  // Ulysses sequence parallel over these ranks (all call denoise_wan with the same request);
  // null = one process.
  dist::Communicator* comm = nullptr;
  // CUDA: stream the DiT's blocks from pinned host memory (WanDitCuda offload; same result).
  // Ignored on the CPU.
  bool offload = false;
};

struct DenoiseResult {
  Tensor latents;  // [z, T, H, W] after the last step
  std::vector<std::pair<int, Tensor>> saved;
  std::vector<uint8_t> computed_calls;  // [2 * steps]: cond, uncond per step; 1 = blocks ran
  int forwards = 0, forwards_reused = 0;
  nlohmann::json report;  // per-stage timings, plan summary
};

// Latent sizes [T, H, W] of each stage with a new resolution, first to full, for a full-size
// latent: what `noise` and `renoise` must be.
std::vector<std::array<int64_t, 3>> stage_latents(const std::optional<Preset>& jenga, int64_t t, int64_t h, int64_t w);

// Throws UsageError / Error before heavy work on inconsistent inputs; throws Error naming the
// step when the latents become NaN/inf.
DenoiseResult denoise_wan(const DenoiseRequest& request, Progress& progress);

// Trilinear resize of [C, T, H, W] f32 latents (torch interpolate, align_corners=False).
Tensor resize_trilinear(const Tensor& x, int64_t t, int64_t h, int64_t w);

// The official Jenga Wan flags a user may set over a preset (same names and meanings).
struct JengaOverrides {
  std::vector<double> sa_drop_rates;  // one or two (before / after step 25)
  std::vector<double> res_rate_list;  // {r, 1.0}
  std::optional<double> p_remain_rates, teacache_thresh;  // teacache 0 = every forward computed
  bool any() const { return !sa_drop_rates.empty() || !res_rate_list.empty() || p_remain_rates || teacache_thresh; }
};
// Throws UsageError on values the official loop cannot run (before any heavy work).
void check_jenga_overrides(const std::string& preset, const JengaOverrides& o);

// Resolves `--preset NAME` for a Wan model of `size_name` ("1.3B" / "14B") with the overrides
// applied: "dense" gives none. `steps` is checked against the preset's stage switch.
std::optional<Preset> wan_preset_for(const std::string& name, const std::string& size_name,
                                     const JengaOverrides& overrides = {}, int steps = 50);

}  // namespace jenga
