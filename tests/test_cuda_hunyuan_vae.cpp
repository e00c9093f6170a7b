// The CUDA HunyuanVideo VAE (fp16 activations and conv operands, f32 accumulation) against the
// official goldens of tests/data/hunyuan_vae (decode and encode), through the same official
// tiling; its workspace (sized once per tile shape), its conv paths and A/B switches against the
// CPU f32 model, and the mid attention's frame-causal softmax. GPU only: skipped without a device.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/softmax.h"
#include "core/dtype.h"
#include "io/safetensors.h"
#include "models/hunyuan/hunyuan_vae.h"
#include "models/hunyuan/hunyuan_vae_cuda.h"
#include "models/hunyuan/hunyuan_vae_random.h"
#include "models/hunyuan/hunyuan_vae_tiling.h"

using namespace jenga;

namespace {
double rel_l2(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}
}  // namespace

TEST(CudaHunyuanVae, DecodeMatchesOfficialGoldens) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  const std::string dir = std::string(JENGA_TEST_DATA) + "/hunyuan_vae";
  const auto vae = hunyuan::HunyuanVae::load(dir + "/vae");
  const auto g = SafetensorsFile::open(dir + "/golden.safetensors");
  const std::pair<const char*, bool> cases[] = {{"a", true}, {"b", true}, {"b", false}, {"c", true}, {"d", true}};
  for (const auto& [name, tiled] : cases) {
    const std::string key = std::string(name) + (tiled ? ".decode_tiled" : ".decode_untiled");
    const Tensor got = hunyuan::hunyuan_vae_decode_cuda(vae, g->load(std::string(name) + ".latents", DType::F32),
                                                        tiled, /*clamp=*/false);
    const Tensor want = g->load(key, DType::F32);
    ASSERT_EQ(got.shape(), want.shape()) << key;
    // fp16 activations and operands on a tiny random model: about 1e-3 expected.
    EXPECT_LE(rel_l2(got.to_f32_vector(), want.to_f32_vector()), 2e-2) << key;
  }
}

namespace {
Tensor clamped(const Tensor& t) {
  auto v = t.to_f32_vector();
  for (auto& x : v) x = std::clamp(x, -1.0f, 1.0f);
  return Tensor::from_f32(v, t.shape());
}
}  // namespace

TEST(CudaHunyuanVae, EncodeMatchesOfficialGoldens) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  const std::string dir = std::string(JENGA_TEST_DATA) + "/hunyuan_vae";
  const auto vae = hunyuan::HunyuanVae::load(dir + "/vae");
  const auto g = SafetensorsFile::open(dir + "/golden.safetensors");
  // The encoder input is the clamped tiled decode, as the CPU golden tests use it.
  const std::pair<const char*, bool> cases[] = {{"a", true}, {"b", true}, {"b", false}, {"c", true},
                                                {"c", false}, {"d", true}, {"d", false}};
  for (const auto& [name, tiled] : cases) {
    const std::string key = std::string(name) + (tiled ? ".encode_tiled" : ".encode_untiled");
    const Tensor frames = clamped(g->load(std::string(name) + ".decode_tiled", DType::F32));
    const Tensor got = hunyuan::hunyuan_vae_encode_cuda(vae, frames, tiled);
    const Tensor want = g->load(key, DType::F32);
    ASSERT_EQ(got.shape(), want.shape()) << key;
    EXPECT_LE(rel_l2(got.to_f32_vector(), want.to_f32_vector()), 2e-2) << key;
  }
}

