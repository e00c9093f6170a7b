#include "models/hunyuan/hunyuan_vae_config.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace jenga::hunyuan {

namespace {
int64_t log2_exact(int64_t v) {
  int64_t n = 0;
  while ((int64_t{1} << n) < v) ++n;
  return n;
}
}  // namespace

bool HunyuanVaeConfig::stage_spatial(int64_t i) const {
  return i < log2_exact(spatial_compression_ratio);
}

bool HunyuanVaeConfig::stage_temporal(int64_t i) const {
  return i >= stages() - 1 - log2_exact(time_compression_ratio) && i != stages() - 1;
}

int64_t HunyuanVaeConfig::tile_latent_min_size() const {
  // Python int(sample_size / (2 ** (len(block_out_channels) - 1))): true division, truncated.
  return static_cast<int64_t>(static_cast<double>(sample_size) / std::ldexp(1.0, static_cast<int>(stages() - 1)));
}

std::string HunyuanVaeConfig::summary() const {
  std::string ch;
  for (size_t i = 0; i < block_out_channels.size(); ++i) {
    if (i) ch += ",";
    ch += std::to_string(block_out_channels[i]);
  }
  std::string s = fmt::format(
      "latent {} ch, blocks [{}], {} res/stage, GroupNorm {}, {}x time / {}x space, mid attention {}, scaling {}, "
      "tiles {} px / {} frames; config: {}",
      latent_channels, ch, layers_per_block, norm_num_groups, time_compression_ratio, spatial_compression_ratio,
      mid_block_add_attention ? "yes" : "no", scaling_factor, sample_size, sample_tsize, source);
  if (!defaulted.empty()) {
    s += "; published values assumed for";
    for (size_t i = 0; i < defaulted.size(); ++i) {
      s += i ? ", " : " ";
      s += defaulted[i];
    }
  }
  return s;
}

void HunyuanVaeConfig::validate(const std::string& where) const {
  if (block_out_channels.empty()) fail("{}: block_out_channels is empty", where);
  for (int64_t c : block_out_channels)
    if (c < 1 || norm_num_groups < 1 || c % norm_num_groups != 0)
      fail("{}: block_out_channels {} is not a multiple of norm_num_groups {}", where, c, norm_num_groups);
  if (time_compression_ratio != 4)
    fail("{}: time_compression_ratio {} is not supported (the official AutoencoderKLCausal3D supports 4 only)", where,
         time_compression_ratio);
  if (spatial_compression_ratio < 1 || (spatial_compression_ratio & (spatial_compression_ratio - 1)) != 0)
    fail("{}: spatial_compression_ratio {} is not a power of two", where, spatial_compression_ratio);
  if (latent_channels < 1 || in_channels < 1 || out_channels < 1) fail("{}: channel counts must be positive", where);
  if (layers_per_block < 1) fail("{}: layers_per_block {} must be >= 1", where, layers_per_block);
  if (!(scaling_factor > 0) || !std::isfinite(scaling_factor)) fail("{}: scaling_factor {} must be > 0", where, scaling_factor);
  // The official tiled loops step by int(tile * 0.75); a zero step never ends in Python (range() raises).
  if (static_cast<int64_t>(tile_latent_min_size() * (1 - kTileOverlap)) < 1 ||
      static_cast<int64_t>(tile_sample_min_size() * (1 - kTileOverlap)) < 1)
    fail("{}: sample_size {} gives a zero spatial tile stride; it must be >= {}", where, sample_size,
         2 * (int64_t{1} << (stages() - 1)));
  if (static_cast<int64_t>(tile_latent_min_tsize() * (1 - kTileOverlap)) < 1 ||
      static_cast<int64_t>(tile_sample_min_tsize() * (1 - kTileOverlap)) < 1)
    fail("{}: sample_tsize {} gives a zero temporal tile stride; it must be >= {}", where, sample_tsize,
         2 * time_compression_ratio);
}

nlohmann::json hunyuan_vae_config_json(const HunyuanVaeConfig& c) {
  const auto n = c.block_out_channels.size();
  return {{"_class_name", "AutoencoderKLCausal3D"},
          {"in_channels", c.in_channels},
          {"out_channels", c.out_channels},
          {"down_block_types", std::vector<std::string>(n, "DownEncoderBlockCausal3D")},
          {"up_block_types", std::vector<std::string>(n, "UpDecoderBlockCausal3D")},
          {"block_out_channels", c.block_out_channels},
          {"layers_per_block", c.layers_per_block},
          {"act_fn", "silu"},
          {"latent_channels", c.latent_channels},
          {"norm_num_groups", c.norm_num_groups},
          {"sample_size", c.sample_size},
          {"sample_tsize", c.sample_tsize},
          {"scaling_factor", c.scaling_factor},
          {"time_compression_ratio", c.time_compression_ratio},
          {"spatial_compression_ratio", c.spatial_compression_ratio},
          {"mid_block_add_attention", c.mid_block_add_attention}};
}

