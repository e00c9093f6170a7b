#pragma once
// Writes a random-weight Wan2.1 DiT checkpoint with the official key names and config.json.
#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "models/wan/wan_config.h"

namespace jenga::wan {

// Writes DIR/config.json and DIR/diffusion_pytorch_model.safetensors (creating DIR).
void write_random_checkpoint(const std::string& dir, const WanConfig& config, uint64_t seed,
                             DType dtype);

}  // namespace jenga::wan