// A decode allocates its workspace once per tile shape: decoding again allocates nothing and
// gives the same bits; a smaller input reuses it.
TEST(CudaHunyuanVae, WorkspaceSizedOncePerTileShape) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  const std::string dir = std::string(JENGA_TEST_DATA) + "/hunyuan_vae";
  const auto vae = hunyuan::HunyuanVae::load(dir + "/vae");
  const auto g = SafetensorsFile::open(dir + "/golden.safetensors");
  const Tensor z = g->load("a.latents", DType::F32);
  auto gpu = hunyuan::HunyuanVaeCuda::from_model(vae);
  auto decode = [&](const Tensor& lat) {
    return hunyuan::hunyuan_vae_decode(vae, lat, /*tiling=*/false, /*clamp=*/false,
                                       [&](const hunyuan::HyClip& c) { return gpu->decode_tile(c); });
  };
  const Tensor first = decode(z);
  const size_t ws = gpu->workspace_bytes();
  EXPECT_GT(ws, 0u);
  const size_t allocated = cuda::memory_stats().current;
  const Tensor second = decode(z);
  EXPECT_EQ(gpu->workspace_bytes(), ws);
  EXPECT_EQ(cuda::memory_stats().current, allocated);
  EXPECT_EQ(first.to_f32_vector(), second.to_f32_vector());
  // The first latent frame alone: a smaller tile in the same workspace.
  const int64_t C = z.dim(0), T = z.dim(1), HW = z.dim(2) * z.dim(3);
  std::vector<float> one(static_cast<size_t>(C * HW));
  const auto zv = z.to_f32_vector();
  for (int64_t c = 0; c < C; ++c) std::copy_n(zv.begin() + c * T * HW, HW, one.begin() + c * HW);
  const Tensor small = decode(Tensor::from_f32(one, Shape{C, 1, z.dim(2), z.dim(3)}));
  EXPECT_EQ(gpu->workspace_bytes(), ws);
  EXPECT_EQ(small.dim(1), 1);
  EXPECT_EQ(small.to_f32_vector()[0], small.to_f32_vector()[0]);  // not NaN
}

// Channels wide enough for the implicit-GEMM convs (cin % 32 == 0; the goldens' tiny model has
// 8-16): decode and encode against the CPU f32 path, through the implicit GEMM and through
// im2col + cuBLASLt, with a small conv buffer so both split convs into many chunks.
TEST(CudaHunyuanVae, ImplicitGemmMatchesCpuOnWideChannels) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  hunyuan::HunyuanVaeConfig cfg;
  cfg.block_out_channels = {32, 32, 64, 64};
  cfg.layers_per_block = 1;
  cfg.norm_num_groups = 8;
  const auto dir = std::filesystem::temp_directory_path() / ("jenga-test-hyvae-wide-" + std::to_string(::getpid()));
  hunyuan::write_random_hunyuan_vae(cfg, dir.string(), 7, DType::F32);
  const auto vae = hunyuan::HunyuanVae::load(dir.string());
  std::filesystem::remove_all(dir);
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> zv(16 * 3 * 4 * 6);
  for (auto& v : zv) v = nd(rng);
  const Tensor z = Tensor::from_f32(zv, Shape{16, 3, 4, 6});
  const Tensor want = hunyuan::hunyuan_vae_decode(vae, z, /*tiling=*/false, /*clamp=*/false);
  const Tensor frames = clamped(want);
  const Tensor want_z = hunyuan::hunyuan_vae_encode(vae, frames, /*tiling=*/false);
  // The implicit GEMM (on Hopper the wgmma kernel for the 64-channel layers) with GroupNorm sums
  // from its epilogue, then the A/B switches: the mma.sync kernel, norms reading their input, and
  // every conv through im2col + cuBLASLt.
  struct Variant {
    const char* name;
    bool igemm;
    const char* env;  // NAME=VALUE set while the model is made, or null
  };
  for (const Variant& v : {Variant{"implicit GEMM", true, nullptr}, Variant{"mma.sync kernel", true, "JENGA_HY_VAE_CONV=mma"},
                           Variant{"norms read their input", true, "JENGA_HY_VAE_FUSED_STATS=0"},
                           Variant{"im2col", false, nullptr}}) {
    SCOPED_TRACE(v.name);
    std::string name, value;
    if (v.env) {
      const std::string e = v.env;
      name = e.substr(0, e.find('=')), value = e.substr(e.find('=') + 1);
      ::setenv(name.c_str(), value.c_str(), 1);
    }
    hunyuan::HyVaeCudaParts parts;
    parts.encoder = true, parts.implicit_gemm = v.igemm, parts.col_budget_bytes = 96 << 10;
    auto gpu = hunyuan::HunyuanVaeCuda::from_model(vae, parts);
    if (v.env) ::unsetenv(name.c_str());
    const Tensor got = hunyuan::hunyuan_vae_decode(vae, z, false, false,
                                                   [&](const hunyuan::HyClip& c) { return gpu->decode_tile(c); });
    ASSERT_EQ(got.shape(), want.shape());
    EXPECT_LE(rel_l2(got.to_f32_vector(), want.to_f32_vector()), 1e-2) << gpu->conv_kernel();
    const Tensor got_z = hunyuan::hunyuan_vae_encode(vae, frames, false,
                                                     [&](const hunyuan::HyClip& c) { return gpu->encode_tile(c); });
    ASSERT_EQ(got_z.shape(), want_z.shape());
    EXPECT_LE(rel_l2(got_z.to_f32_vector(), want_z.to_f32_vector()), 1e-2) << gpu->conv_kernel();
  }
}

