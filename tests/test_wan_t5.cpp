// umT5 encoder against goldens from the official wan/modules/t5.py (tools/golden/wan_t5_golden.py):
// T5Encoder with tiny dims (vocab 300, dim 32, 4 heads, 3 layers, 32 buckets, shared_pos False),
// masked and truncated as T5EncoderModel.__call__ does, f32.
#include <gtest/gtest.h>

#include "core/error.h"
#include "golden_compare.h"
#include "io/safetensors.h"
#include "models/wan/t5_encoder.h"
#include "test_util.h"

using jenga::test::max_rel_error;
namespace wan = jenga::wan;

namespace {
const std::string kDir = std::string(JENGA_TEST_DATA) + "/wan_t5/";

std::vector<int64_t> i64(const jenga::Tensor& t) {
  const auto* p = t.data_as<int64_t>();
  return std::vector<int64_t>(p, p + t.numel());
}
}  // namespace

TEST(WanT5, ConfigInferredFromWeights) {
  const auto e = wan::T5Encoder::open(kDir + "tiny_t5.safetensors");
  const auto& c = e.config();
  EXPECT_EQ(c.vocab, 300);
  EXPECT_EQ(c.dim, 32);
  EXPECT_EQ(c.dim_attn, 32);
  EXPECT_EQ(c.dim_ffn, 48);
  EXPECT_EQ(c.heads, 4);
  EXPECT_EQ(c.layers, 3);
  EXPECT_EQ(c.num_buckets, 32);
  EXPECT_FALSE(c.shared_pos);
}

TEST(WanT5, RelativeBucketsMatchOfficial) {
  auto g = jenga::SafetensorsFile::open(kDir + "buckets.safetensors");
  const auto rel = i64(g->load("rel")), want = i64(g->load("bucket"));
  ASSERT_EQ(rel.size(), want.size());
  for (size_t i = 0; i < rel.size(); ++i) EXPECT_EQ(wan::t5_relative_bucket(rel[i], 32, 128), want[i]) << "rel " << rel[i];
}

class WanT5Encode : public ::testing::TestWithParam<const char*> {};

TEST_P(WanT5Encode, MatchesOfficial) {
  const auto e = wan::T5Encoder::open(kDir + "tiny_t5.safetensors");
  auto g = jenga::SafetensorsFile::open(kDir + GetParam() + ".safetensors");
  const auto want = g->load("context", jenga::DType::F32);
  const auto got = e.encode(i64(g->load("ids")), i64(g->load("mask")));
  ASSERT_EQ(got.shape(), want.shape());
  EXPECT_LE(max_rel_error(got.to_f32_vector(), want.to_f32_vector()), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Golden, WanT5Encode, ::testing::Values("encode_a", "encode_b", "encode_c", "encode_d"));

TEST(WanT5, DiffusersLayoutGivesTheSameContext) {
  // The tiny official checkpoint renamed to the HF UMT5EncoderModel keys must encode identically.
  jenga::test::TempDir dir;
  auto src = jenga::SafetensorsFile::open(kDir + "tiny_t5.safetensors");
  const std::vector<std::pair<std::string, std::string>> rename = {
      {"token_embedding.weight", "shared.weight"}, {"norm.weight", "encoder.final_layer_norm.weight"}};
  jenga::SafetensorsWriter w;
  for (const auto& t : src->header().tensors) {
    std::string n = t.name;
    for (const auto& [a, b] : rename)
      if (n == a) n = b;
    if (n.rfind("blocks.", 0) == 0) {
      const auto dot = n.find('.', 7);
      const std::string i = n.substr(7, dot - 7), rest = n.substr(dot + 1);
      const std::string b = "encoder.block." + i + ".layer.";
      if (rest == "norm1.weight") n = b + "0.layer_norm.weight";
      else if (rest == "norm2.weight") n = b + "1.layer_norm.weight";
      else if (rest.rfind("attn.", 0) == 0) n = b + "0.SelfAttention." + rest.substr(5);
      else if (rest == "pos_embedding.embedding.weight") n = b + "0.SelfAttention.relative_attention_bias.weight";
      else if (rest == "ffn.gate.0.weight") n = b + "1.DenseReluDense.wi_0.weight";
      else if (rest == "ffn.fc1.weight") n = b + "1.DenseReluDense.wi_1.weight";
      else if (rest == "ffn.fc2.weight") n = b + "1.DenseReluDense.wo.weight";
    }
    w.add(n, src->load(t.name));
  }
  w.write(dir / "te.safetensors");
  const auto e = wan::T5Encoder::open(dir / "te.safetensors");
  EXPECT_EQ(e.layout(), wan::T5Layout::Diffusers);
  auto g = jenga::SafetensorsFile::open(kDir + "encode_a.safetensors");
  const auto got = e.encode(i64(g->load("ids")), i64(g->load("mask")));
  EXPECT_LE(max_rel_error(got.to_f32_vector(), g->load("context", jenga::DType::F32).to_f32_vector()), 1e-4);
}

TEST(WanT5, BadInputsAreClearErrors) {
  const auto e = wan::T5Encoder::open(kDir + "tiny_t5.safetensors");
  EXPECT_THROW(e.encode(std::vector<int64_t>{5, 1}, std::vector<int64_t>{1}), jenga::Error);
  EXPECT_THROW(e.encode(std::vector<int64_t>{5, 300}, std::vector<int64_t>{1, 1}), jenga::Error);
  EXPECT_THROW(e.encode(std::vector<int64_t>{5, -1}, std::vector<int64_t>{1, 1}), jenga::Error);
  EXPECT_THROW(e.encode(std::vector<int64_t>{5, 1}, std::vector<int64_t>{1, 2}), jenga::Error);
  EXPECT_EQ(e.encode(std::vector<int64_t>{0, 0}, std::vector<int64_t>{0, 0}).dim(0), 0);
  {
    jenga::test::TempDir dir;
    auto src = jenga::SafetensorsFile::open(kDir + "tiny_t5.safetensors");
    jenga::SafetensorsWriter w;
    for (const auto& t : src->header().tensors) w.add(t.name, src->load(t.name));
    w.add("blocks.0.attn.q.scale_weight", jenga::Tensor::zeros(jenga::DType::F32, {1}));
    w.write(dir / "scaled.safetensors");
    EXPECT_THROW(wan::T5Encoder::open(dir / "scaled.safetensors"), jenga::Error);
  }
  try {
    wan::T5Encoder::open(std::string(JENGA_TEST_DATA) + "/wan_vae/tiny_vae.safetensors");
    FAIL() << "a VAE was accepted as a text encoder";
  } catch (const jenga::Error& err) {
    const std::string m = err.what();
    EXPECT_NE(m.find("tiny_vae.safetensors"), std::string::npos) << m;
    EXPECT_NE(m.find("not a umT5 text encoder"), std::string::npos) << m;
    EXPECT_NE(m.find("looks like a VAE"), std::string::npos) << m;
  }
}
