#pragma once
// A random HunyuanVideo VAE folder (official tensor names, official config.json fields): the
// published architecture at full size for benchmarks, or any small config for tests.
#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "models/hunyuan/hunyuan_vae_config.h"

namespace jenga::hunyuan {

// Writes dir/diffusion_pytorch_model.safetensors and dir/config.json. Conv / Linear weights get
// 1/sqrt(fan_in) scales, GroupNorm scales 1 + 0.1 N(0, 1), so activations stay O(1).
void write_random_hunyuan_vae(const HunyuanVaeConfig& config, const std::string& dir, uint64_t seed, DType dtype);

}  // namespace jenga::hunyuan
