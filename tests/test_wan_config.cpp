#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/safetensors.h"
#include "models/detect.h"
#include "models/wan/wan_config.h"
#include "models/wan/wan_tiny.h"
#include "test_util.h"

using namespace jenga;
using jenga::test::TempDir;

TEST(WanConfig, PublishedSizes) {
  EXPECT_EQ(wan::WanConfig::wan_1_3b().size_name(), "1.3B");
  EXPECT_EQ(wan::WanConfig::wan_14b().size_name(), "14B");
  EXPECT_EQ(wan::WanConfig::tiny().size_name(), "custom");
  // Published parameter counts (Wan2.1 model cards: 1.3B and 14B, T2V).
  EXPECT_NEAR(wan::WanConfig::wan_1_3b().parameter_count() / 1e9, 1.42, 0.02);
  EXPECT_NEAR(wan::WanConfig::wan_14b().parameter_count() / 1e9, 14.29, 0.1);
  EXPECT_EQ(wan::WanConfig::wan_1_3b().head_dim(), 128);
}

TEST(WanConfig, JsonRoundTripAndValidation) {
  auto c = wan::WanConfig::tiny();
  auto back = wan::WanConfig::from_json(c.to_json());
  EXPECT_EQ(back.dim, c.dim);
  EXPECT_EQ(back.num_heads, c.num_heads);
  EXPECT_EQ(back.text_dim, c.text_dim);
  auto j = c.to_json();
  j["num_heads"] = 3;  // 128 % 3 != 0
  EXPECT_THROW(wan::WanConfig::from_json(j), Error);
  j = c.to_json();
  j["dim"] = "big";
  EXPECT_THROW(wan::WanConfig::from_json(j), Error);
}

