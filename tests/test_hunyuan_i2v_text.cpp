// HunyuanVideo-I2V's text encoder as a whole (image + ids -> the 396-row states at full size)
// against the official TextEncoder.encode in i2v_mode on transformers' LlavaForConditionalGeneration
// (tools/golden/hunyuan_i2v_text_golden.py, tiny random config: 9 image tokens, crop 20, "\n\n" = 27).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/error.h"
#include "io/image_reader.h"
#include "io/safetensors.h"
#include "models/hunyuan/i2v_text_encoder.h"
#include "models/hunyuan/llama_text_encoder.h"
#include "models/hunyuan/llava_vision.h"
#include "models/hunyuan/llama_tokenizer.h"
#include "models/hunyuan/text_template.h"
#include "hunyuan_test_tokenizers.h"
#include "golden_compare.h"
#include "test_util.h"

using jenga::test::run_jenga;
using jenga::test::TempDir;
namespace hy = jenga::hunyuan;

namespace {
const std::string kDir = std::string(JENGA_TEST_DATA) + "/hunyuan_i2v";
const std::string kModel = kDir + "/llava_i2v_tiny";

std::vector<int64_t> i64(const jenga::Tensor& t) {
  const jenga::Tensor c = t.to(jenga::DType::I64);
  return {c.data_as<int64_t>(), c.data_as<int64_t>() + c.numel()};
}

// [rows, 1] hidden states whose row r holds r: a crop's row choice reads off directly.
jenga::Tensor index_rows(int64_t rows) {
  jenga::Tensor h = jenga::Tensor::empty(jenga::DType::F32, {rows, 1});
  for (int64_t r = 0; r < rows; ++r) h.data_as<float>()[r] = static_cast<float>(r);
  return h;
}

// The crop tests' template: crop_start 5, the image id at 1, "\n\n" = 9.
hy::I2vTextCrop row_crop(int64_t interleave) {
  hy::I2vTextCrop c;
  c.crop_start = 5, c.image_emb_start = 1, c.double_return_id = 9, c.interleave = interleave;
  return c;
}

hy::I2vTextCrop tiny_crop() {
  hy::I2vTextCrop c;
  c.crop_start = 20, c.image_emb_start = 5, c.double_return_id = 27, c.interleave = 4;
  return c;
}
}  // namespace

TEST(HunyuanI2vText, MergedLlavaStatesAndOfficialCropMatchTextEncoder) {
  const auto g = jenga::SafetensorsFile::open(kDir + "/i2v_text_golden.safetensors");
  const auto vision = hy::LlavaVisionEncoder::open(kModel);
  const auto llm = hy::LlamaTextEncoder::open(kModel);
  const auto sp = hy::LlavaSpecialTokens::load(kModel);
  EXPECT_EQ(sp.image, 120);
  EXPECT_EQ(sp.pad, 121);
  EXPECT_EQ(llm.config().layers, 4);
  const auto px = hy::clip_preprocess(jenga::read_image_rgb(kDir + "/photo_71x43.jpg"), hy::ClipImageProcessorConfig::load(kModel));
  const auto image = vision.encode(px);
  ASSERT_EQ(image.projected.dim(0), 9);
  for (const std::string c : {"padded", "truncated", "extra"}) {
    const auto ids = i64(g->load(c + "_ids")), mask = i64(g->load(c + "_mask"));
    jenga::Tensor hidden;
    const auto s = hy::i2v_encode_text(llm, ids, mask, image.projected, sp, tiny_crop(), 2, &hidden);
    const auto want_hidden = g->load(c + "_hidden");
    ASSERT_EQ(hidden.shape().str(), want_hidden.shape().str()) << c;
    // Padded rows too: pad embeddings zeroed, masked rows at RoPE position 1, as transformers merges.
    EXPECT_LE(jenga::test::max_rel_error(hidden.to_f32_vector(), want_hidden.to_f32_vector()), 1e-5) << c;
    const auto want = g->load(c + "_states");
    ASSERT_EQ(s.states.shape().str(), want.shape().str()) << c;  // 3 image rows + 16 text rows
    EXPECT_LE(jenga::test::max_rel_error(s.states.to_f32_vector(), want.to_f32_vector()), 1e-5) << c;
    EXPECT_EQ(s.mask, i64(g->load(c + "_states_mask"))) << c;
  }
}

