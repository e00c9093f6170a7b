#pragma once
// HunyuanVideo causal 3D VAE hyper-parameters (official AutoencoderKLCausal3D, "884-16c-hy"),
// read from the config.json published beside the weights (official or diffusers field names)
// or, for a lone file (ComfyUI's hunyuan_video_vae_bf16.safetensors), inferred from the tensor
// shapes with the published values for what shapes cannot tell; and the official tile sizes.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace jenga::hunyuan {

struct HunyuanVaeConfig {
  int64_t in_channels = 3, out_channels = 3;
  int64_t latent_channels = 16;
  std::vector<int64_t> block_out_channels{128, 256, 512, 512};
  int64_t layers_per_block = 2;  // encoder res blocks per stage; the decoder has one more
  int64_t norm_num_groups = 32;
  int64_t time_compression_ratio = 4;
  int64_t spatial_compression_ratio = 8;
  bool mid_block_add_attention = true;
  int64_t sample_size = 256;   // tiling: pixel tile edge
  int64_t sample_tsize = 64;   // tiling: frames per temporal tile
  double scaling_factor = 0.476986;

  std::string source;                  // where the values came from (for inspect)
  std::vector<std::string> defaulted;  // fields the files could not tell: published values used

  int64_t stages() const { return static_cast<int64_t>(block_out_channels.size()); }
  // Official stride rule (vae.py, time_compression_ratio 4): encoder stage i downsamples space
  // when i < log2(spatial ratio) and time when n-1-log2(time ratio) <= i < n-1; decoder up
  // stage i (running the reversed channel list) upsamples by the same rule.
  bool stage_spatial(int64_t i) const;
  bool stage_temporal(int64_t i) const;

  // Official tiling (AutoencoderKLCausal3D.__init__, tile_overlap_factor 0.25).
  static constexpr double kTileOverlap = 0.25;
  int64_t tile_sample_min_size() const { return sample_size; }
  int64_t tile_latent_min_size() const;  // int(sample_size / 2^(stages - 1))
  int64_t tile_sample_min_tsize() const { return sample_tsize; }
  int64_t tile_latent_min_tsize() const { return sample_tsize / time_compression_ratio; }

  std::string summary() const;  // one line for inspect / logs
  // Throws a one-line Error naming `where` for values the official class cannot run.
  void validate(const std::string& where) const;
};

// Fields of a config.json: official (AutoencoderKLCausal3D: time_compression_ratio,
// sample_size, sample_tsize) or diffusers (AutoencoderKLHunyuanVideo:
// temporal_compression_ratio, no tile sizes -> the published 256 / 64). `where` names the file.
HunyuanVaeConfig parse_hunyuan_vae_config(const nlohmann::json& j, const std::string& where);

// The official config.json fields (AutoencoderKLCausal3D) of a config.
nlohmann::json hunyuan_vae_config_json(const HunyuanVaeConfig& c);

// True when a config.json looks like a HunyuanVideo VAE's (block_out_channels + latent_channels
// and no DiT/other fields), so an unrelated config.json beside a lone file is ignored.
bool is_hunyuan_vae_config(const nlohmann::json& j);

}  // namespace jenga::hunyuan
