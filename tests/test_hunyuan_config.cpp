#include <gtest/gtest.h>

#include <tuple>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/safetensors.h"
#include "models/detect.h"
#include "models/hunyuan/hunyuan_config.h"
#include "models/hunyuan/hunyuan_tiny.h"
#include "models/wan/wan_config.h"
#include "test_util.h"

using namespace jenga;
using jenga::test::TempDir;

TEST(HunyuanConfig, PublishedShapes) {
  const auto c = hunyuan::HunyuanConfig::t2v_720p();
  EXPECT_EQ(c.variant_name(), "T2V 13B");
  EXPECT_EQ(c.head_dim(), 128);
  // The model card says 13B; HYVideo-T/2-cfgdistill counts 12.82 B parameters.
  EXPECT_NEAR(c.parameter_count() / 1e9, 12.82, 0.05);
  auto i2v = c;
  i2v.in_channels = 33;  // HunyuanVideo-I2V: noisy latent + image latent + mask channel
  EXPECT_EQ(i2v.variant_name(), "I2V 13B");
  EXPECT_EQ(hunyuan::HunyuanConfig::tiny().variant_name(), "custom");
  // A small latent_concat DiT says I2V too (inspect called it latent concat, then T2V).
  auto tiny_i2v = hunyuan::HunyuanConfig::tiny();
  tiny_i2v.in_channels = 33;
  EXPECT_EQ(tiny_i2v.variant_name(), "custom I2V");
}

TEST(HunyuanConfig, JsonRoundTripAndValidation) {
  const auto c = hunyuan::HunyuanConfig::tiny();
  const auto back = hunyuan::HunyuanConfig::from_json(c.to_json());
  EXPECT_EQ(back.hidden, c.hidden);
  EXPECT_EQ(back.heads, c.heads);
  EXPECT_EQ(back.mlp_dim, c.mlp_dim);
  EXPECT_EQ(back.double_blocks, c.double_blocks);
  EXPECT_EQ(back.single_blocks, c.single_blocks);
  EXPECT_EQ(back.rope_dim[0], c.rope_dim[0]);
  EXPECT_EQ(back.rope_dim[2], c.rope_dim[2]);
  EXPECT_EQ(back.text_dim_2, c.text_dim_2);
  auto j = c.to_json();
  j["rope_dim_list"] = {8, 8, 8};  // sums to 24, head dim is 32
  EXPECT_THROW(hunyuan::HunyuanConfig::from_json(j), Error);
  j = c.to_json();
  j["heads_num"] = "two";
  EXPECT_THROW(hunyuan::HunyuanConfig::from_json(j), Error);
  // diffusers HunyuanVideoTransformer3DModel names.
  const nlohmann::json d = {{"num_attention_heads", 24}, {"attention_head_dim", 128}, {"num_layers", 20},
                            {"num_single_layers", 40},  {"mlp_ratio", 4.0},          {"rope_axes_dim", {16, 56, 56}},
                            {"guidance_embeds", true},  {"patch_size", 2},           {"patch_size_t", 1}};
  const auto dc = hunyuan::HunyuanConfig::from_json(d);
  EXPECT_EQ(dc.hidden, 3072);
  EXPECT_EQ(dc.mlp_dim, 12288);
  EXPECT_EQ(dc.variant_name(), "T2V 13B");
}

TEST(HunyuanConfig, OfficialKeyList) {
  const auto keys = hunyuan::official_tensors(hunyuan::HunyuanConfig::tiny());
  auto has = [&](const std::string& n, std::vector<int64_t> shape) {
    for (const auto& [k, s] : keys)
      if (k == n) return s == shape;
    return false;
  };
  EXPECT_TRUE(has("img_in.proj.weight", {64, 16, 1, 2, 2}));
  EXPECT_TRUE(has("txt_in.input_embedder.weight", {64, 48}));
  EXPECT_TRUE(has("txt_in.individual_token_refiner.blocks.1.self_attn_qkv.weight", {192, 64}));
  EXPECT_TRUE(has("txt_in.individual_token_refiner.blocks.0.adaLN_modulation.1.weight", {128, 64}));
  EXPECT_TRUE(has("vector_in.in_layer.weight", {64, 40}));
  EXPECT_TRUE(has("guidance_in.mlp.0.weight", {64, 256}));
  EXPECT_TRUE(has("double_blocks.1.txt_attn_qkv.bias", {192}));
  EXPECT_TRUE(has("double_blocks.0.img_attn_q_norm.weight", {32}));
  EXPECT_TRUE(has("double_blocks.0.img_mod.linear.weight", {384, 64}));
  EXPECT_TRUE(has("single_blocks.1.linear1.weight", {3 * 64 + 256, 64}));
  EXPECT_TRUE(has("single_blocks.0.linear2.weight", {64, 64 + 256}));
  EXPECT_TRUE(has("single_blocks.0.modulation.linear.weight", {192, 64}));
  EXPECT_TRUE(has("final_layer.linear.weight", {64, 64}));
  EXPECT_FALSE(has("double_blocks.2.img_mod.linear.weight", {384, 64}));
  EXPECT_FALSE(has("double_blocks.0.img_norm1.weight", {64}));  // LayerNorms without affine
}

