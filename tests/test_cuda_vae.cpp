// The CUDA Wan VAE decoder against the CPU decoder (f32) and the official goldens: the f32
// mode must match tightly (same logic, f32 arithmetic); the bf16 mode (bf16 conv operands, f32
// accumulation and residual stream) within bf16 rounding. GPU only: skipped without a device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <utility>
#include <vector>

#include "backend/cuda/cuda_backend.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "io/safetensors.h"
#include "models/wan/vae_cpu.h"
#include "models/wan/vae_cuda.h"
#include "models/wan/vae_model.h"
#include "models/wan/vae_random.h"
#include "golden_compare.h"
#include "test_util.h"

using namespace jenga;

namespace {
const std::string kDir = std::string(JENGA_TEST_DATA) + "/wan_vae/";

double rel_l2(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

// PSNR of frames in [-1, 1] (peak-to-peak 2), both clamped as the official output is.
double psnr(std::vector<float> a, std::vector<float> b) {
  double se = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::clamp(a[i], -1.0f, 1.0f) - std::clamp(b[i], -1.0f, 1.0f);
    se += d * d;
  }
  const double mse = se / static_cast<double>(a.size());
  return mse == 0 ? INFINITY : 10.0 * std::log10(4.0 / mse);
}

const wan::WanVae& tiny_vae() {
  static const wan::WanVae vae = wan::WanVae::load(Checkpoint::open(kDir + "tiny_vae.safetensors"));
  return vae;
}
}  // namespace

class CudaVaeDecode : public ::testing::TestWithParam<const char*> {};

TEST_P(CudaVaeDecode, MatchesCpuAndOfficialOnTinyGoldens) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  auto g = SafetensorsFile::open(kDir + GetParam() + ".safetensors");
  const Tensor z = g->load("latents", DType::F32);
  const auto want = g->load("frames_raw", DType::F32).to_f32_vector();
  const auto cpu = wan::vae_decode(tiny_vae(), z, /*clamp=*/false).to_f32_vector();

  // f32 mode: the same computation as the CPU decoder and the official code.
  const Tensor exact = wan::vae_decode_cuda(tiny_vae(), z, /*clamp=*/false, wan::VaePrecision::F32);
  ASSERT_EQ(exact.shape(), g->load("frames_raw").shape());
  EXPECT_LE(test::max_rel_error(exact.to_f32_vector(), want), 1e-4);
  EXPECT_LE(test::max_rel_error(exact.to_f32_vector(), cpu), 1e-4);

  // bf16 mode: the tiny VAE is 3 channels wide, so each bf16 rounding of a conv input or weight
  // weighs heavily (rel L2 5e-2..8e-2 on H100); the width-8 test below holds bf16 to 45 dB.
  const auto got = wan::vae_decode_cuda(tiny_vae(), z, /*clamp=*/false).to_f32_vector();
  for (float v : got) ASSERT_TRUE(std::isfinite(v));
  const double r_cpu = rel_l2(got, cpu), r_off = rel_l2(got, want), p = psnr(got, cpu);
  RecordProperty("rel_l2_vs_cpu", std::to_string(r_cpu));
  RecordProperty("psnr_vs_cpu", std::to_string(p));
  std::printf("[ %s ] bf16: rel L2 vs CPU %.3e, vs official %.3e, PSNR vs CPU %.1f dB\n", GetParam(), r_cpu, r_off, p);
  EXPECT_LT(r_cpu, 0.15);
  EXPECT_GE(p, 38.0);
  // The clamped output is the clamped raw output.
  const auto clamped = wan::vae_decode_cuda(tiny_vae(), z, /*clamp=*/true).to_f32_vector();
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(clamped[i], std::clamp(got[i], -1.0f, 1.0f)) << i;
}

INSTANTIATE_TEST_SUITE_P(Golden, CudaVaeDecode, ::testing::Values("decode_a", "decode_b", "decode_c"));

