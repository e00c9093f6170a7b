#pragma once
// Wan2.1 DiT hyper-parameters, detected from the weights (or read from the official
// config.json), and the official tensor list for a config.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace jenga {
class Checkpoint;
}

namespace jenga::wan {

enum class Layout { Official, Diffusers, ComfyUI };
std::string_view layout_name(Layout l);

struct WanConfig {
  std::string model_type = "t2v";  // t2v | i2v
  int64_t dim = 1536;
  int64_t ffn_dim = 8960;
  int64_t freq_dim = 256;
  int64_t num_heads = 12;
  int64_t num_layers = 30;
  int64_t in_dim = 16;
  int64_t out_dim = 16;
  int64_t text_dim = 4096;
  int64_t text_len = 512;
  int64_t patch[3] = {1, 2, 2};  // t, h, w
  double eps = 1e-6;

  int64_t head_dim() const { return dim / num_heads; }
  // "1.3B", "14B" or "custom" (from dim/layers, as published).
  std::string size_name() const;
  int64_t parameter_count() const;

  static WanConfig wan_1_3b();
  static WanConfig wan_14b();
  // A few-layer random test model (used by tests and `generate` without --model).
  static WanConfig tiny();

  nlohmann::json to_json() const;  // the official config.json format
  static WanConfig from_json(const nlohmann::json& j);  // throws on missing/invalid keys
  void validate() const;                                // throws UsageError-free Error
};

// The official Wan2.1 key names and shapes for a config (what `WanModel.state_dict()` holds).
std::vector<std::pair<std::string, std::vector<int64_t>>> official_tensors(const WanConfig& c);

// Which of the three published layouts the checkpoint uses, or nullopt if it is no Wan DiT.
std::optional<Layout> detect_layout(const Checkpoint& ckpt);
// Dimensions from tensor shapes; num_heads needs config.json (pass it) or assumes head dim 128.
WanConfig detect_config(const Checkpoint& ckpt, Layout layout, const nlohmann::json* config_json);

}  // namespace jenga::wan
