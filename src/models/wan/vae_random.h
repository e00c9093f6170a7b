#pragma once
// A Wan2.1 VAE decoder of the official structure (Decoder3d with dim_mult [1, 2, 4, 4], 2 res
// blocks, temporal upsampling in the first two stages) with random weights, for benchmarks
// when no checkpoint is given. Weights ~ N(0, 1/fan_in), biases ~ N(0, 0.02^2), gammas 1.
#include <cstdint>

#include "models/wan/vae_model.h"

namespace jenga::wan {

// base_dim 96 is Wan2.1's; z_dim is 16.
WanVae random_wan_vae_decoder(int64_t base_dim, uint64_t seed);

}  // namespace jenga::wan
