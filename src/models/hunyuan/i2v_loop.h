#pragma once
// The HunyuanVideo-I2V pieces of the sampling loop (official pipeline_hunyuan_video.py,
// prepare_latents and __call__ in i2v_mode), for the pipeline to call around its flow-matching
// loop. Latents are [C, T, H, W] f32 (C = 16 latent channels, T latent frames); the image
// latent is [C, 1, H, W] (the reference image through the VAE encoder: mode x scaling factor).
//   token_replace (the released 720p model, in_channels 16):
//     x = noise, or with --i2v-stability x = 0.999 noise + 0.001 image latent (every frame)
//     every step: x[:, 0] = image latent; v = DiT(x, token_replace); x[:, 1:] += dt v[:, 1:]
//   latent_concat (in_channels 33): the DiT input is [x | image latent in frame 0, zeros after |
//     mask 1 at frame 0, 0 after] and the whole x is stepped.
#include <cstdint>

#include "core/tensor.h"
#include "models/hunyuan/hunyuan_vae.h"

namespace jenga::hunyuan {

// --flow-shift when not given: 7 with --i2v-stability (the "stable" script), 17 without
// ("dynamic"; also config.py's default).
inline constexpr double kI2vStableShift = 7.0, kI2vDynamicShift = 17.0;
inline double i2v_default_flow_shift(bool stability) { return stability ? kI2vStableShift : kI2vDynamicShift; }

// The official blend point t = 0.999 (a f32 tensor): x = noise * t + image * (1 - t).
inline constexpr float kI2vStabilityT = 0.999f;

// The reference image [3, H, W] in [-1, 1] (i2v_image_prep) -> image latent [C, 1, H/8, W/8]:
// the VAE encoder on one frame (tiled as the official VAE tiles, when `tiling`).
Tensor i2v_image_latent(const HunyuanVae& vae, const Tensor& pixels, bool tiling = true);

// --i2v-stability: noise [C, T, H, W] <- noise * 0.999 + image_latent * (1 - 0.999), every frame.
void i2v_stability_blend(Tensor& noise, const Tensor& image_latent);

// token_replace: latents[:, 0] <- image_latent (before every forward and after every update).
void i2v_replace_first_frame(Tensor& latents, const Tensor& image_latent);

// token_replace's Euler step: frames 1.. move by (sigma_next - sigma) * v (the difference in f32 as
// the official scheduler takes it), frame 0 is the image latent again. v: [C, T, H, W].
void i2v_euler_step(Tensor& latents, const Tensor& v, const Tensor& image_latent, float sigma, float sigma_next);

// latent_concat's DiT input [2C + 1, T, H, W]: latents, the image latent in frame 0 (zeros in the
// later frames), a mask channel of 1 in frame 0 and 0 after.
Tensor i2v_latent_concat_input(const Tensor& latents, const Tensor& image_latent);

}  // namespace jenga::hunyuan
