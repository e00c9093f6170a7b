// Wan VAE against goldens from the official wan/modules/vae.py (tools/golden/wan_vae_golden.py):
// tiny width (3), the official dim_mult / res blocks / temporal structure, f32.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "golden_compare.h"
#include "io/safetensors.h"
#include "models/wan/vae_cpu.h"
#include "models/wan/vae_model.h"
#include "io/frames.h"
#include "test_util.h"

using jenga::Checkpoint;
using jenga::test::max_rel_error;
namespace wan = jenga::wan;

namespace {
const std::string kDir = std::string(JENGA_TEST_DATA) + "/wan_vae/";

const wan::WanVae& tiny_vae() {
  static const wan::WanVae vae = wan::WanVae::load(Checkpoint::open(kDir + "tiny_vae.safetensors"));
  return vae;
}
}  // namespace

TEST(WanVae, StructureInferredFromWeights) {
  const auto& v = tiny_vae();
  EXPECT_EQ(v.z_dim, 16);
  EXPECT_EQ(v.base_dim, 3);
  EXPECT_EQ(v.decoder.spatial_factor, 8);
  EXPECT_EQ(v.decoder.temporal_factor, 4);
  EXPECT_EQ(v.encoder.spatial_factor, 8);
  EXPECT_EQ(v.encoder.temporal_factor, 4);
  // middle (res, attn, res) + 4 stages x 3 res blocks + 3 resamples
  EXPECT_EQ(v.decoder.layers.size(), 3u + 12u + 3u);
  EXPECT_TRUE(v.has_encoder);
}

class WanVaeDecode : public ::testing::TestWithParam<const char*> {};

