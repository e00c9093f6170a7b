#include "models/hunyuan/i2v_loop.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "models/hunyuan/hunyuan_vae_tiling.h"

namespace jenga::hunyuan {

namespace {

// latents [C, T, H, W] f32 and an image latent [C, 1, H, W] f32 that fits it.
void check_pair(const Tensor& x, const Tensor& img, const char* what) {
  if (x.dtype() != DType::F32 || x.ndim() != 4 || x.dim(1) < 1)
    fail("{}: latents are {} {}, expected f32 [C, T, H, W]", what, dtype_name(x.dtype()), x.shape().str());
  if (img.dtype() != DType::F32 || img.ndim() != 4 || img.dim(0) != x.dim(0) || img.dim(1) != 1 ||
      img.dim(2) != x.dim(2) || img.dim(3) != x.dim(3))
    fail("{}: the image latent is {} {}, expected f32 [{}, 1, {}, {}] (one latent frame of the video's size)", what,
         dtype_name(img.dtype()), img.shape().str(), x.dim(0), x.dim(2), x.dim(3));
}

}  // namespace

Tensor i2v_image_latent(const HunyuanVae& vae, const Tensor& pixels, bool tiling) {
  if (pixels.dtype() != DType::F32 || pixels.ndim() != 3 || pixels.dim(0) != 3)
    fail("I2V image latent: pixels are {} {}, expected f32 [3, H, W] in [-1, 1]", dtype_name(pixels.dtype()),
         pixels.shape().str());
  const Tensor frames = pixels.reshape({3, 1, pixels.dim(1), pixels.dim(2)});
  return hunyuan_vae_encode(vae, frames, tiling);
}

void i2v_stability_blend(Tensor& noise, const Tensor& image_latent) {
  check_pair(noise, image_latent, "--i2v-stability");
  const int64_t C = noise.dim(0), T = noise.dim(1), HW = noise.dim(2) * noise.dim(3);
  const float t = kI2vStabilityT, u = 1.0f - kI2vStabilityT;  // both f32, as torch's f32 tensor t
  float* x = noise.data_as<float>();
  const float* im = image_latent.data_as<float>();
  for (int64_t c = 0; c < C; ++c)
    for (int64_t f = 0; f < T; ++f) {
      float* row = x + (c * T + f) * HW;
      const float* ir = im + c * HW;
      for (int64_t i = 0; i < HW; ++i) row[i] = row[i] * t + ir[i] * u;
    }
}

void i2v_replace_first_frame(Tensor& latents, const Tensor& image_latent) {
  check_pair(latents, image_latent, "I2V first frame");
  const int64_t C = latents.dim(0), T = latents.dim(1), HW = latents.dim(2) * latents.dim(3);
  for (int64_t c = 0; c < C; ++c)
    std::memcpy(latents.data_as<float>() + c * T * HW, image_latent.data_as<float>() + c * HW,
                static_cast<size_t>(HW) * sizeof(float));
}

void i2v_euler_step(Tensor& latents, const Tensor& v, const Tensor& image_latent, float sigma, float sigma_next) {
  check_pair(latents, image_latent, "I2V Euler step");
  if (v.dtype() != DType::F32 || v.shape() != latents.shape())
    fail("I2V Euler step: the model output is {} {}, expected f32 {}", dtype_name(v.dtype()), v.shape().str(),
         latents.shape().str());
  const int64_t C = latents.dim(0), T = latents.dim(1), HW = latents.dim(2) * latents.dim(3);
  const float dt = sigma_next - sigma;  // f32 - f32, as the scheduler's sigmas table
  float* x = latents.data_as<float>();
  const float* vp = v.data_as<float>();
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = (c * T + 1) * HW; i < (c + 1) * T * HW; ++i) x[i] = x[i] + vp[i] * dt;
  i2v_replace_first_frame(latents, image_latent);
}

Tensor i2v_latent_concat_input(const Tensor& latents, const Tensor& image_latent) {
  check_pair(latents, image_latent, "I2V latent concat");
  const int64_t C = latents.dim(0), T = latents.dim(1), H = latents.dim(2), W = latents.dim(3), HW = H * W;
  Tensor out = Tensor::zeros(DType::F32, {2 * C + 1, T, H, W});
  float* o = out.data_as<float>();
  std::memcpy(o, latents.data_as<float>(), static_cast<size_t>(C * T * HW) * sizeof(float));
  for (int64_t c = 0; c < C; ++c)
    std::memcpy(o + ((C + c) * T) * HW, image_latent.data_as<float>() + c * HW, static_cast<size_t>(HW) * sizeof(float));
  std::fill_n(o + (2 * C * T) * HW, HW, 1.0f);
  return out;
}

}  // namespace jenga::hunyuan
