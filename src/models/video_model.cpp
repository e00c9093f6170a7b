#include "models/video_model.h"

#include "core/error.h"

namespace jenga {

Tensor Denoiser::forward_host(const Tensor&, double, int, float, const DitForwardHooks&) {
  fail("denoiser: {} runs on a device, not on host buffers", info().geometry.name);
}

void Denoiser::forward_device(const float*, const float*, int, float, float*, void*, const CudaDitHooks&) {
  fail("denoiser: {} runs on the CPU, not on device buffers", info().geometry.name);
}

}  // namespace jenga