// The official structure at width 8 (every channel count a multiple of 8: the vectorised
// im2col), a small im2col budget (many row tiles), two decodes on one instance (the cache and
// the buffer pool are reset / reused), against the CPU decoder.
TEST(CudaVae, RandomOfficialStructureTiledMatchesCpu) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  const wan::WanVae vae = wan::random_wan_vae_decoder(8, 5);
  EXPECT_EQ(vae.decoder.spatial_factor, 8);
  EXPECT_EQ(vae.decoder.temporal_factor, 4);
  const int64_t T = 3, H = 4, W = 6;
  Tensor z = Tensor::empty(DType::F32, Shape{16, T, H, W});
  fill_normal(std::span<float>(z.data_as<float>(), static_cast<size_t>(z.numel())), 9);
  const auto cpu = wan::vae_decode(vae, z, false).to_f32_vector();
  EXPECT_LE(test::max_rel_error(wan::vae_decode_cuda(vae, z, false, wan::VaePrecision::F32).to_f32_vector(), cpu),
            1e-4);

  auto dev = wan::WanVaeCuda::from_model(vae);
  dev->set_im2col_budget(1 << 20);  // clamped to 1 MiB: the 32x48 stages take several tiles
  const int64_t F = 1 + 4 * (T - 1);
  Tensor dz = Tensor::empty(DType::F32, z.shape(), Device::CUDA);
  cuda::copy_to_device(dz.data(), z.data(), z.nbytes());
  Tensor out = Tensor::empty(DType::F32, Shape{3, F, 8 * H, 8 * W}, Device::CUDA);
  std::vector<float> first, second(static_cast<size_t>(out.numel()));
  for (int rep = 0; rep < 2; ++rep) {
    dev->decode(dz.data_as<float>(), T, H, W, out.data_as<float>(), false);
    std::vector<float> host(static_cast<size_t>(out.numel()));
    cuda::copy_to_host(host.data(), out.data(), out.nbytes());
    (rep == 0 ? first : second) = std::move(host);
  }
  EXPECT_EQ(first, second);  // deterministic and stateless across calls
  const double r = rel_l2(first, cpu), p = psnr(first, cpu);
  std::printf("[ random width 8 ] rel L2 vs CPU %.3e, PSNR %.1f dB\n", r, p);
  EXPECT_LT(r, 2e-2);
  EXPECT_GE(p, 45.0);
}

TEST(CudaVae, CliDecodeOnCudaMatchesCpu) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  test::TempDir dir;
  const std::string base = "debug vae-decode --vae " + kDir + "tiny_vae.safetensors --latents " + kDir +
                           "decode_b.safetensors --out ";
  const auto a = test::run_jenga(base + (dir / "gpu.safetensors") + " --device cuda --precision f32");
  ASSERT_EQ(a.exit_code, 0) << a.output;
  const auto b = test::run_jenga(base + (dir / "cpu.safetensors"));
  ASSERT_EQ(b.exit_code, 0) << b.output;
  const auto gpu = SafetensorsFile::open(dir / "gpu.safetensors")->load("frames").to_f32_vector();
  const auto cpu = SafetensorsFile::open(dir / "cpu.safetensors")->load("frames").to_f32_vector();
  ASSERT_EQ(gpu.size(), cpu.size());
  EXPECT_LE(test::max_rel_error(gpu, cpu), 1e-4);
  for (float v : gpu) ASSERT_TRUE(v >= -1.0f && v <= 1.0f);
}

// Progress per latent frame (issue #27): on_frame(t, T) for t = 1 .. T in order, each after
// frame t's work ran (the output so far is final when it is called), and the same frames as
// without the callback.
TEST(CudaVae, ReportsProgressPerLatentFrame) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  const wan::WanVae vae = wan::random_wan_vae_decoder(8, 5);
  const int64_t T = 4, H = 2, W = 3;
  Tensor z = Tensor::empty(DType::F32, Shape{16, T, H, W});
  fill_normal(std::span<float>(z.data_as<float>(), static_cast<size_t>(z.numel())), 11);
  std::vector<std::pair<int64_t, int64_t>> calls;
  const auto with = wan::vae_decode_cuda(vae, z, true, wan::VaePrecision::Bf16, [&](int64_t done, int64_t total) {
                      calls.emplace_back(done, total);
                    }).to_f32_vector();
  ASSERT_EQ(calls.size(), static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) EXPECT_EQ(calls[static_cast<size_t>(t)], std::make_pair(t + 1, T));
  EXPECT_EQ(with, wan::vae_decode_cuda(vae, z, true).to_f32_vector());
}