TEST(HunyuanI2vText, CropRowsFollowTheLastDoubleReturn) {
  // Hidden row r holds the value r: the crop's row choice is visible directly. L = 14 ids, N = 5
  // image rows for the id at 1, crop_start 5, "\n\n" = 9 at 2, 3, 4 and 11 (the assistant one),
  // padding at 12, 13. Id i > 1 sits at hidden row i + 4.
  const int64_t L = 14, N = 5;
  std::vector<int64_t> ids = {1, 7, 9, 9, 9, 20, 21, 22, 23, 24, 25, 9, 30, 30}, mask(L, 1);
  mask[12] = mask[13] = 0;
  const jenga::Tensor h = index_rows(L + N - 1);
  hy::I2vTextCrop c = row_crop(2);
  auto s = hy::i2v_crop_states(h, ids, mask, N, c);
  // image rows 1, 3, 5; ids 5, 6 (up to d - 4 = 7) -> rows 9, 10; ids 11..13 -> rows 15..17.
  EXPECT_EQ(s.states.to_f32_vector(), (std::vector<float>{1, 3, 5, 9, 10, 15, 16, 17}));
  EXPECT_EQ(s.mask, (std::vector<int64_t>{1, 1, 1, 1, 1, 1, 0, 0}));
  // Only 3 "\n\n" (truncated): d = L, so the last 4 ids go as the assistant header would.
  ids[11] = 26;
  s = hy::i2v_crop_states(h, ids, mask, N, c);
  EXPECT_EQ(s.states.to_f32_vector(), (std::vector<float>{1, 3, 5, 9, 10, 11, 12, 13}));
  EXPECT_EQ(s.mask, (std::vector<int64_t>{1, 1, 1, 1, 1, 1, 1, 1}));
  // None at all: one line, no crash.
  ids = {1, 7, 2, 3, 4, 20, 21, 22, 23, 24, 25, 26, 30, 30};
  EXPECT_THROW(hy::i2v_crop_states(h, ids, mask, N, c), jenga::Error);
  // The official crop is Python slices: [crop_start, d - 4) is empty when the last "\n\n" (d)
  // comes within 4 ids of crop_start, and then only the ids from d on remain. d = 7: image rows
  // 1, 3, 5, then ids 7..13 -> rows 11..17.
  ids = {1, 7, 9, 9, 9, 20, 21, 9, 22, 23, 24, 25, 30, 30};
  s = hy::i2v_crop_states(h, ids, mask, N, c);
  EXPECT_EQ(s.states.to_f32_vector(), (std::vector<float>{1, 3, 5, 11, 12, 13, 14, 15, 16, 17}));
  EXPECT_EQ(s.mask, (std::vector<int64_t>{1, 1, 1, 1, 1, 1, 1, 1, 0, 0}));
  // 3 "\n\n" (truncated) -> d = L, and crop_start 12 > d - 4: no text row at all, the image rows alone.
  ids[7] = 26;
  c.crop_start = 12;
  s = hy::i2v_crop_states(h, ids, mask, N, c);
  EXPECT_EQ(s.states.to_f32_vector(), (std::vector<float>{1, 3, 5}));
  EXPECT_EQ(s.mask, (std::vector<int64_t>{1, 1, 1}));
  // A crop_start past the ids is no template at all: still an error.
  c.crop_start = L;
  EXPECT_THROW(hy::i2v_crop_states(h, ids, mask, N, c), jenga::Error);
}

