#pragma once
// Decoded frames to 8-bit RGB exactly as the official writer (wan/utils/utils.py cache_video:
// clamp to [-1, 1], make_grid normalize -> (x + 1) / 2, * 255, truncating cast to uint8).
#include "core/tensor.h"

namespace jenga::wan {

// frames: [3, F, H, W] f32 -> [F, H, W, 3] u8 (interleaved RGB, the layout encoders take).
Tensor frames_to_rgb8(const Tensor& frames);

}  // namespace jenga::wan
