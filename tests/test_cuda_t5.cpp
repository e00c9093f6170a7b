// The CUDA umT5 encoder (bf16 weights and GEMMs, f32 residual stream) against the CPU encoder
// (f32) and the official goldens on the tiny checkpoint. GPU only: skips without a device.
#include <gtest/gtest.h>

#include <cmath>
#include <span>
#include <vector>

#include "backend/cuda/cuda_backend.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "io/safetensors.h"
#include "models/wan/t5_encoder.h"
#include "models/wan/t5_encoder_cuda.h"
#include "test_util.h"

namespace wan = jenga::wan;
using jenga::Tensor;

namespace {
const std::string kDir = std::string(JENGA_TEST_DATA) + "/wan_t5/";

std::vector<int64_t> i64(const Tensor& t) {
  const auto* p = t.data_as<int64_t>();
  return std::vector<int64_t>(p, p + t.numel());
}

double rel_l2(const Tensor& a, const Tensor& b) {
  const auto x = a.to_f32_vector(), y = b.to_f32_vector();
  double num = 0, den = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    num += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
    den += double(y[i]) * y[i];
  }
  return std::sqrt(num / den);
}

// bf16 weights and GEMM operands against f32 over 3 layers.
constexpr double kTol = 1e-2;
}  // namespace

class CudaT5Golden : public ::testing::TestWithParam<const char*> {};

TEST_P(CudaT5Golden, MatchesCpuAndOfficial) {
  if (!jenga::cuda::available()) GTEST_SKIP() << "no CUDA device";
  const auto cpu = wan::T5Encoder::open(kDir + "tiny_t5.safetensors");
  auto gpu = wan::T5EncoderCuda::from_encoder(cpu);
  auto g = jenga::SafetensorsFile::open(kDir + GetParam() + ".safetensors");
  const auto ids = i64(g->load("ids")), mask = i64(g->load("mask"));
  const Tensor got = gpu->encode(ids, mask);
  const Tensor want = cpu.encode(ids, mask);
  ASSERT_EQ(got.shape(), want.shape());
  EXPECT_LT(rel_l2(got, want), kTol);
  EXPECT_LT(rel_l2(got, g->load("context", jenga::DType::F32)), kTol);
}

// a: 10 of 24 tokens, b: 24 of 24, c: 1 of 8, d: 150 of 160 (past max_dist 128; the 16-per-lane softmax).
INSTANTIATE_TEST_SUITE_P(Golden, CudaT5Golden, ::testing::Values("encode_a", "encode_b", "encode_c", "encode_d"));

TEST(CudaT5, MaskHolesAndLongPromptsMatchCpu) {
  if (!jenga::cuda::available()) GTEST_SKIP() << "no CUDA device";
  const auto cpu = wan::T5Encoder::open(kDir + "tiny_t5.safetensors");
  auto gpu = wan::T5EncoderCuda::from_encoder(cpu);
  // 600 tokens takes the any-length softmax; a masked key inside the prompt must be excluded.
  for (const int64_t n : {40, 600}) {
    std::vector<int64_t> ids(static_cast<size_t>(n + 5), 0), mask(ids.size(), 0);
    for (int64_t i = 0; i < n; ++i) ids[i] = 3 + (i * 37) % 290, mask[i] = 1;
    mask[n / 3] = 0;
    const Tensor want = cpu.encode(ids, mask);
    const Tensor got = gpu->encode(ids, mask);
    ASSERT_EQ(got.shape(), want.shape());
    const double err = rel_l2(got, want);
    EXPECT_LT(err, kTol) << n << " tokens";
    if (n == 40) {
      // Here the hole changes the context by about 4%, far above the bf16 error: a kernel that
      // ignored the mask would land nearer the unmasked context.
      mask[n / 3] = 1;
      const Tensor unmasked = cpu.encode(ids, mask);
      const Tensor first =
          Tensor::from_f32(std::span<const float>(unmasked.data_as<float>(), static_cast<size_t>(got.numel())), got.shape());
      EXPECT_GT(rel_l2(got, first), 3 * err);
    }
  }
}

TEST(CudaT5, BadInputsAreClearErrors) {
  if (!jenga::cuda::available()) GTEST_SKIP() << "no CUDA device";
  auto gpu = wan::T5EncoderCuda::from_encoder(wan::T5Encoder::open(kDir + "tiny_t5.safetensors"));
  EXPECT_THROW(gpu->encode(std::vector<int64_t>{5, 300}, std::vector<int64_t>{1, 1}), jenga::Error);
  EXPECT_THROW(gpu->encode(std::vector<int64_t>{5, 1}, std::vector<int64_t>{1}), jenga::Error);
  EXPECT_EQ(gpu->encode(std::vector<int64_t>{0, 0}, std::vector<int64_t>{0, 0}).dim(0), 0);
  gpu->reserve(8);
  // forward() past the reserved length refuses instead of overrunning its buffers.
  EXPECT_THROW(gpu->forward(nullptr, nullptr, 9, nullptr, 9), jenga::Error);
}

TEST(CudaT5, RandomWeightsEncodeFinite) {
  if (!jenga::cuda::available()) GTEST_SKIP() << "no CUDA device";
  wan::T5Config c{500, 64, 64, 96, 4, 2, 32, 128, false};
  auto gpu = wan::T5EncoderCuda::random(c, 3);
  std::vector<int64_t> ids = {7, 42, 499, 1, 0}, mask = {1, 1, 1, 1, 0};
  const Tensor a = gpu->encode(ids, mask);
  ASSERT_EQ(a.dim(0), 4);
  ASSERT_EQ(a.dim(1), 64);
  // The final norm has unit weights: each row's RMS is 1.
  const auto v = a.to_f32_vector();
  for (int64_t r = 0; r < 4; ++r) {
    double s = 0;
    for (int64_t j = 0; j < 64; ++j) s += double(v[r * 64 + j]) * v[r * 64 + j];
    EXPECT_NEAR(std::sqrt(s / 64), 1.0, 1e-3);
  }
  EXPECT_GT(gpu->weight_bytes(), size_t(500 * 64 * 2));
  EXPECT_GT(gpu->flops(4), 0.0);
}

TEST(CudaT5, CliEncodeTextOnCuda) {
  if (!jenga::cuda::available()) GTEST_SKIP() << "no CUDA device";
  jenga::test::TempDir dir;
  const std::string in = kDir + "encode_d.safetensors";
  auto r = jenga::test::run_jenga("debug encode-text --device cuda --text-encoder " + kDir + "tiny_t5.safetensors --ids " +
                                  in + " --out " + (dir / "ctx.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto got = jenga::SafetensorsFile::open(dir / "ctx.safetensors")->load("context");
  auto want = jenga::SafetensorsFile::open(in)->load("context", jenga::DType::F32);
  ASSERT_EQ(got.shape(), want.shape());
  EXPECT_LT(rel_l2(got, want), kTol);
}
