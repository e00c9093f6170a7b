#include "models/detect.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/safetensors.h"
#include "models/wan/wan_config.h"

namespace jenga {

namespace {
std::optional<nlohmann::json> read_config_beside(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path dir = fs::is_directory(path) ? fs::path(path) : fs::path(path).parent_path();
  fs::path cfg = dir / "config.json";
  if (!fs::exists(cfg)) return std::nullopt;
  std::ifstream in(cfg);
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not valid JSON ({}); fix or delete it", cfg.string(), e.what());
  }
}
}  // namespace

std::optional<DetectedModel> detect_model(const Checkpoint& ckpt, const std::string& path) {
  if (auto layout = wan::detect_layout(ckpt)) {
    auto cfg_json = read_config_beside(path);
    const nlohmann::json* cj = (cfg_json && cfg_json->is_object() && (cfg_json->contains("dim") || cfg_json->contains("num_attention_heads"))) ? &*cfg_json : nullptr;
    const wan::WanConfig c = wan::detect_config(ckpt, *layout, cj);
    DetectedModel m;
    m.family = "wan2.1-" + c.model_type + "-dit";
    m.variant = c.size_name();
    m.layout = std::string(wan::layout_name(*layout));
    m.details = fmt::format("dim {}, {} layers, {} heads (head dim {}), ffn {}, text dim {}, in/out {}/{}",
                            c.dim, c.num_layers, c.num_heads, c.head_dim(), c.ffn_dim, c.text_dim,
                            c.in_dim, c.out_dim);
    return m;
  }
  if (ckpt.contains("shared.weight") && ckpt.contains("encoder.block.0.layer.0.SelfAttention.q.weight"))
    return DetectedModel{"umt5-encoder", "", "diffusers", "text encoder (T5 family)"};
  if (ckpt.contains("token_embedding.weight") && ckpt.contains("blocks.0.attn.q.weight"))
    return DetectedModel{"umt5-encoder", "", "official", "text encoder (T5 family)"};
  if (ckpt.contains("decoder.conv1.weight") && ckpt.contains("conv2.weight"))
    return DetectedModel{"wan2.1-vae", "", "official", "video VAE"};
  if (ckpt.contains("decoder.conv_in.weight") && ckpt.contains("post_quant_conv.weight"))
    return DetectedModel{"wan2.1-vae", "", "diffusers", "video VAE"};
  return std::nullopt;
}

}  // namespace jenga
