// `jenga debug tokenize --template hunyuan-video` and `jenga debug encode-text --encoder llama|clip`
// end to end: the printed ids equal transformers', the written states the official ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#if JENGA_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#endif
#include "golden_compare.h"
#include "hunyuan_test_tokenizers.h"
#include "io/safetensors.h"
#include "test_util.h"

using jenga::test::max_rel_error;

namespace {
const std::string kDir = std::string(JENGA_TEST_DATA) + "/hunyuan_text/";

// Writes ids/mask [1, L] taken from the golden file into `path`.
void write_ids(const std::string& path, const std::string& ids, const std::string& mask) {
  const auto g = jenga::SafetensorsFile::open(kDir + "text_encoder_golden.safetensors");
  jenga::SafetensorsWriter w;
  for (const auto& [name, src] : {std::pair{"ids", ids}, std::pair{"mask", mask}}) {
    const auto t = g->load(src);
    w.add(name, t.reshape({1, t.numel()}));
  }
  w.write(path);
}
std::vector<float> load(const std::string& file, const std::string& name) {
  return jenga::SafetensorsFile::open(file)->load(name).to_f32_vector();
}
std::vector<float> golden(const std::string& name) { return load(kDir + "text_encoder_golden.safetensors", name); }
}  // namespace

TEST(HunyuanTextCli, EncodeTextLlamaWritesTheCroppedOfficialStates) {
  jenga::test::TempDir d;
  write_ids(d / "ids.safetensors", "llm_ids", "llm_mask");
  const auto r = jenga::test::run_jenga("debug encode-text --text-encoder " + kDir + "llm_official --ids " +
                                        (d / "ids.safetensors") + " --out " + (d / "out.safetensors") + " --crop-start 95");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("hidden_states [256, 64]"), std::string::npos) << r.output;
  EXPECT_LE(max_rel_error(load(d / "out.safetensors", "hidden_states"), golden("llm_text_states")), 1e-4);
  const auto m = jenga::SafetensorsFile::open(d / "out.safetensors")->load("mask");
  const auto want = jenga::SafetensorsFile::open(kDir + "text_encoder_golden.safetensors")->load("llm_text_mask");
  EXPECT_EQ(std::vector<int64_t>(m.data_as<int64_t>(), m.data_as<int64_t>() + m.numel()),
            std::vector<int64_t>(want.data_as<int64_t>(), want.data_as<int64_t>() + want.numel()));
}

