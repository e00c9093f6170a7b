#pragma once
// A random-weight umT5 encoder with the official key names (models_t5_umt5-xxl-enc-bf16 layout),
// for tiny test models whose DiT expects a given text width.
#include <cstdint>
#include <string>

#include "models/wan/t5_encoder.h"

namespace jenga::wan {

// Writes `path` (.safetensors, f32). Weights ~ N(0, 1/fan_in), norms 1.
void write_random_t5(const std::string& path, const T5Config& config, uint64_t seed);

}  // namespace jenga::wan
