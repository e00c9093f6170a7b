#include "models/wan/wan_tiny.h"

#include <cmath>

#include "models/random_checkpoint.h"

namespace jenga::wan {

void write_random_checkpoint(const std::string& dir, const WanConfig& config, uint64_t seed, DType dtype) {
  config.validate();
  // Scales that keep activations O(1) through the network, so tests compare real numbers.
  const auto special = [&](const std::string& name) -> std::optional<RandomInit> {
    if (name.find("modulation") != std::string::npos) return RandomInit{1.0f / std::sqrt(static_cast<float>(config.dim)), 0.0f};
    if (name_ends_with(name, "norm_q.weight") || name_ends_with(name, "norm_k.weight") ||
        name_ends_with(name, "norm_k_img.weight") || name_ends_with(name, "norm3.weight") ||
        name == "img_emb.proj.0.weight" || name == "img_emb.proj.4.weight")
      return RandomInit{0.1f, 1.0f};
    return std::nullopt;
  };
  write_random_model_folder(dir, official_tensors(config), config.to_json(), seed, dtype, special);
}

}  // namespace jenga::wan
