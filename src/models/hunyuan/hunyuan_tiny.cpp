#include "models/hunyuan/hunyuan_tiny.h"

#include "models/random_checkpoint.h"

namespace jenga::hunyuan {

void write_random_checkpoint(const std::string& dir, const HunyuanConfig& config, uint64_t seed, DType dtype) {
  config.validate();
  // Scales that keep activations O(1) through the network (the official init zeroes the
  // modulation and final layers, which would make every test compare zeros).
  const auto special = [](const std::string& name) -> std::optional<RandomInit> {
    if (name_ends_with(name, "norm.weight") || name_ends_with(name, "norm1.weight") ||
        name_ends_with(name, "norm2.weight"))
      return RandomInit{0.1f, 1.0f};  // q/k RMSNorm scales, refiner LayerNorm scales
    return std::nullopt;
  };
  write_random_model_folder(dir, official_tensors(config), config.to_json(), seed, dtype, special);
}

}  // namespace jenga::hunyuan