// WanModel's qk_norm / cross_attn_norm / window_size change the forward without changing the
// weights' shapes (a false switch only drops the norms' weights, which read as a "damaged" file):
// a config that sets one is named as unsupported, not run as if it did not.
TEST(WanConfig, UnsupportedSwitchesAreNamed) {
  auto message = [](const nlohmann::json& j) -> std::string {
    try {
      (void)wan::WanConfig::from_json(j);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  auto j = wan::WanConfig::tiny().to_json();
  EXPECT_EQ(message(j), "");  // qk_norm true, cross_attn_norm true, window_size [-1, -1]
  for (const char* key : {"qk_norm", "cross_attn_norm"}) {
    auto k = j;
    k[key] = false;
    EXPECT_NE(message(k).find(key), std::string::npos) << key << ": " << message(k);
  }
  auto w = j;
  w["window_size"] = {256, 256};
  EXPECT_NE(message(w).find("window_size"), std::string::npos) << message(w);

  TempDir dir;
  wan::write_random_checkpoint(dir.path().string(), wan::WanConfig::tiny(), 7, DType::F32);
  Checkpoint ck = Checkpoint::open(dir.path().string());
  auto diffusers = nlohmann::json{{"num_attention_heads", 4}, {"qk_norm", "rms_norm_across_heads"}, {"cross_attn_norm", true}};
  EXPECT_EQ(wan::detect_config(ck, wan::Layout::Official, &diffusers).num_heads, 4);
  auto no_qk = diffusers;
  no_qk["qk_norm"] = nullptr;
  EXPECT_THROW((void)wan::detect_config(ck, wan::Layout::Official, &no_qk), Error);
  auto no_cross = diffusers;
  no_cross["cross_attn_norm"] = false;
  EXPECT_THROW((void)wan::detect_config(ck, wan::Layout::Official, &no_cross), Error);
}

TEST(WanConfig, OfficialKeyList) {
  auto keys = wan::official_tensors(wan::WanConfig::tiny());
  auto has = [&](const std::string& n, std::vector<int64_t> shape) {
    for (const auto& [k, s] : keys)
      if (k == n) return s == shape;
    return false;
  };
  EXPECT_TRUE(has("patch_embedding.weight", {128, 16, 1, 2, 2}));
  EXPECT_TRUE(has("blocks.1.self_attn.norm_q.weight", {128}));
  EXPECT_TRUE(has("blocks.0.modulation", {1, 6, 128}));
  EXPECT_TRUE(has("time_projection.1.weight", {768, 128}));
  EXPECT_TRUE(has("head.head.weight", {64, 128}));
  EXPECT_TRUE(has("text_embedding.0.weight", {128, 64}));
  EXPECT_FALSE(has("blocks.2.norm3.weight", {128}));
}

TEST(WanConfig, TinyCheckpointIsDetected) {
  TempDir dir;
  wan::write_random_checkpoint(dir.path().string(), wan::WanConfig::tiny(), 7, DType::BF16);
  Checkpoint ck = Checkpoint::open(dir.path().string());
  EXPECT_EQ(ck.info("blocks.0.self_attn.q.weight").dtype, DType::BF16);
  auto layout = wan::detect_layout(ck);
  ASSERT_TRUE(layout.has_value());
  EXPECT_EQ(*layout, wan::Layout::Official);
  // Without config.json, heads come from head dim 128 (tiny dim 128 -> 1 head); with it, 4.
  EXPECT_EQ(wan::detect_config(ck, *layout, nullptr).num_heads, 1);
  auto m = detect_model(ck, dir.path().string());
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->family, "wan2.1-t2v-dit");
  EXPECT_EQ(m->variant, "custom");
  EXPECT_NE(m->details.find("4 heads"), std::string::npos) << m->details;
  EXPECT_NE(m->details.find("2 layers"), std::string::npos) << m->details;
  // Same seed, same weights: the generator is deterministic.
  TempDir dir2;
  wan::write_random_checkpoint(dir2.path().string(), wan::WanConfig::tiny(), 7, DType::BF16);
  Checkpoint ck2 = Checkpoint::open(dir2.path().string());
  EXPECT_EQ(ck.load("blocks.1.ffn.2.weight").to_f32_vector(), ck2.load("blocks.1.ffn.2.weight").to_f32_vector());
}

// Minimal stand-ins for the diffusers and ComfyUI layouts: only the tensors detection reads.
TEST(WanConfig, DetectsDiffusersAndComfyLayouts) {
  auto z = [](std::vector<int64_t> s) {
    int64_t n = 1;
    for (auto d : s) n *= d;
    return Tensor::from_f32(std::vector<float>(static_cast<size_t>(n), 0.f), Shape(std::span<const int64_t>(s)));
  };
  {
    TempDir dir;
    SafetensorsWriter w;
    w.add("patch_embedding.weight", z({256, 16, 1, 2, 2}));
    w.add("blocks.0.attn1.to_q.weight", z({256, 256}));
    w.add("blocks.0.norm3.weight", z({256}));
    w.add("blocks.0.ffn.net.0.proj.weight", z({512, 256}));
    w.add("condition_embedder.text_embedder.linear_1.weight", z({256, 32}));
    w.add("condition_embedder.time_embedder.linear_1.weight", z({256, 256}));
    w.add("proj_out.weight", z({64, 256}));
    w.write(dir / "diffusion_pytorch_model.safetensors");
    Checkpoint ck = Checkpoint::open(dir.path().string());
    auto l = wan::detect_layout(ck);
    ASSERT_TRUE(l.has_value());
    EXPECT_EQ(*l, wan::Layout::Diffusers);
    auto c = wan::detect_config(ck, *l, nullptr);
    EXPECT_EQ(c.dim, 256);
    EXPECT_EQ(c.num_layers, 1);
    EXPECT_EQ(c.ffn_dim, 512);
    EXPECT_EQ(c.text_dim, 32);
    EXPECT_EQ(c.num_heads, 2);
  }
  {
    TempDir dir;
    SafetensorsWriter w;
    const std::string p = "model.diffusion_model.";
    w.add(p + "patch_embedding.weight", z({128, 16, 1, 2, 2}));
    w.add(p + "blocks.0.self_attn.q.weight", z({128, 128}));
    w.add(p + "blocks.0.norm3.weight", z({128}));
    w.add(p + "blocks.1.norm3.weight", z({128}));
    w.add(p + "blocks.0.ffn.0.weight", z({300, 128}));
    w.add(p + "text_embedding.0.weight", z({128, 40}));
    w.add(p + "time_embedding.0.weight", z({128, 256}));
    w.add(p + "head.head.weight", z({64, 128}));
    w.write(dir / "wan_comfy.safetensors");
    Checkpoint ck = Checkpoint::open(dir / "wan_comfy.safetensors");
    auto l = wan::detect_layout(ck);
    ASSERT_TRUE(l.has_value());
    EXPECT_EQ(*l, wan::Layout::ComfyUI);
    auto c = wan::detect_config(ck, *l, nullptr);
    EXPECT_EQ(c.num_layers, 2);
    EXPECT_EQ(c.ffn_dim, 300);
  }
}

// A skeleton with the published 1.3B shapes (only the tensors detection reads, stored as fp8 to
// keep the file small) is recognised as 1.3B with 12 heads.
TEST(WanConfig, Detects13BFromShapes) {
  TempDir dir;
  SafetensorsWriter w;
  auto z = [](std::vector<int64_t> s) { return Tensor::zeros(DType::F8E4M3, Shape(std::span<const int64_t>(s))); };
  const auto c = wan::WanConfig::wan_1_3b();
  w.add("patch_embedding.weight", z({c.dim, 16, 1, 2, 2}));
  w.add("blocks.0.self_attn.q.weight", z({1, 1}));
  for (int i = 0; i < c.num_layers; ++i) w.add("blocks." + std::to_string(i) + ".norm3.weight", z({c.dim}));
  w.add("blocks.0.ffn.0.weight", z({c.ffn_dim, c.dim}));
  w.add("text_embedding.0.weight", z({c.dim, c.text_dim}));
  w.add("time_embedding.0.weight", z({c.dim, c.freq_dim}));
  w.add("head.head.weight", z({64, c.dim}));
  w.write(dir / "wan13.safetensors");
  Checkpoint ck = Checkpoint::open(dir / "wan13.safetensors");
  auto m = detect_model(ck, dir / "wan13.safetensors");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->variant, "1.3B");
  EXPECT_NE(m->details.find("12 heads (head dim 128)"), std::string::npos) << m->details;
}