TEST(HunyuanConfig, TinyCheckpointIsDetected) {
  TempDir dir;
  const auto want = hunyuan::HunyuanConfig::tiny();
  hunyuan::write_random_checkpoint(dir.path().string(), want, 7, DType::BF16);
  Checkpoint ck = Checkpoint::open(dir.path().string());
  EXPECT_EQ(ck.info("double_blocks.0.img_attn_qkv.weight").dtype, DType::BF16);
  const auto layout = hunyuan::detect_layout(ck);
  ASSERT_TRUE(layout.has_value());
  EXPECT_EQ(*layout, hunyuan::Layout::Official);
  // Head dim 32 is not published: the RoPE split needs config.json.
  EXPECT_THROW(hunyuan::detect_config(ck, *layout, nullptr), Error);
  const nlohmann::json rope = {{"rope_dim_list", {8, 12, 12}}};
  const auto c = hunyuan::detect_config(ck, *layout, &rope);
  // A config.json that agrees with the weights is taken; one that contradicts them is named.
  nlohmann::json agree = rope;
  agree["hidden_size"] = want.hidden, agree["heads_num"] = want.heads, agree["guidance_embed"] = want.guidance_embed;
  agree["mm_double_blocks_depth"] = want.double_blocks, agree["patch_size"] = {1, 2, 2}, agree["mlp_width_ratio"] = 4.0;
  EXPECT_EQ(hunyuan::detect_config(ck, *layout, &agree).hidden, want.hidden);
  for (const auto& [key, value, said] :
       {std::tuple{"hidden_size", nlohmann::json(want.hidden * 2), "\"hidden_size\": " + std::to_string(want.hidden * 2)},
        std::tuple{"mm_double_blocks_depth", nlohmann::json(want.double_blocks + 3), std::string("\"mm_double_blocks_depth\"")},
        std::tuple{"guidance_embed", nlohmann::json(!want.guidance_embed), std::string("\"guidance_embed\"")},
        std::tuple{"patch_size", nlohmann::json({1, 4, 4}), std::string("\"patch_size\": [1,4,4]")},
        std::tuple{"text_states_dim", nlohmann::json(want.text_dim + 1), std::string("\"text_states_dim\"")}}) {
    nlohmann::json bad = agree;
    bad[key] = value;
    try {
      hunyuan::detect_config(ck, *layout, &bad);
      ADD_FAILURE() << key << " contradicting the weights was taken";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(said), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("fix or remove config.json"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(c.hidden, want.hidden);
  EXPECT_EQ(c.heads, want.heads);
  EXPECT_EQ(c.mlp_dim, want.mlp_dim);
  EXPECT_EQ(c.double_blocks, want.double_blocks);
  EXPECT_EQ(c.single_blocks, want.single_blocks);
  EXPECT_EQ(c.in_channels, 16);
  EXPECT_EQ(c.out_channels, 16);
  EXPECT_EQ(c.text_dim, want.text_dim);
  EXPECT_EQ(c.text_dim_2, want.text_dim_2);
  EXPECT_EQ(c.refiner_depth, 2);
  EXPECT_EQ(c.refiner_mlp_dim, want.refiner_mlp_dim);
  EXPECT_TRUE(c.guidance_embed);
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_FALSE(ck.contains("blocks.0.self_attn.q.weight"));
  auto m = detect_model(ck, dir.path().string());  // reads config.json beside the weights
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->family, "hunyuanvideo-dit");
  EXPECT_EQ(m->variant, "custom");
  EXPECT_EQ(m->layout, "official");
  EXPECT_NE(m->details.find("hidden 64, 2 heads (head dim 32), 2 double + 2 single blocks"), std::string::npos)
      << m->details;
  EXPECT_NE(m->details.find("in/out 16/16"), std::string::npos) << m->details;
  EXPECT_NE(m->details.find("guidance embed yes"), std::string::npos) << m->details;
  EXPECT_NE(m->details.find("cannot tell them apart"), std::string::npos) << m->details;
  // Same seed, same weights.
  TempDir dir2;
  hunyuan::write_random_checkpoint(dir2.path().string(), want, 7, DType::BF16);
  Checkpoint ck2 = Checkpoint::open(dir2.path().string());
  EXPECT_EQ(ck.load("single_blocks.1.linear2.weight").to_f32_vector(),
            ck2.load("single_blocks.1.linear2.weight").to_f32_vector());
}

TEST(HunyuanConfig, I2VAndNoGuidanceFromShapes) {
  TempDir dir;
  auto cfg = hunyuan::HunyuanConfig::tiny();
  cfg.in_channels = 33;
  cfg.guidance_embed = false;
  hunyuan::write_random_checkpoint(dir.path().string(), cfg, 1, DType::F16);
  Checkpoint ck = Checkpoint::open(dir.path().string());
  auto m = detect_model(ck, dir.path().string());
  ASSERT_TRUE(m.has_value());
  EXPECT_NE(m->details.find("in/out 33/16"), std::string::npos) << m->details;
  EXPECT_NE(m->details.find("guidance embed no"), std::string::npos) << m->details;
  EXPECT_NE(m->details.find("I2V"), std::string::npos) << m->details;
}

// A stand-in for the diffusers layout: only the tensors detection reads (names as diffusers'
// convert_hunyuan_video_to_diffusers.py writes them), with the published head dim 128.
TEST(HunyuanConfig, DetectsDiffusersLayout) {
  auto z = [](std::vector<int64_t> s) { return Tensor::zeros(DType::F8E4M3, Shape(std::span<const int64_t>(s))); };
  TempDir dir;
  SafetensorsWriter w;
  w.add("x_embedder.proj.weight", z({256, 33, 1, 2, 2}));
  w.add("context_embedder.proj_in.weight", z({256, 96}));
  w.add("context_embedder.token_refiner.refiner_blocks.0.ff.net.0.proj.weight", z({1024, 256}));
  w.add("context_embedder.token_refiner.refiner_blocks.1.attn.to_q.weight", z({256, 256}));
  w.add("time_text_embed.timestep_embedder.linear_1.weight", z({256, 256}));
  w.add("time_text_embed.text_embedder.linear_1.weight", z({256, 24}));
  for (int i = 0; i < 3; ++i) w.add("transformer_blocks." + std::to_string(i) + ".attn.add_q_proj.weight", z({256, 256}));
  w.add("transformer_blocks.0.attn.norm_q.weight", z({128}));
  w.add("transformer_blocks.0.attn.to_q.weight", z({256, 256}));
  w.add("transformer_blocks.0.ff.net.0.proj.weight", z({512, 256}));
  for (int i = 0; i < 5; ++i) w.add("single_transformer_blocks." + std::to_string(i) + ".proj_mlp.weight", z({512, 256}));
  w.add("proj_out.weight", z({64, 256}));
  w.write(dir / "diffusion_pytorch_model.safetensors");
  Checkpoint ck = Checkpoint::open(dir.path().string());
  const auto l = hunyuan::detect_layout(ck);
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(*l, hunyuan::Layout::Diffusers);
  const auto c = hunyuan::detect_config(ck, *l, nullptr);
  EXPECT_EQ(c.hidden, 256);
  EXPECT_EQ(c.heads, 2);
  EXPECT_EQ(c.double_blocks, 3);
  EXPECT_EQ(c.single_blocks, 5);
  EXPECT_EQ(c.mlp_dim, 512);
  EXPECT_EQ(c.refiner_depth, 2);
  EXPECT_EQ(c.refiner_mlp_dim, 1024);
  EXPECT_EQ(c.text_dim, 96);
  EXPECT_EQ(c.text_dim_2, 24);
  EXPECT_EQ(c.in_channels, 33);
  EXPECT_EQ(c.out_channels, 16);
  EXPECT_FALSE(c.guidance_embed);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_EQ(c.rope_dim[1], 56);
  auto m = detect_model(ck, dir.path().string());
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->family, "hunyuanvideo-dit");
  EXPECT_EQ(m->layout, "diffusers");
  EXPECT_FALSE(wan::detect_layout(ck).has_value());
}

TEST(HunyuanConfig, CliMakeTinyInspectAndGenerateNamesTheMissingParts) {
  TempDir dir;
  const std::string out = dir / "hy";
  auto m = test::run_jenga("debug make-tiny --family hunyuan --dit-only --out " + out + " --seed 3");
  ASSERT_EQ(m.exit_code, 0) << m.output;
  auto i = test::run_jenga("inspect --json --summary " + out);
  ASSERT_EQ(i.exit_code, 0) << i.output;
  EXPECT_NE(i.output.find("\"family\": \"hunyuanvideo-dit\""), std::string::npos) << i.output;
  EXPECT_NE(i.output.find("\"missing\": []"), std::string::npos) << i.output;
  EXPECT_NE(i.output.find("\"unexpected\": []"), std::string::npos) << i.output;
  auto t = test::run_jenga("inspect --summary " + out);
  ASSERT_EQ(t.exit_code, 0) << t.output;
  EXPECT_NE(t.output.find("hunyuanvideo-dit custom (official layout)"), std::string::npos) << t.output;
  for (const std::string flag : {"--model " + out, "--diffusion-model " + out + "/diffusion_pytorch_model.safetensors"}) {
    // The DiT alone: generate takes it for HunyuanVideo and names the first missing component.
    auto g = test::run_jenga("generate " + flag + " -p cat -o " + (dir / "o.y4m"));
    EXPECT_EQ(g.exit_code, 1) << g.output;  // a missing file (docs/ERRORS.md), not a bad flag
    EXPECT_EQ(g.output.rfind("error: ", 0), 0u) << g.output;
    EXPECT_NE(g.output.find("HunyuanVideo: the VAE is missing"), std::string::npos) << g.output;
    EXPECT_NE(g.output.find("--vae"), std::string::npos) << g.output;
    EXPECT_EQ(std::count(g.output.begin(), g.output.end(), '\n'), 1) << g.output;
  }
  auto bad = test::run_jenga("debug make-tiny --family hunyuan --size 14b --out " + (dir / "x"));
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
}

TEST(HunyuanConfig, WanIsNotHunyuan) {
  TempDir dir;
  SafetensorsWriter w;
  w.add("patch_embedding.weight", Tensor::zeros(DType::F8E4M3, Shape({8, 16, 1, 2, 2})));
  w.add("blocks.0.self_attn.q.weight", Tensor::zeros(DType::F8E4M3, Shape({8, 8})));
  w.write(dir / "w.safetensors");
  EXPECT_FALSE(hunyuan::detect_layout(Checkpoint::open(dir / "w.safetensors")).has_value());
}

// A lone .safetensors file of a non-128 head dim (no config.json beside it): still recognised,
// with the RoPE split reported unknown, and generate names what else it needs in one line.
TEST(HunyuanConfig, LoneFileWithoutConfigJson) {
  TempDir dir;
  hunyuan::write_random_checkpoint((dir / "m"), hunyuan::HunyuanConfig::tiny(), 2, DType::BF16);
  std::filesystem::copy_file(dir / "m/diffusion_pytorch_model.safetensors", dir / "hy.safetensors");
  const std::string file = dir / "hy.safetensors";
  auto m = detect_model(Checkpoint::open(file), file);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->family, "hunyuanvideo-dit");
  EXPECT_NE(m->details.find("RoPE unknown"), std::string::npos) << m->details;
  auto i = test::run_jenga("inspect --json --summary " + file);
  ASSERT_EQ(i.exit_code, 0) << i.output;
  EXPECT_NE(i.output.find("\"missing\": []"), std::string::npos) << i.output;
  auto g = test::run_jenga("generate --model " + file + " -p cat -o " + (dir / "o.y4m"));
  EXPECT_EQ(g.exit_code, 1) << g.output;
  EXPECT_NE(g.output.find("HunyuanVideo: the VAE is missing"), std::string::npos) << g.output;
}