bool is_hunyuan_vae_config(const nlohmann::json& j) {
  return j.is_object() && j.contains("block_out_channels") && j.contains("latent_channels") &&
         !j.contains("hidden_size") && !j.contains("num_attention_heads");
}

HunyuanVaeConfig parse_hunyuan_vae_config(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) fail("{}: not a JSON object", where);
  HunyuanVaeConfig c;
  const std::string cls = j.value("_class_name", std::string());
  const bool diffusers = cls == "AutoencoderKLHunyuanVideo" || j.contains("temporal_compression_ratio");
  c.source = where + (diffusers ? " (diffusers AutoencoderKLHunyuanVideo fields)" : " (official AutoencoderKLCausal3D fields)");
  try {
    auto get_int = [&](const char* key, int64_t& dst) {
      if (!j.contains(key) || j[key].is_null()) {
        c.defaulted.push_back(key);
        return;
      }
      const auto& v = j[key].is_array() && !j[key].empty() ? j[key][0] : j[key];  // sample_size may be [h, w]
      if (!v.is_number_integer()) fail("{}: field {} is {}, expected an integer", where, key, v.dump());
      dst = v.get<int64_t>();
    };
    get_int("in_channels", c.in_channels);
    get_int("out_channels", c.out_channels);
    get_int("latent_channels", c.latent_channels);
    get_int("layers_per_block", c.layers_per_block);
    get_int("norm_num_groups", c.norm_num_groups);
    // Not in the published official config.json: the class default 8 is what the official code uses.
    if (j.contains("spatial_compression_ratio")) get_int("spatial_compression_ratio", c.spatial_compression_ratio);
    get_int(diffusers ? "temporal_compression_ratio" : "time_compression_ratio", c.time_compression_ratio);
    if (diffusers) {
      // AutoencoderKLHunyuanVideo has no tile sizes in its config; the official release's are used.
      c.defaulted.push_back("sample_size");
      c.defaulted.push_back("sample_tsize");
    } else {
      get_int("sample_size", c.sample_size);
      get_int("sample_tsize", c.sample_tsize);
    }
    if (j.contains("block_out_channels")) {
      const auto& b = j["block_out_channels"];
      if (!b.is_array() || b.empty()) fail("{}: block_out_channels is not a non-empty list", where);
      c.block_out_channels.clear();
      for (const auto& v : b) {
        if (!v.is_number_integer()) fail("{}: block_out_channels holds {}, expected integers", where, v.dump());
        c.block_out_channels.push_back(v.get<int64_t>());
      }
    } else {
      c.defaulted.push_back("block_out_channels");
    }
    if (j.contains("mid_block_add_attention")) {
      if (!j["mid_block_add_attention"].is_boolean()) fail("{}: mid_block_add_attention is not true/false", where);
      c.mid_block_add_attention = j["mid_block_add_attention"].get<bool>();
    }
    if (j.contains("scaling_factor") && !j["scaling_factor"].is_null()) {
      if (!j["scaling_factor"].is_number()) fail("{}: scaling_factor is not a number", where);
      c.scaling_factor = j["scaling_factor"].get<double>();
    } else {
      c.defaulted.push_back("scaling_factor");
    }
    if (j.contains("shift_factor") && !j["shift_factor"].is_null() && j["shift_factor"].get<double>() != 0.0)
      fail("{}: shift_factor {} is set; the HunyuanVideo VAE has none (is this another model's VAE?)", where,
           j["shift_factor"].dump());
    if (j.contains("act_fn") && j["act_fn"] != "silu")
      fail("{}: act_fn {} is not supported (the HunyuanVideo VAE uses silu)", where, j["act_fn"].dump());
    for (const char* key : {"down_block_types", "up_block_types"})
      if (j.contains(key) && j[key].is_array() && j[key].size() != c.block_out_channels.size())
        fail("{}: {} has {} entries but block_out_channels has {}", where, key, j[key].size(),
             c.block_out_channels.size());
  } catch (const nlohmann::json::exception& e) {
    fail("{}: unexpected value ({})", where, e.what());
  }
  c.validate(where);
  return c;
}

}  // namespace jenga::hunyuan
