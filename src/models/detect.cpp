#include "models/detect.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "models/hunyuan/hunyuan_config.h"
#include "models/hunyuan/hunyuan_vae.h"
#include "models/wan/wan_config.h"

namespace jenga {

namespace {
std::optional<nlohmann::json> read_config_beside(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path dir = fs::is_directory(path, ec) ? fs::path(path) : fs::path(path).parent_path();
  return read_json_if_present((dir / "config.json").string());  // never opens a FIFO
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
  if (auto layout = hunyuan::detect_layout(ckpt)) {
    auto cfg_json = read_config_beside(path);
    const nlohmann::json* cj = (cfg_json && cfg_json->is_object() &&
                                (cfg_json->contains("rope_dim_list") || cfg_json->contains("rope_axes_dim")))
                                   ? &*cfg_json
                                   : nullptr;
    const hunyuan::HunyuanConfig c = hunyuan::detect_config(ckpt, *layout, cj, /*require_rope=*/false);
    const std::string rope = c.rope_known() ? fmt::format("[{}, {}, {}]", c.rope_dim[0], c.rope_dim[1], c.rope_dim[2])
                                            : std::string("unknown (no config.json with rope_dim_list)");
    DetectedModel m;
    m.family = "hunyuanvideo-dit";
    m.variant = c.variant_name();
    m.layout = std::string(hunyuan::layout_name(*layout));
    m.details = fmt::format(
        "hidden {}, {} heads (head dim {}), {} double + {} single blocks, mlp {}, in/out {}/{}, text dims {}/{}, "
        "guidance embed {}, RoPE {}; {}",
        c.hidden, c.heads, c.head_dim(), c.double_blocks, c.single_blocks, c.mlp_dim, c.in_channels, c.out_channels,
        c.text_dim, c.text_dim_2, c.guidance_embed ? "yes" : "no", rope,
        c.is_i2v() ? "I2V: more input than output channels (latent concat)"
                   : "T2V by its channels; the T2V release and its fine-tunes (AccVideo) have the same tensors, "
                     "detection cannot tell them apart");
    return m;
  }
  if (hunyuan::looks_like_hunyuan_vae(ckpt)) {
    // Official, diffusers and ComfyUI files share the names; the config says which folder it was.
    DetectedModel m{"hunyuanvideo-vae", "", "official", ""};
    try {
      const auto c = hunyuan::hunyuan_vae_config_for(ckpt, hunyuan::resolve_hunyuan_vae_files(path).config_json);
      m.variant = c.block_out_channels == hunyuan::HunyuanVaeConfig{}.block_out_channels && c.latent_channels == 16
                      ? "884-16c-hy"
                      : "custom";
      if (c.source.find("diffusers") != std::string::npos) m.layout = "diffusers";
      m.details = "causal 3D VAE: " + c.summary();
    } catch (const Error& e) {
      m.details = std::string("causal 3D VAE; its config is not usable: ") + e.what();
    }
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
