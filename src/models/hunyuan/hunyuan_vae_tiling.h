#pragma once
// HunyuanVideo VAE decode / encode with the official tiling (AutoencoderKLCausal3D
// temporal_tiled_decode / spatial_tiled_decode / temporal_tiled_encode / spatial_tiled_encode,
// tile_overlap_factor 0.25, sizes from the config's sample_size / sample_tsize), so tiled
// outputs equal the official tiled outputs. Tiles are computed one at a time and blended in
// place exactly as the official code does (a tile is blended with its already blended upper,
// left or previous neighbour); only the previous temporal tile and the previous row of spatial
// tiles are kept, so working memory depends on the tile size, not on the video length.
#include <cstdint>
#include <functional>

#include "core/tensor.h"
#include "models/hunyuan/hunyuan_vae.h"
#include "models/hunyuan/hunyuan_vae_cpu.h"

namespace jenga::hunyuan {

// One axis of a tiled run: tiles start at 0, stride, 2*stride, ... < n (Python range(0, n, stride)).
struct HyAxisTiles {
  std::vector<int64_t> start, len;  // input units
  std::vector<int64_t> kept;        // output units each tile contributes
  int64_t total = 0;                // output length
};

// The official triggers and tile sizes for a latent grid [T, H, W] (decode) or a frame grid
// [F, H, W] (encode), and the output grid they produce.
struct HyTilePlan {
  bool temporal = false, spatial = false;  // which tiled path the official code takes
  HyAxisTiles t, h, w;                     // each axis (one whole tile when not tiled)
};
HyTilePlan hy_decode_plan(const HunyuanVae& vae, int64_t T, int64_t H, int64_t W, bool tiling);
HyTilePlan hy_encode_plan(const HunyuanVae& vae, int64_t F, int64_t H, int64_t W, bool tiling);

// One tile through a decoder: unscaled latents [t, h, w, latent] -> frames [t', h', w', out]
// (hy_decode_tile on the CPU; a GPU backend passes its own), or through the encoder: frames ->
// the unscaled posterior mean (hy_encode_tile).
using HyTileFn = std::function<HyClip(const HyClip&)>;

// latents: [latent_channels, T, H, W] f32 as the denoiser sees them (scaled by scaling_factor;
// decode divides, as the official pipeline does). `sink` receives the finished frames in order,
// channels-last [t, H', W', out_channels], unclamped, with the index of the first.
void hunyuan_vae_decode_stream(const HunyuanVae& vae, const Tensor& latents, bool tiling,
                               const std::function<void(const HyClip&, int64_t first)>& sink,
                               const HyTileFn& tile = nullptr);

// Decoded video [out_channels, F, H', W'] f32; clamped to [-1, 1] when `clamp` (the official
// writer clamps (x / 2 + 0.5) to [0, 1], which is the same).
Tensor hunyuan_vae_decode(const HunyuanVae& vae, const Tensor& latents, bool tiling = true, bool clamp = true,
                          const HyTileFn& tile = nullptr);

// frames: [in_channels, F, H, W] f32 in [-1, 1]. Returns the posterior mode (mean) scaled by
// scaling_factor, [latent_channels, T, H', W'], as the denoiser sees latents (official I2V:
// encode(x).latent_dist.mode() * scaling_factor). `tile`: as for decode.
Tensor hunyuan_vae_encode(const HunyuanVae& vae, const Tensor& frames, bool tiling = true, const HyTileFn& tile = nullptr);

}  // namespace jenga::hunyuan
