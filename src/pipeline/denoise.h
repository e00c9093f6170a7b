#pragma once
// The denoising loop of every model, dense or with Jenga (jenga_wan.py t2v_generate +
// teacache_forward): per-step plan (jenga/schedule.h), curve order and AttenCarve masks per stage,
// ProRes switch (x0 prediction, trilinear upsample, re-noise), TeaCache step reuse, CFG or
// embedded guidance, UniPC / DPM++ / Euler (sampling/). Over the model interface: the model's
// Denoiser (models/video_model.h) gives the DiT and picks the loop's device half
// (backend/denoise_backend.h: the CPU f32 reference, CI goldens, or CUDA, where latents, solver
// history and masks stay on the GPU); both apply the same host-computed plan and solver
// coefficients.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor.h"
#include "jenga/preset_overrides.h"
#include "jenga/presets.h"
#include "models/video_model.h"
#include "pipeline/attention_mode.h"
#include "pipeline/progress.h"

namespace jenga {

namespace dist {
class Communicator;
}

struct DenoiseRequest {
  // The model's DiT, on the host or a device (it picks the loop backend); kept by the caller.
  Denoiser* denoiser = nullptr;
  // Noise at the first stage's latent size [z, T, h0, w0], and for each resolution change of
  // the preset the noise it re-noises with, at the next stage's size (official Turbo: the
  // full-size noise, drawn right after the first).
  Tensor noise;
  std::vector<Tensor> renoise;
  // The prompt's and the negative prompt's conditioning (token states [L, text_dim] f32, the
  // prompt's rows, zero-padded later); context_null is unused with embedded guidance.
  Conditioning context, context_null;
  // Image-to-video by first-frame replacement (Geometry::image_condition FirstFrame): the image
  // latent [z, 1, h, w] at the full latent size; the loop writes it into latent frame 0 before
  // every DiT forward and leaves frame 0 out of every solver update. Empty = none.
  Tensor first_frame;
  int steps = 50;
  // guide_scale: the CFG scale of two-branch models. HunyuanVideo (cfg_gated_by_scale) runs one
  // branch (taking embedded_guidance into the DiT when it has a guidance embedding), or, with
  // true_cfg, both branches combined by guide_scale (official --cfg-scale > 1 with a negative prompt).
  double shift = 5.0, guide_scale = 5.0;
  double embedded_guidance = 6.0;
  bool true_cfg = false;
  std::string solver = "unipc";  // unipc | dpm++ | euler (FlowMatch models: euler)
  // Jenga: a preset with the run's size (width/height/frames) already set; none = dense Wan.
  std::optional<Preset> jenga;
  // Self-attention: unset = what the preset implies (AttenCarve with a Jenga preset, else dense).
  // svg needs the dense schedule (no preset); dense with a preset keeps its schedule, no masks.
  std::optional<AttentionMode> attention;
  SvgSettings svg;  // used with AttentionMode::svg
  std::vector<int> save_steps;  // latents after these steps are returned too
  // Ulysses sequence parallel over these ranks (all call denoise with the same request);
  // null = one process.
  dist::Communicator* comm = nullptr;
};

struct DenoiseResult {
  Tensor latents;  // [z, T, H, W] after the last step
  std::vector<std::pair<int, Tensor>> saved;
  // [2 * steps]: cond, uncond per step; 1 = blocks ran (embedded guidance: uncond entries 0)
  std::vector<uint8_t> computed_calls;
  int forwards = 0, forwards_reused = 0;
  nlohmann::json report;  // per-stage timings, plan summary
};

// Latent sizes [T, H, W] of each stage with a new resolution, first to full, for a full-size
// latent: what `noise` and `renoise` must be (Wan: int(side * r) // 2 * 2 latent rows;
// HunyuanVideo: int(pixels * r) // 16 * 2, pixels = 8 latent rows).
std::vector<std::array<int64_t, 3>> stage_latents(const std::optional<Preset>& jenga, int64_t t, int64_t h, int64_t w);

// --shift and --cfg-scale (generate, debug denoise): bounds far outside any official value (shifts
// 5-17, guidance 1-15) that keep the sigma table and the latents finite; beyond them a run ends
// in NaN after minutes (or in a solver's sigma error) instead of here.
void check_shift_and_cfg(std::optional<double> shift, std::optional<double> cfg_scale);

// Jenga with condition blocks in the sequence (HunyuanVideo's text) pads nothing: every stage's
// image tokens must fill whole 128-token blocks. UsageError naming the stage and the sizes that
// work; a no-op without Jenga or without condition blocks (Wan pads its last block).
void check_jenga_token_grid(const std::optional<Preset>& jenga, const Geometry& geo, int width, int height, int frames);

// Throws UsageError / Error before heavy work on inconsistent inputs; throws Error naming the
// step when the latents become NaN/inf.
DenoiseResult denoise(const DenoiseRequest& request, Progress& progress);

// Image-to-video's stability start (HunyuanVideo-I2V --i2v-stability): noise [z, T, h, w] <-
// t * noise + (1 - t) * frame0 [z, 1, h, w] in every latent frame, t and 1 - t as f32.
void blend_toward_first_frame(Tensor& noise, const Tensor& frame0, double t);

// Trilinear resize of [C, T, H, W] f32 latents (torch interpolate, align_corners=False).
Tensor resize_trilinear(const Tensor& x, int64_t t, int64_t h, int64_t w);

}  // namespace jenga
