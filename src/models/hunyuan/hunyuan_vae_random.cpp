#include "models/hunyuan/hunyuan_vae_random.h"

#include "models/hunyuan/hunyuan_vae.h"
#include "models/random_checkpoint.h"

namespace jenga::hunyuan {

void write_random_hunyuan_vae(const HunyuanVaeConfig& config, const std::string& dir, uint64_t seed, DType dtype) {
  write_random_model_folder(dir, hunyuan_vae_tensors(config), hunyuan_vae_config_json(config), seed, dtype,
                            [](const std::string& n) -> std::optional<RandomInit> {
                              const bool norm = n.find("norm") != std::string::npos;
                              if (norm && name_ends_with(n, ".weight")) return RandomInit{0.1f, 1.0f};
                              if (norm && name_ends_with(n, ".bias")) return RandomInit{0.1f, 0.0f};
                              return std::nullopt;
                            });
}

}  // namespace jenga::hunyuan
