#include "models/wan/video_rgb8.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace jenga::wan {

Tensor frames_to_rgb8(const Tensor& frames) {
  if (frames.device() != Device::CPU || frames.dtype() != DType::F32 || frames.ndim() != 4 || frames.dim(0) != 3)
    fail("frames_to_rgb8: expected CPU f32 frames [3, F, H, W], got {} {}", dtype_name(frames.dtype()), frames.shape().str());
  const int64_t F = frames.dim(1), HW = frames.dim(2) * frames.dim(3);
  Tensor out = Tensor::empty(DType::U8, {F, frames.dim(2), frames.dim(3), 3});
  const float* x = frames.data_as<float>();
  uint8_t* o = out.data_as<uint8_t>();
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t f = 0; f < F; ++f)
      for (int64_t p = 0; p < HW; ++p) {
        float v = x[(c * F + f) * HW + p];
        v = std::isnan(v) ? v : std::clamp(v, -1.0f, 1.0f);
        const float s = (v + 1.0f) / 2.0f * 255.0f;
        o[(f * HW + p) * 3 + c] = std::isnan(s) ? 0 : static_cast<uint8_t>(s);  // truncation, as .type(uint8)
      }
  return out;
}

}  // namespace jenga::wan
