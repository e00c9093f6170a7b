#pragma once
// Decoded video frames as 8-bit RGB, and the conversion from the VAE's [-1, 1] output.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace jenga {

struct Frames {
  int width = 0, height = 0, count = 0;
  std::vector<uint8_t> rgb;  // [count][height][width][3]

  const uint8_t* frame(int i) const { return rgb.data() + static_cast<size_t>(i) * width * height * 3; }
};

// x: [3, T, H, W] f32 in [-1, 1] (clamped) -> 8-bit RGB the way the official Wan pipeline
// saves videos: (x + 1) / 2 * 255, truncated.
Frames frames_from_unit_range(const float* x, int t, int h, int w);

}  // namespace jenga
