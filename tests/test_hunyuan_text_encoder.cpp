// HunyuanVideo text encoders against the official loader + TextEncoder with transformers 4.46.3
// (tools/golden/hunyuan_text_encoder_golden.py) on tiny random models saved in the published
// layouts: Llama (hidden 64, 4 layers, 4/2 GQA heads, theta 500000, fp16 shards + index, lm_head),
// its ComfyUI scaled-fp8 form, CLIP (width 128, 2 layers, 2 heads, quick-GELU). f32, rel <= 1e-4.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "golden_compare.h"
#include "io/safetensors.h"
#include "models/hunyuan/clip_text_encoder.h"
#include "models/hunyuan/llama_text_encoder.h"
#include "models/hunyuan/text_template.h"
#include "test_util.h"

using jenga::test::max_rel_error;
namespace hy = jenga::hunyuan;
namespace fs = std::filesystem;

namespace {
const std::string kDir = std::string(JENGA_TEST_DATA) + "/hunyuan_text/";

const jenga::SafetensorsFile& golden() {
  static const auto f = jenga::SafetensorsFile::open(kDir + "text_encoder_golden.safetensors");
  return *f;
}
std::vector<int64_t> i64(const std::string& name) {
  const auto t = golden().load(name);
  return std::vector<int64_t>(t.data_as<int64_t>(), t.data_as<int64_t>() + t.numel());
}
std::vector<float> f32(const std::string& name) { return golden().load(name).to_f32_vector(); }
std::vector<float> vec(const jenga::Tensor& t) { return t.to_f32_vector(); }
std::vector<float> rows(const std::vector<float>& v, int64_t from, int64_t dim) {
  return std::vector<float>(v.begin() + from * dim, v.end());
}
}  // namespace

TEST(HunyuanLlamaEncoder, ConfigFromTheOfficialFolder) {
  const auto e = hy::LlamaTextEncoder::open(kDir + "llm_official");
  const auto& c = e.config();
  EXPECT_EQ(c.vocab, 256);
  EXPECT_EQ(c.hidden, 64);
  EXPECT_EQ(c.layers, 4);
  EXPECT_EQ(c.heads, 4);
  EXPECT_EQ(c.kv_heads, 2);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.ffn, 128);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
}

TEST(HunyuanLlamaEncoder, HiddenStateMinus3MatchesOfficial) {
  const auto e = hy::LlamaTextEncoder::open(kDir + "llm_official");
  const auto ids = i64("llm_ids"), mask = i64("llm_mask");
  const auto got = vec(e.encode(ids, mask, 2));
  const double rel = max_rel_error(got, f32("llm_hidden_m3"));
  EXPECT_LE(rel, 1e-4) << rel;
  // The official crop: rows 95.. are TextEncoder.encode's text states, the mask cropped alike.
  const int64_t crop = hy::video_template().crop_start;
  EXPECT_LE(max_rel_error(rows(got, crop, 64), f32("llm_text_states")), 1e-4);
  EXPECT_EQ(std::vector<int64_t>(mask.begin() + crop, mask.end()), i64("llm_text_mask"));
  // skip 0: the last layer through the final norm.
  EXPECT_LE(max_rel_error(vec(e.encode(ids, mask, 0)), f32("llm_hidden_m1")), 1e-4);
}

TEST(HunyuanLlamaEncoder, Fp16InvFreqQuirkMatters) {
  auto e = hy::LlamaTextEncoder::open(kDir + "llm_official");
  const auto ids = i64("llm_ids"), mask = i64("llm_mask");
  const auto fp16 = vec(e.encode(ids, mask, 2));
  e.mutable_config().fp16_inv_freq = false;  // diffusers' f32 buffer
  const auto f32rope = vec(e.encode(ids, mask, 2));
  EXPECT_LE(max_rel_error(f32rope, f32("llm_hidden_m3_f32rope")), 1e-4);
  EXPECT_GT(max_rel_error(fp16, f32("llm_hidden_m3_f32rope")), 1e-3);  // the two references differ beyond tolerance
  const auto inv = hy::llama_inv_freq(128, 500000.0, true);
  EXPECT_EQ(inv[0], 1.0f);
  EXPECT_NE(inv[1], hy::llama_inv_freq(128, 500000.0, false)[1]);
}

