#pragma once
// HunyuanVideo VAE forward on the CPU (f32) for one tile: the whole clip goes through each layer
// at once, because every GroupNorm takes its statistics over all frames of the tile (the model
// is causal in its convolutions and attention, not in its norms). Tiling is hunyuan_vae_tiling.h.
#include <cstdint>
#include <vector>

#include "models/hunyuan/hunyuan_vae.h"

namespace jenga::hunyuan {

// Consecutive frames, channels-last: v is [t, h, w, c].
struct HyClip {
  int64_t t = 0, h = 0, w = 0, c = 0;
  std::vector<float> v;
  HyClip() = default;
  HyClip(int64_t t_, int64_t h_, int64_t w_, int64_t c_)
      : t(t_), h(h_), w(w_), c(c_), v(static_cast<size_t>(t_ * h_ * w_ * c_)) {}
  int64_t pixels() const { return t * h * w; }
  float* at(int64_t f, int64_t y, int64_t x) { return v.data() + ((f * h + y) * w + x) * c; }
  const float* at(int64_t f, int64_t y, int64_t x) const { return v.data() + ((f * h + y) * w + x) * c; }
};

// Output sizes of a coder for an input size (frames; one spatial side).
int64_t hy_decoded_frames(const HyVaeCoder& dec, int64_t t);
int64_t hy_decoded_side(const HyVaeCoder& dec, int64_t n);
int64_t hy_encoded_frames(const HyVaeCoder& enc, int64_t t);
int64_t hy_encoded_side(const HyVaeCoder& enc, int64_t n);

// Unscaled latents z (= denoiser latents / scaling_factor) [t, h, w, latent] -> post_quant_conv
// -> decoder -> frames [t', h', w', out_channels], unclamped.
HyClip hy_decode_tile(const HunyuanVae& vae, const HyClip& z);

// Frames [t, h, w, in_channels] -> encoder -> quant_conv, mean half: [t', h', w', latent]
// (the posterior's mode, unscaled).
HyClip hy_encode_tile(const HunyuanVae& vae, const HyClip& x);

}  // namespace jenga::hunyuan
