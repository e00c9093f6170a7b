#include "models/video_model.h"

#include "core/error.h"

namespace jenga {

Tensor Denoiser::forward_host(const Tensor&, double, int, float, const DitForwardHooks&) {
  fail("denoiser: {} runs on a device, not on host buffers", info().geometry.name);
}

void Denoiser::forward_device(const float*, const float*, int, float, float*, void*, const CudaDitHooks&) {
  fail("denoiser: {} runs on the CPU, not on device buffers", info().geometry.name);
}

Conditioning TextEncoder::encode_with_image(const std::string&, const ReferenceImage&) {
  usage_fail("--image: this model's text encoder takes no image (it is not an image-to-video model)");
}

ReferenceImage VideoModel::prepare_image(const RgbImage&, const std::string&) const {
  usage_fail("--image: {} is not an image-to-video model; drop --image, or give an image-to-video model "
             "(HunyuanVideo-I2V)", geometry().name);
}

}  // namespace jenga
