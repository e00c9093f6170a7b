#include <gtest/gtest.h>

#include <vector>

#include "backend/cuda/cuda_backend.h"
#include "core/dtype.h"
#include "core/tensor.h"

using namespace jenga;

// Runs only where a GPU is present; CI has none and skips.
TEST(Cuda, ConvertKernelMatchesHostRounding) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  cuda::init();
  const auto info = cuda::device_info(0);
  EXPECT_GT(info.sm_count, 0);
  const size_t n = 1 << 20;
  std::vector<float> h(n);
  for (size_t i = 0; i < n; ++i) h[i] = static_cast<float>(i) * 1.2345e-3f - 500.0f;
  Tensor src = Tensor::empty(DType::F32, Shape{static_cast<int64_t>(n)}, Device::CUDA);
  Tensor dst = Tensor::empty(DType::BF16, Shape{static_cast<int64_t>(n)}, Device::CUDA);
  cuda::copy_to_device(src.data(), h.data(), n * 4);
  cuda::convert_f32_to_bf16(src.data_as<float>(), dst.data_as<uint16_t>(), n);
  std::vector<uint16_t> out(n);
  cuda::copy_to_host(out.data(), dst.data(), n * 2);
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(out[i], f32_to_bf16(h[i])) << i;
}
