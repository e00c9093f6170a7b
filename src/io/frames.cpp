#include "io/frames.h"

#include <algorithm>

namespace jenga {

Frames frames_from_unit_range(const float* x, int t, int h, int w) {
  Frames f;
  f.width = w, f.height = h, f.count = t;
  f.rgb.resize(static_cast<size_t>(t) * h * w * 3);
  const size_t plane = static_cast<size_t>(t) * h * w;
  for (size_t i = 0; i < plane; ++i)
    for (int c = 0; c < 3; ++c) {
      const float v = std::clamp(x[c * plane + i], -1.0f, 1.0f);
      f.rgb[i * 3 + c] = static_cast<uint8_t>((v + 1.0f) * 0.5f * 255.0f);  // truncation, as torch .type(uint8)
    }
  return f;
}

}  // namespace jenga
