#include "models/wan/wan_dit.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/error.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "models/wan/wan_folder.h"

namespace jenga::wan {

namespace fs = std::filesystem;

WanDit load_wan_dit(const std::string& path_in, DType dtype, const std::function<void(int64_t, int64_t)>& on_block) {
  std::error_code ec;
  if (!fs::exists(path_in, ec)) fail("{}: no such file or folder; pass a Wan2.1 DiT checkpoint", path_in);
  // A folder: its DiT's files only (wan_folder.h), never a converted VAE or umT5 beside them.
  fs::path path = wan_dit_path(path_in);

  const Checkpoint ckpt = Checkpoint::open(path.string());
  const auto layout = detect_layout(ckpt);
  if (!layout)
    fail("{}: holds no Wan2.1 DiT (no patch_embedding.weight with blocks.0.self_attn.q.weight or "
         "blocks.0.attn1.to_q.weight, nor the ComfyUI prefix model.diffusion_model.)", path.string());
  const fs::path dir = fs::is_directory(path, ec) ? path : path.parent_path();
  const auto cfg_json = read_json_if_present((dir / "config.json").string());
  const nlohmann::json* cj = cfg_json && cfg_json->is_object() ? &*cfg_json : nullptr;
  WanDit m;
  m.config = detect_config(ckpt, *layout, cj);
  m.layout = *layout;
  m.source = path.string();
  m.weights = load_wan_weights(ckpt, *layout, m.config, dtype, on_block);
  return m;
}

}  // namespace jenga::wan