TEST(HunyuanI2vText, InterleaveOf6OrMoreKeepsEveryImageRow) {
  // TextEncoder.encode subsamples the image rows only when 0 < image_embed_interleave < 6.
  const int64_t L = 14, N = 5;
  const std::vector<int64_t> ids = {1, 7, 9, 9, 9, 20, 21, 22, 23, 24, 25, 9, 30, 30}, mask(L, 1);
  const jenga::Tensor h = index_rows(L + N - 1);
  hy::I2vTextCrop c = row_crop(4);
  for (const int64_t interleave : {5, 6, 9}) {
    c.interleave = interleave;
    const auto s = hy::i2v_crop_states(h, ids, mask, N, c);
    const std::vector<float> image = interleave == 5 ? std::vector<float>{1} : std::vector<float>{1, 2, 3, 4, 5};
    std::vector<float> want = image;
    for (float r : {9, 10, 15, 16, 17}) want.push_back(r);
    EXPECT_EQ(s.states.to_f32_vector(), want) << interleave;
    EXPECT_EQ(c.image_rows(N), static_cast<int64_t>(image.size())) << interleave;
  }
}

TEST(HunyuanI2vText, EncodeTextImageFlag) {
  const auto g = jenga::SafetensorsFile::open(kDir + "/i2v_text_golden.safetensors");
  TempDir dir;
  {
    jenga::SafetensorsWriter w;
    w.add("ids", g->load("padded_ids"));
    w.add("mask", g->load("padded_mask"));
    w.write(dir / "ids.safetensors");
  }
  const std::string base = "debug encode-text --text-encoder " + kModel + " --image " + kDir + "/photo_71x43.jpg ";
  auto r = run_jenga(base + "--ids " + (dir / "ids.safetensors") + " --crop-start 20 --double-return-id 27 --out " +
                     (dir / "s.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto out = jenga::SafetensorsFile::open(dir / "s.safetensors");
  EXPECT_LE(jenga::test::max_rel_error(out->load("hidden_states").to_f32_vector(), g->load("padded_states").to_f32_vector()), 1e-5);
  EXPECT_EQ(i64(out->load("mask")), i64(g->load("padded_states_mask")));
  // The official defaults (crop 103, "\n\n" = 271) do not fit these 40 ids: a one-line error.
  r = run_jenga(base + "--ids " + (dir / "ids.safetensors") + " --out " + (dir / "x.safetensors"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "x.safetensors"));
  // Bad image before any weights; --ids and --prompt together; --prompt without a tokenizer.
  r = run_jenga("debug encode-text --text-encoder " + kModel + " --image " + (dir / "none.png") + " --ids " +
                (dir / "ids.safetensors") + " --out " + (dir / "x.safetensors"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("no such file"), std::string::npos) << r.output;
  r = run_jenga(base + "--ids " + (dir / "ids.safetensors") + " --prompt hi --out " + (dir / "x.safetensors"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_jenga(base + "--prompt hi --out " + (dir / "x.safetensors"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("tokenizer"), std::string::npos) << r.output;
  r = run_jenga("debug encode-text --text-encoder " + kModel + " --out " + (dir / "x.safetensors"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  // --prompt with the real Llama-3 tokenizer beside the tiny model: the 359 templated ids hold
  // <image> as 128257, not the tiny config's 120: one line naming --prompt (the tokenizer path ran).
  const std::string tok = jenga::test::test_tokenizers_dir() + "/llama3/tokenizer.json";
  if (std::filesystem::exists(tok)) {
    const std::filesystem::path both = dir.path() / "llava_with_tokenizer";
    std::filesystem::create_directories(both);
    for (const auto& e : std::filesystem::directory_iterator(kModel)) std::filesystem::copy(e.path(), both / e.path().filename());
    std::filesystem::copy(tok, both / "tokenizer.json");
    std::filesystem::copy(std::filesystem::path(tok).parent_path() / "tokenizer_config.json", both / "tokenizer_config.json");
    r = run_jenga("debug encode-text --text-encoder " + both.string() + " --image " + kDir + "/photo_71x43.jpg " +
                  "--prompt \"a cat\" --out " + (dir / "x.safetensors"));
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_EQ(r.output.rfind("error: --prompt: no image token (id 120", 0), 0u) << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir / "x.safetensors"));
  }
}

// The published template through the real Llama-3 tokenizer (xtuner's added tokens): <image> at
// 5, four "\n\n" (271), 359 ids; the crop of 576 image rows then gives 144 + 252 = 396 rows, and a
// prompt long enough to cut the assistant header still gives 396 (d = L).
TEST(HunyuanI2vText, PublishedTemplateCropGives396Rows) {
  JENGA_REQUIRE_TEST_TOKENIZER(dir, "llama3");
  const auto tok = hy::LlamaTokenizer::open(dir);
  const auto& tpl = hy::i2v_video_template();
  const hy::I2vTextCrop crop;  // the published numbers: 103, 5, 271, every 4th
  const int64_t N = 576, L = 256 + tpl.crop_start;
  jenga::Tensor h = jenga::Tensor::empty(jenga::DType::F32, {L + N - 1, 1});
  for (int64_t r = 0; r < L + N - 1; ++r) h.data_as<float>()[r] = static_cast<float>(r);
  std::string longp;
  for (int i = 0; i < 300; ++i) longp += "word ";
  for (const std::string& prompt : {std::string("A cat walks on the grass."), longp}) {
    const auto t = hy::tokenize_llm_prompt(tok, prompt, tpl, L);
    ASSERT_EQ(static_cast<int64_t>(t.ids.size()), L);
    EXPECT_EQ(t.ids[5], 128257);
    const auto n271 = std::count(t.ids.begin(), t.ids.end(), 271);
    EXPECT_EQ(n271, prompt == longp ? 3 : 4);
    const auto s = hy::i2v_crop_states(h, t.ids, t.mask, N, crop);
    EXPECT_EQ(s.states.dim(0), 396);
    ASSERT_EQ(s.mask.size(), 396u);
    EXPECT_EQ(s.states.data_as<float>()[0], 5.0f);      // image rows 5, 9, .., 577
    EXPECT_EQ(s.states.data_as<float>()[143], 577.0f);
    EXPECT_EQ(s.states.data_as<float>()[144], 678.0f);  // input id 103 (the prompt's first token)
    int64_t ones = 0;
    for (auto m : s.mask) ones += m;
    if (prompt == longp) {
      EXPECT_EQ(ones, 396);  // no padding; the last 4 prompt ids are cut with the missing header
      EXPECT_EQ(s.states.data_as<float>()[395], static_cast<float>(L - 5 + N - 1));
    } else {
      const int64_t d = std::find(t.ids.rbegin(), t.ids.rend(), 271).base() - t.ids.begin() - 1;
      EXPECT_EQ(ones, 144 + (d - 4 - 103) + 1);  // prompt ids, then the final "\n\n", then padding
    }
  }
}

// --prompt "" is a prompt (the official TextEncoder encodes the empty string), not a missing one:
// on make-tiny's I2V folder (4 image rows, every 4th kept) it gives 1 + 252 rows like any prompt.
TEST(HunyuanI2vText, EmptyPromptIsEncoded) {
  TempDir dir;
  const std::string model = dir / "ckpts";
  auto m = run_jenga("debug make-tiny --family hunyuan-i2v --out " + model);
  ASSERT_EQ(m.exit_code, 0) << m.output;
  const std::string base = "debug encode-text --text-encoder " + model + "/text_encoder_i2v --image " + kDir + "/photo_71x43.jpg ";
  for (const char* prompt : {"\"\"", "\"a cat\""}) {
    auto r = run_jenga(base + "--prompt " + prompt + " --out " + (dir / "s.safetensors"));
    ASSERT_EQ(r.exit_code, 0) << prompt << ": " << r.output;
    EXPECT_EQ(jenga::SafetensorsFile::open(dir / "s.safetensors")->load("hidden_states").dim(0), 253) << prompt;
  }
  // Still exactly one of --ids and --prompt, an empty one included.
  auto r = run_jenga(base + "--prompt \"\" --ids " + (dir / "none.safetensors") + " --out " + (dir / "x.safetensors"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("exactly one of --ids and --prompt"), std::string::npos) << r.output;
}

namespace {

// A copy of llava_i2v_tiny (vision width 32, 3 layers; LLM width 40, vocab 128) with config.json
// edited and, optionally, the tensors whose names contain `drop` left out.
std::string edited_llava(const TempDir& dir, const std::string& name, const std::function<void(nlohmann::json&)>& edit,
                         const std::string& drop = "") {
  const std::filesystem::path out = dir.path() / name;
  std::filesystem::create_directories(out);
  for (const char* f : {"config.json", "preprocessor_config.json"}) std::filesystem::copy(kModel + "/" + f, out / f);
  if (drop.empty()) {
    std::filesystem::copy(kModel + "/model.safetensors", out / "model.safetensors");
  } else {
    const auto in = jenga::SafetensorsFile::open(kModel + "/model.safetensors");
    jenga::SafetensorsWriter w;
    for (const auto& t : in->header().tensors)
      if (t.name.find(drop) == std::string::npos) w.add(t.name, in->load(t.name));
    w.write((out / "model.safetensors").string());
  }
  nlohmann::json j;
  std::ifstream(out / "config.json") >> j;
  edit(j);
  std::ofstream(out / "config.json") << j.dump();
  return out.string();
}

// f fails with a jenga::Error whose message holds `want`.
void expect_error(const std::function<void()>& f, const std::string& want) {
  try {
    f();
    ADD_FAILURE() << "no error; expected: " << want;
  } catch (const jenga::Error& e) {
    EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
  }
}

}  // namespace

// config.json values that disagree with the weights are one-line errors naming the field, its
// value and what the weights hold (transformers refuses such a checkpoint or runs other shapes).
TEST(HunyuanI2vText, ConfigThatDisagreesWithTheWeightsIsNamed) {
  TempDir dir;
  const auto vision = [&](const std::string& name, const std::function<void(nlohmann::json&)>& edit, const std::string& want,
                          const std::string& drop = "") {
    const std::string folder = edited_llava(dir, name, edit, drop);
    expect_error([&] { hy::LlavaVisionEncoder::open(folder); }, want);
  };
  vision("layers5", [](auto& j) { j["vision_config"]["num_hidden_layers"] = 5; },
         "vision_config.num_hidden_layers is 5 but the weights hold 3 layers");
  vision("hidden64", [](auto& j) { j["vision_config"]["hidden_size"] = 64; },
         "vision_config.hidden_size is 64 but the weights are 32 wide");
  vision("ffn", [](auto& j) { j["vision_config"]["intermediate_size"] = 50; },
         "vision_config.intermediate_size is 50 but the weights hold 48");
  // Layer 1 missing: the layers stop at 0 (layer -2 would run none of them).
  vision("gap", [](auto&) {}, "vision_config.num_hidden_layers is 3 but the weights hold 1 layers", "vision_model.encoder.layers.1.");
  vision("text48v", [](auto& j) { j["text_config"]["hidden_size"] = 48; },
         "text_config.hidden_size is 48 but the projector gives 40");
  // The LLM side: text_config.hidden_size against embed_tokens; no text_config at all.
  const std::string t48 = edited_llava(dir, "text48", [](auto& j) { j["text_config"]["hidden_size"] = 48; });
  expect_error([&] { hy::LlamaTextEncoder::open(t48); }, "text_config.hidden_size is 48 but the weights are 40 wide");
  const std::string notext = edited_llava(dir, "notext", [](auto& j) { j.erase("text_config"); });
  expect_error([&] { hy::LlamaTextEncoder::open(notext); }, "config.json has no text_config");
  // image_token_index outside the LLM's embedding table (transformers' embedding lookup fails).
  const std::string oov = edited_llava(dir, "oov", [](auto& j) { j["image_token_index"] = 500; });
  const auto llm = hy::LlamaTextEncoder::open(oov);
  const auto sp = hy::LlavaSpecialTokens::load(oov);
  const std::vector<int64_t> ids = {1, 500, 2}, mask = {1, 1, 1};
  const jenga::Tensor rows = jenga::Tensor::zeros(jenga::DType::F32, {2, 40});
  expect_error([&] { hy::llava_merge_input(llm, ids, mask, rows, sp); },
               "image_token_index 500 is outside the LLM's 128 embedding rows");
}