// The HunyuanVideo release is a torch pickle (.pt), which jenga reads (tests/test_torch_checkpoint.cpp);
// a pickle that is not a torch.save checkpoint is named as such.
TEST(HunyuanConfig, InspectNamesAPickleThatIsNotACheckpoint) {
  TempDir dir;
  {
    std::ofstream f(dir / "mp_rank_00_model_states.pt", std::ios::binary);
    f << "\x80\x02}q";  // a pickle's PROTO 2 opcode, then an empty dict
  }
  auto r = test::run_jenga("inspect " + (dir / "mp_rank_00_model_states.pt"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("is a Python pickle but not a PyTorch checkpoint"), std::string::npos) << r.output;
}

TEST(HunyuanConfig, MakeTinyInChannels) {
  TempDir dir;
  auto r = test::run_jenga("debug make-tiny --family hunyuan --in-channels 33 --out " + (dir / "i2v"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto i = test::run_jenga("inspect --summary " + (dir / "i2v"));
  EXPECT_NE(i.output.find("in/out 33/16"), std::string::npos) << i.output;
  EXPECT_NE(i.output.find("I2V"), std::string::npos) << i.output;
  EXPECT_EQ(test::run_jenga("debug make-tiny --in-channels 33 --out " + (dir / "w")).exit_code, 2);
}
