// The CUDA HunyuanVideo VAE decoder (bf16 conv operands, f32 accumulation and activations)
// against the official goldens of tests/data/hunyuan_vae, through the same official tiling.
// GPU only: skipped without a device. Written without a GPU: it has not run yet.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "backend/cuda/cuda_backend.h"
#include "io/safetensors.h"
#include "models/hunyuan/hunyuan_vae.h"
#include "models/hunyuan/hunyuan_vae_cuda.h"

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
    // bf16 conv operands on a tiny random model: a few 1e-3 expected (the Wan VAE's bf16 mode, same scheme).
    EXPECT_LE(rel_l2(got.to_f32_vector(), want.to_f32_vector()), 2e-2) << key;
  }
}
