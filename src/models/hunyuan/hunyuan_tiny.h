#pragma once
// Writes a random-weight HunyuanVideo DiT checkpoint with the official key names and a config.json.
#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "models/hunyuan/hunyuan_config.h"

namespace jenga::hunyuan {

// Writes DIR/config.json and DIR/diffusion_pytorch_model.safetensors (creating DIR).
void write_random_checkpoint(const std::string& dir, const HunyuanConfig& config, uint64_t seed, DType dtype);

}  // namespace jenga::hunyuan
