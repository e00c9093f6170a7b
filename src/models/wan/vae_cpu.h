#pragma once
// Wan VAE forward on the CPU (f32), streamed chunk by chunk with the official temporal cache:
// decode feeds one latent frame at a time (the first yields 1 frame, each later one
// temporal_factor frames); encode feeds 1 frame, then 4-frame chunks.
#include <cstdint>
#include <functional>
#include <vector>

#include "core/tensor.h"
#include "models/wan/vae_model.h"

namespace jenga::wan {

// A few consecutive frames, channels-last: [t, h, w, c].
struct VaeChunk {
  int64_t t = 0, h = 0, w = 0, c = 0;
  std::vector<float> v;
  VaeChunk() = default;
  VaeChunk(int64_t t_, int64_t h_, int64_t w_, int64_t c_)
      : t(t_), h(h_), w(w_), c(c_), v(static_cast<size_t>(t_ * h_ * w_ * c_)) {}
  int64_t frame_size() const { return h * w * c; }
  float* frame(int64_t i) { return v.data() + i * frame_size(); }
  const float* frame(int64_t i) const { return v.data() + i * frame_size(); }
};

// The official feat_cache, one slot per temporal conv, in the order the official code visits
// them. The rule (what a CUDA backend must reproduce):
//  - causal conv, kernel 3: its input is [2 cached frames] + chunk (zeros before the first
//    chunk, which is the official front zero padding); it keeps the last 2 input frames.
//  - upsample3d time_conv: the first chunk bypasses it (official 'Rep') and leaves the cache at
//    zeros; later chunks use the causal-conv rule.
//  - downsample3d time_conv (stride 2, no padding): the first chunk bypasses it and keeps its
//    last frame; later inputs are [1 cached frame] + chunk, and the cache keeps the last frame.
struct VaeTemporalCache {
  struct Slot {
    bool started = false;
    std::vector<float> frames;  // the cached frames, channels-last
  };
  std::vector<Slot> slots;
  explicit VaeTemporalCache(int n) : slots(static_cast<size_t>(n)) {}
};

// One chunk through an Encoder3d / Decoder3d (cache updated in place).
VaeChunk vae_coder_forward(const VaeCoder& coder, const VaeChunk& x, VaeTemporalCache& cache);

// Throws a clear Error unless latents is a CPU f32 [z_dim, T, H, W] tensor of finite values.
void check_vae_latents(const WanVae& vae, const Tensor& latents);

// latents: [z_dim, T, H, W] normalised as the denoiser sees them (f32). Calls sink(chunk, first)
// with the decoded frames of each latent frame (channels-last [t, 8H, 8W, 3], unclamped),
// `first` being the index of its first output frame.
void vae_decode_stream(const WanVae& vae, const Tensor& latents,
                       const std::function<void(const VaeChunk&, int64_t first)>& sink);

// Decoded video [3, 1 + 4(T-1), 8H, 8W] f32, clamped to [-1, 1] when `clamp` (official output).
Tensor vae_decode(const WanVae& vae, const Tensor& latents, bool clamp = true);
// The same, calling on_frame(latent frames decoded, total) after each latent frame (progress).
Tensor vae_decode(const WanVae& vae, const Tensor& latents, const std::function<void(int64_t, int64_t)>& on_frame);

// frames: [3, 1 + 4k, H, W] f32 in [-1, 1], H and W multiples of the spatial factor.
// Returns the normalised latent mean [z_dim, 1 + k, H/8, W/8] (official WanVAE.encode).
Tensor vae_encode(const WanVae& vae, const Tensor& frames);

}  // namespace jenga::wan