TEST(HunyuanTextCli, EncodeTextClipWritesPooled) {
  jenga::test::TempDir d;
  write_ids(d / "ids.safetensors", "clip_ids", "clip_mask");
  const auto r = jenga::test::run_jenga("debug encode-text --encoder clip --text-encoder " + kDir + "clip --ids " +
                                        (d / "ids.safetensors") + " --out " + (d / "out.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_LE(max_rel_error(load(d / "out.safetensors", "pooled"), golden("clip_pooled")), 1e-4);
  EXPECT_LE(max_rel_error(load(d / "out.safetensors", "last_hidden_state"), golden("clip_last_hidden")), 1e-4);
}

TEST(HunyuanTextCli, EncodeTextErrors) {
  jenga::test::TempDir d;
  write_ids(d / "ids.safetensors", "clip_ids", "clip_mask");
  auto r = jenga::test::run_jenga("debug encode-text --encoder llama --text-encoder " + kDir + "clip --ids " +
                                  (d / "ids.safetensors") + " --out " + (d / "o.safetensors"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("error: " + kDir + "clip is not a Llama text encoder (it looks like a CLIP"), std::string::npos)
      << r.output;
  // CLIP on --device cuda: without a GPU (or CUDA in the build) one line that says to use the CPU.
  bool gpu = false;
#if JENGA_HAVE_CUDA
  gpu = jenga::cuda::available();
#endif
  r = jenga::test::run_jenga("debug encode-text --text-encoder " + kDir + "clip --ids " + (d / "ids.safetensors") +
                             " --out " + (d / "o.safetensors") + " --device cuda");
  if (gpu) {  // fp16 operands: within fp16 rounding of the official pooled vector
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_LE(max_rel_error(load(d / "o.safetensors", "pooled"), golden("clip_pooled")), 1e-2);
    return;
  }
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("use --device cpu"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(d / "o.safetensors"));
}

TEST(HunyuanTextCli, TokenizePrintsTheTemplatedIds) {
  JENGA_REQUIRE_TEST_TOKENIZER(dir, "llama3");
  std::ifstream f(kDir + "tokenizer_golden.json");
  const auto g = nlohmann::json::parse(f);
  const auto& c = g["cases"][0];
  jenga::test::TempDir d;
  std::ofstream(d / "prompt.txt") << c["text"].get<std::string>();
  const auto r = jenga::test::run_jenga("debug tokenize --tokenizer " + dir + " --template hunyuan-video --text \"$(cat " +
                                        (d / "prompt.txt") + ")\"");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  auto want = g["template_prefix"].get<std::vector<int64_t>>();
  for (auto v : c["llama_video_tail"]) want.push_back(v);
  const size_t n = want.size();
  want.resize(351, 128258);
  EXPECT_EQ(j["ids"].get<std::vector<int64_t>>(), want);
  EXPECT_EQ(j["mask"].get<std::vector<int64_t>>()[n - 1], 1);
  EXPECT_EQ(j["mask"].get<std::vector<int64_t>>()[n], 0);
  EXPECT_EQ(j["crop_start"].get<int64_t>(), 95);
}

// HunyuanVideo-I2V tokenizes to text_len + its own template's crop (256 + 103, inference.py),
// not T2V's 95: a long prompt fills 359 ids, and a short --text-len still leaves text.
TEST(HunyuanTextCli, TokenizeI2vTemplateTakesItsOwnCrop) {
  JENGA_REQUIRE_TEST_TOKENIZER(dir, "llama3");
  jenga::test::TempDir d;
  std::string long_prompt;
  for (int i = 0; i < 300; ++i) long_prompt += "word, ";
  std::ofstream(d / "prompt.txt") << long_prompt;
  auto r = jenga::test::run_jenga("debug tokenize --tokenizer " + dir + " --template hunyuan-i2v-video --text \"$(cat " +
                                  (d / "prompt.txt") + ")\"");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output);
  const auto mask = j["mask"].get<std::vector<int64_t>>();
  EXPECT_EQ(j["ids"].size(), 256u + 103u);
  EXPECT_EQ(std::count(mask.begin(), mask.end(), 1), 256 + 103);
  EXPECT_EQ(j["crop_start"].get<int64_t>(), 103);
  r = jenga::test::run_jenga("debug tokenize --tokenizer " + dir + " --template hunyuan-i2v-video --text-len 8 --text 'A cat'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["ids"].size(), 8u + 103u);
}

// A HunyuanVideo model folder as --tokenizer: with --template its text_encoder/ tokenizer runs
// (the same ids as naming that folder); without, the error says what to pass.
TEST(HunyuanTextCli, TokenizeTakesAModelFolder) {
  JENGA_REQUIRE_TEST_TOKENIZER(dir, "llama3");
  jenga::test::TempDir d;
  std::filesystem::create_directories(d.path() / "text_encoder");
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    std::filesystem::copy_file(dir + "/" + f, d.path() / "text_encoder" / f);
  const auto direct = jenga::test::run_jenga("debug tokenize --tokenizer " + dir + " --template hunyuan-video --text 'A cat'");
  const auto root = jenga::test::run_jenga("debug tokenize --tokenizer " + d.path().string() +
                                           " --template hunyuan-video --text 'A cat'");
  ASSERT_EQ(direct.exit_code, 0) << direct.output;
  ASSERT_EQ(root.exit_code, 0) << root.output;
  EXPECT_EQ(nlohmann::json::parse(root.output)["ids"], nlohmann::json::parse(direct.output)["ids"]);
  const auto bare = jenga::test::run_jenga("debug tokenize --tokenizer " + d.path().string() + " --text 'A cat'");
  EXPECT_NE(bare.exit_code, 0);
  EXPECT_NE(bare.output.find("add --template hunyuan-video"), std::string::npos) << bare.output;
}