TEST(HunyuanLlamaEncoder, DiffusersNamesGiveTheSameStates) {
  // diffusers' text_encoder/ is a LlamaModel: the same tensors without "model." and no lm_head.
  jenga::test::TempDir d;
  const auto c = jenga::Checkpoint::open(kDir + "llm_official");
  jenga::SafetensorsWriter w;
  for (const auto& n : c.names())
    if (n.starts_with("model.")) w.add(n.substr(6), c.load(n));
  w.write(d / "model.safetensors");
  fs::copy_file(kDir + "llm_official/config.json", d / "config.json");
  const auto ids = i64("llm_ids"), mask = i64("llm_mask");
  const auto a = vec(hy::LlamaTextEncoder::open(d.path().string()).encode(ids, mask));
  const auto b = vec(hy::LlamaTextEncoder::open(kDir + "llm_official").encode(ids, mask));
  EXPECT_EQ(a, b);
}

TEST(HunyuanLlamaEncoder, SingleFileWithoutConfigNeedsLlama3Heads) {
  jenga::test::TempDir d;
  const auto c = jenga::Checkpoint::open(kDir + "llm_official");
  jenga::SafetensorsWriter w;
  for (const auto& n : c.names()) w.add(n, c.load(n));
  w.write(d / "llava_llama3_fp16.safetensors");  // ComfyUI's name: its folder's config.json is not read
  try {
    hy::LlamaTextEncoder::open(d / "llava_llama3_fp16.safetensors");
    FAIL() << "64-wide heads accepted without a config";
  } catch (const jenga::Error& err) {
    EXPECT_NE(std::string(err.what()).find("no config.json beside it"), std::string::npos) << err.what();
  }
}

TEST(HunyuanLlamaEncoder, ScaledFp8IsDequantised) {
  const auto e = hy::LlamaTextEncoder::open(kDir + "llm_fp8");
  const auto got = vec(e.encode(i64("llm_ids"), i64("llm_mask")));
  const double rel = max_rel_error(got, f32("llm_fp8_hidden_m3"));
  EXPECT_LE(rel, 1e-4) << rel;
}

TEST(HunyuanLlamaEncoder, BadInputIsAClearError) {
  const auto e = hy::LlamaTextEncoder::open(kDir + "llm_official");
  EXPECT_THROW(e.encode(std::vector<int64_t>{1, 2}, std::vector<int64_t>{1}), jenga::Error);
  EXPECT_THROW(e.encode(std::vector<int64_t>{1, 256}, std::vector<int64_t>{1, 1}), jenga::Error);
  EXPECT_THROW(e.encode(std::vector<int64_t>{1, 2}, std::vector<int64_t>{1, 2}), jenga::Error);
  EXPECT_THROW(e.encode(std::vector<int64_t>{}, std::vector<int64_t>{}), jenga::Error);
  try {
    hy::LlamaTextEncoder::open(kDir + "clip");
    FAIL() << "CLIP accepted as Llama";
  } catch (const jenga::Error& err) {
    EXPECT_NE(std::string(err.what()).find("looks like a CLIP"), std::string::npos) << err.what();
  }
  EXPECT_THROW(hy::LlamaTextEncoder::open(kDir + "missing"), jenga::Error);
}

TEST(HunyuanClipEncoder, PooledAndStatesMatchOfficial) {
  const auto e = hy::ClipTextEncoder::open(kDir + "clip");
  EXPECT_EQ(e.config().heads, 2);
  EXPECT_EQ(e.config().layers, 2);
  const auto out = e.encode(i64("clip_ids"), i64("clip_mask"));
  EXPECT_LE(max_rel_error(vec(out.pooled), f32("clip_pooled")), 1e-4);
  EXPECT_LE(max_rel_error(vec(out.last_hidden_state), f32("clip_last_hidden")), 1e-4);
}

TEST(HunyuanClipEncoder, ComfyUiSingleFileWithoutConfig) {
  jenga::test::TempDir d;
  fs::copy_file(kDir + "clip/model.safetensors", d / "clip_l.safetensors");
  const auto e = hy::ClipTextEncoder::open(d / "clip_l.safetensors");  // heads = width / 64
  const auto out = e.encode(i64("clip_ids"), i64("clip_mask"));
  EXPECT_LE(max_rel_error(vec(out.pooled), f32("clip_pooled")), 1e-4);
  try {
    hy::ClipTextEncoder::open(kDir + "llm_official");
    FAIL() << "Llama accepted as CLIP";
  } catch (const jenga::Error& err) {
    EXPECT_NE(std::string(err.what()).find("looks like a Llama"), std::string::npos) << err.what();
  }
}