TEST_P(WanVaeDecode, MatchesOfficial) {
  auto g = jenga::SafetensorsFile::open(kDir + GetParam() + ".safetensors");
  const auto z = g->load("latents", jenga::DType::F32);
  const auto want = g->load("frames_raw", jenga::DType::F32);
  const auto raw = wan::vae_decode(tiny_vae(), z, /*clamp=*/false);
  ASSERT_EQ(raw.shape(), want.shape());
  const double rel = max_rel_error(raw.to_f32_vector(), want.to_f32_vector());
  RecordProperty("max_rel_error", std::to_string(rel));
  EXPECT_LE(rel, 1e-4);

  const auto clamped = wan::vae_decode(tiny_vae(), z, /*clamp=*/true).to_f32_vector();
  auto w = want.to_f32_vector();
  for (auto& x : w) x = std::clamp(x, -1.0f, 1.0f);
  EXPECT_LE(max_rel_error(clamped, w), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Golden, WanVaeDecode, ::testing::Values("decode_a", "decode_b", "decode_c"));

class WanVaeEncode : public ::testing::TestWithParam<const char*> {};

TEST_P(WanVaeEncode, MatchesOfficial) {
  auto g = jenga::SafetensorsFile::open(kDir + GetParam() + ".safetensors");
  const auto x = g->load("frames", jenga::DType::F32);
  const auto want = g->load("latents", jenga::DType::F32);
  const auto mu = wan::vae_encode(tiny_vae(), x);
  ASSERT_EQ(mu.shape(), want.shape());
  EXPECT_LE(max_rel_error(mu.to_f32_vector(), want.to_f32_vector()), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Golden, WanVaeEncode, ::testing::Values("encode_a", "encode_b"));

TEST(WanVae, StreamingGivesOneThenFourFramesPerLatent) {
  auto g = jenga::SafetensorsFile::open(kDir + "decode_b.safetensors");
  std::vector<int64_t> counts;
  wan::vae_decode_stream(tiny_vae(), g->load("latents", jenga::DType::F32),
                         [&](const wan::VaeChunk& c, int64_t) { counts.push_back(c.t); });
  EXPECT_EQ(counts, (std::vector<int64_t>{1, 4, 4, 4, 4}));
}

TEST(WanVae, BadInputsAreClearErrors) {
  const auto& v = tiny_vae();
  EXPECT_THROW(wan::vae_decode(v, jenga::Tensor::zeros(jenga::DType::F32, {8, 2, 2, 2})), jenga::Error);
  EXPECT_THROW(wan::vae_decode(v, jenga::Tensor::zeros(jenga::DType::F32, {16, 2, 2})), jenga::Error);
  auto nan = jenga::Tensor::zeros(jenga::DType::F32, {16, 1, 2, 2});
  nan.data_as<float>()[3] = NAN;
  try {
    wan::vae_decode(v, nan);
    FAIL() << "NaN accepted";
  } catch (const jenga::Error& e) {
    EXPECT_NE(std::string(e.what()).find("NaN"), std::string::npos) << e.what();
  }
  EXPECT_THROW(wan::vae_encode(v, jenga::Tensor::zeros(jenga::DType::F32, {3, 4, 16, 16})), jenga::Error);  // 4 frames
  EXPECT_THROW(wan::vae_encode(v, jenga::Tensor::zeros(jenga::DType::F32, {3, 5, 12, 16})), jenga::Error);  // 12 % 8
}

TEST(WanVae, FramesToRgb8TruncatesLikeTheOfficialWriter) {
  // [3, 1, 1, 7]: channel 0 holds the probes, channels 1 and 2 are -1 and 1.
  std::vector<float> v = {-1.0f, 1.0f, 0.0f, 0.5f, 2.0f, -0.999f, -3.0f};
  for (int i = 0; i < 7; ++i) v.push_back(-1.0f);
  for (int i = 0; i < 7; ++i) v.push_back(1.0f);
  const jenga::Frames f = jenga::frames_from_unit_range(v.data(), 1, 1, 7);
  ASSERT_EQ(f.rgb.size(), 21u);
  const uint8_t want[7] = {0, 255, 127, 191, 255, 0, 0};  // 0 -> 127.5 -> 127; 0.5 -> 191.25 -> 191
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(f.rgb[i * 3 + 0], want[i]) << i;
    EXPECT_EQ(f.rgb[i * 3 + 1], 0) << i;
    EXPECT_EQ(f.rgb[i * 3 + 2], 255) << i;
  }
}

TEST(WanVae, DiffusersLayoutDecodesTheSame) {
  // The tiny VAE under the diffusers AutoencoderKLWan names (map checked by the golden script,
  // which loads it into diffusers and decodes) must load with no flags and decode identically.
  std::ifstream f(kDir + "tiny_vae_diffusers_names.json");
  const auto names = nlohmann::json::parse(f);
  auto src = jenga::SafetensorsFile::open(kDir + "tiny_vae.safetensors");
  jenga::test::TempDir dir;
  jenga::SafetensorsWriter w, broken;
  for (const auto& t : src->header().tensors) {
    w.add(names.at(t.name).get<std::string>(), src->load(t.name));
    if (t.name != "decoder.upsamples.7.time_conv.weight") broken.add(names.at(t.name).get<std::string>(), src->load(t.name));
  }
  w.write(dir / "vae.safetensors");
  broken.write(dir / "broken.safetensors");
  const auto vae = wan::WanVae::load(Checkpoint::open(dir / "vae.safetensors"));
  EXPECT_EQ(vae.decoder.layers.size(), tiny_vae().decoder.layers.size());
  EXPECT_EQ(vae.decoder.temporal_factor, 4);
  EXPECT_TRUE(vae.has_encoder);
  auto g = jenga::SafetensorsFile::open(kDir + "decode_b.safetensors");
  EXPECT_LE(max_rel_error(wan::vae_decode(vae, g->load("latents"), false).to_f32_vector(),
                          g->load("frames_raw").to_f32_vector()),
            1e-4);
  auto e = jenga::SafetensorsFile::open(kDir + "encode_b.safetensors");
  EXPECT_LE(max_rel_error(wan::vae_encode(vae, e->load("frames")).to_f32_vector(), e->load("latents").to_f32_vector()),
            1e-4);
  // A missing tensor is named, in the file's own naming.
  try {
    wan::WanVae::load(Checkpoint::open(dir / "broken.safetensors"));
    FAIL() << "incomplete VAE accepted";
  } catch (const jenga::Error& err) {
    EXPECT_NE(std::string(err.what()).find("decoder.upsamples.7.time_conv.weight (official name; this file uses diffusers names) is missing"),
              std::string::npos)
        << err.what();
  }
}