// The mid attention's frame-causal softmax: a block of rows that starts mid-frame and spans
// three frames, each row normalised over its own key prefix and zero past it.
TEST(CudaHunyuanVae, FrameCausalSoftmax) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  cuda::init();
  const int64_t frame = 5, row0 = 3, rows = 9, cols = 15;  // rows 3..11: frames 0, 1, 2
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.f, 2.f);
  std::vector<float> s(static_cast<size_t>(rows * cols));
  for (auto& v : s) v = nd(rng);
  const float scale = 0.7f;
  Tensor ds = Tensor::empty(DType::F32, Shape{rows, cols}, Device::CUDA);
  Tensor dp = Tensor::empty(DType::F16, Shape{rows, cols}, Device::CUDA);
  cuda::copy_to_device(ds.data(), s.data(), s.size() * 4);
  cuda::softmax_rows_frame_causal_f16(ds.data_as<float>(), dp.data(), rows, cols, row0, frame, scale);
  std::vector<uint16_t> p16(s.size());
  cuda::copy_to_host(p16.data(), dp.data(), p16.size() * 2);
  std::vector<float> p(s.size());
  convert(p16.data(), DType::F16, p.data(), DType::F32, p.size());
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t valid = std::min(cols, ((row0 + i) / frame + 1) * frame);
    double m = -INFINITY, sum = 0;
    for (int64_t j = 0; j < valid; ++j) m = std::max(m, double(s[i * cols + j]) * scale);
    for (int64_t j = 0; j < valid; ++j) sum += std::exp(double(s[i * cols + j]) * scale - m);
    for (int64_t j = 0; j < cols; ++j) {
      const double want = j < valid ? std::exp(double(s[i * cols + j]) * scale - m) / sum : 0.0;
      EXPECT_NEAR(p[i * cols + j], want, 1e-3) << "row " << i << " col " << j;
      if (j >= valid) EXPECT_EQ(p16[i * cols + j], 0) << "row " << i << " col " << j << " must be exactly 0";
    }
  }
}

// The shape of CudaHunyuanLoop.GenerateOnTheGpu's decode (latents [C, 4, 12, 64] through 32-pixel
// tiles: 4 x 22 tiles, the last column one latent wide), tiles computed on the tiling's worker
// thread, against the CPU decode.
TEST(CudaHunyuanVae, ManySmallTilesMatchCpu) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  const std::string dir = std::string(JENGA_TEST_DATA) + "/hunyuan_vae";
  const auto vae = hunyuan::HunyuanVae::load(dir + "/vae");
  const int64_t C = vae.config.latent_channels;
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> zv(static_cast<size_t>(C * 4 * 12 * 64));
  for (auto& v : zv) v = nd(rng);
  const Tensor z = Tensor::from_f32(zv, Shape{C, 4, 12, 64});
  const Tensor want = hunyuan::hunyuan_vae_decode(vae, z, /*tiling=*/true, /*clamp=*/false);
  const Tensor got = hunyuan::hunyuan_vae_decode_cuda(vae, z, /*tiling=*/true, /*clamp=*/false);
  ASSERT_EQ(got.shape(), want.shape());
  EXPECT_LE(rel_l2(got.to_f32_vector(), want.to_f32_vector()), 2e-2);
}
