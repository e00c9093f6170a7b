// HunyuanVideo tokenizers against transformers 4.46.3 (tools/golden/hunyuan_tokenizer_golden.py)
// on the real Llama-3 and CLIP tokenizer files (scripts/fetch_test_tokenizers.sh), through the
// official T2V calls: video template, 351 tokens, crop 95; CLIP 77 tokens.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "hunyuan_test_tokenizers.h"
#include "models/hunyuan/clip_tokenizer.h"
#include "models/hunyuan/llama_tokenizer.h"
#include "models/hunyuan/text_template.h"
#include "models/hunyuan/tokenizer_files.h"
#include "test_util.h"
#include "text/regex_split.h"

namespace hy = jenga::hunyuan;

namespace {

const nlohmann::json& golden() {
  static const nlohmann::json g = [] {
    std::ifstream f(std::string(JENGA_TEST_DATA) + "/hunyuan_text/tokenizer_golden.json");
    return nlohmann::json::parse(f);
  }();
  return g;
}

std::string show(const std::string& s) { return nlohmann::json(s).dump(); }

}  // namespace

TEST(HunyuanTokenizer, GoldenHasEnoughPrompts) {
  EXPECT_GE(golden()["cases"].size(), 200u);
  EXPECT_EQ(golden()["crop_start"].get<int64_t>(), hy::video_template().crop_start);
  EXPECT_EQ(golden()["max_length"].get<int64_t>(), hy::kLlmMaxLength);
}

TEST(HunyuanTokenizer, LlamaVideoTemplateMatchesTransformers) {
  JENGA_REQUIRE_TEST_TOKENIZER(dir, "llama3");
  const auto tok = hy::LlamaTokenizer::open(dir);
  const auto& g = golden();
  const auto prefix = g["template_prefix"].get<std::vector<int64_t>>();
  const int64_t L = g["max_length"], crop = g["crop_start"], pad = g["llama_pad"];
  EXPECT_EQ(tok.pad_id(), pad);
  int bad = 0;
  for (const auto& c : g["cases"]) {
    const std::string text = c["text"];
    const auto got = hy::tokenize_llm_prompt(tok, text, hy::video_template());
    auto want = prefix;
    const auto tail = c["llama_video_tail"].get<std::vector<int64_t>>();
    want.insert(want.end(), tail.begin(), tail.end());
    std::vector<int64_t> mask(want.size(), 1);
    want.resize(static_cast<size_t>(L), pad);
    mask.resize(static_cast<size_t>(L), 0);
    if (got.ids != want || got.mask != mask) {
      ADD_FAILURE() << "prompt " << show(text);
      if (++bad > 5) break;
    }
    const auto plain = tok.encode_plain(text);
    EXPECT_EQ(plain, c["llama_plain"].get<std::vector<int64_t>>()) << show(text);
  }
  // The cropped part starts with the prompt's first token.
  const auto t = hy::tokenize_llm_prompt(tok, "  A cat  ", hy::video_template());
  EXPECT_EQ(t.ids[static_cast<size_t>(crop)], tok.encode_plain("A")[0]);
}

TEST(HunyuanTokenizer, LlamaWithoutIgnoreMergesAndPairMerges) {
  JENGA_REQUIRE_TEST_TOKENIZER(dir, "llama3-merges");
  const auto tok = hy::LlamaTokenizer::open(dir);
  for (const auto& c : golden()["cases"])
    EXPECT_EQ(tok.encode_plain(c["text"].get<std::string>()), c["llama_plain_merges"].get<std::vector<int64_t>>())
        << show(c["text"]);
}

TEST(HunyuanTokenizer, ClipMatchesTransformersWithoutFtfy) {
  JENGA_REQUIRE_TEST_TOKENIZER(dir, "clip-l");
  const auto tok = hy::ClipTokenizer::open(dir);
  const auto& g = golden();
  EXPECT_EQ(tok.bos_id(), 49406);
  EXPECT_EQ(tok.eos_id(), 49407);
  EXPECT_EQ(tok.pad_id(), g["clip_pad"].get<int64_t>());
  int bad = 0;
  for (const auto& c : g["cases"]) {
    const std::string text = c["text"];
    const auto got = tok.encode(hy::python_strip(text), hy::kClipMaxLength);
    auto want = c["clip"].get<std::vector<int64_t>>();
    std::vector<int64_t> mask(want.size(), 1);
    want.resize(77, tok.pad_id());
    mask.resize(77, 0);
    if (got.ids != want || got.mask != mask) {
      ADD_FAILURE() << "prompt " << show(text) << " cleaned " << show(hy::ClipTokenizer::clean(text));
      if (++bad > 5) break;
    }
  }
}

TEST(HunyuanTokenizer, ClipFromATokenizerJsonAlone) {
  // Some CLIP folders ship only tokenizer.json: the same vocabulary and merges, same cleaning.
  JENGA_REQUIRE_TEST_TOKENIZER(dir, "clip-l");
  jenga::test::TempDir d;
  nlohmann::json j;
  j["model"]["type"] = "BPE";
  j["model"]["end_of_word_suffix"] = "</w>";
  j["model"]["vocab"] = nlohmann::json::parse(std::ifstream(dir + "/vocab.json"));
  std::ifstream merges(dir + "/merges.txt");
  std::string line;
  std::getline(merges, line);  // #version
  j["model"]["merges"] = nlohmann::json::array();
  while (std::getline(merges, line))
    if (!line.empty()) j["model"]["merges"].push_back(line);
  std::ofstream(d / "tokenizer.json") << j.dump();
  EXPECT_EQ(hy::detect_tokenizer(d.path().string()), hy::TokenizerKind::Clip);
  const auto a = hy::ClipTokenizer::open(d.path().string()), b = hy::ClipTokenizer::open(dir);
  for (const auto& c : golden()["cases"]) {
    const std::string text = c["text"];
    EXPECT_EQ(a.encode(text).ids, b.encode(text).ids) << show(text);
  }
}

// A merges.txt cut short (an interrupted download) tokenized every later word differently and
// silently: the vocabulary's tokens that no merge makes name it. Synthetic (always runs): byte
// symbols a, b (and with </w>), one merge "a b</w>" making "ab</w>", the two specials.
TEST(HunyuanTokenizer, ClipMergesCutShortAreNamed) {
  jenga::test::TempDir d;
  const auto write = [&](const std::string& merges) {
    std::ofstream(d / "vocab.json") << R"({"a": 0, "b": 1, "a</w>": 2, "b</w>": 3, "ab</w>": 4,
        "<|startoftext|>": 5, "<|endoftext|>": 6})";
    std::ofstream(d / "merges.txt") << merges;
  };
  write("#version: 0.2\na b</w>\n");
  EXPECT_EQ(hy::ClipTokenizer::open(d.path().string()).encode_plain("ab"), (std::vector<int64_t>{4}));
  write("#version: 0.2\n");
  try {
    (void)hy::ClipTokenizer::open(d.path().string());
    ADD_FAILURE() << "a vocabulary with a token no merge makes was accepted";
  } catch (const jenga::Error& e) {
    EXPECT_NE(std::string(e.what()).find("merges.txt: has 0 merges, but the vocabulary holds 1 tokens no merge makes "
                                         "(e.g. 'ab</w>')"), std::string::npos) << e.what();
  }
}

// The real CLIP-L files: whole, every token is explained; the last 1,000 merges cut, named.
TEST(HunyuanTokenizer, ClipRealMergesCutShortAreNamed) {
  JENGA_REQUIRE_TEST_TOKENIZER(dir, "clip-l");
  jenga::test::TempDir d;
  std::filesystem::copy(dir, d.path(), std::filesystem::copy_options::recursive);
  (void)hy::ClipTokenizer::open(d.path().string());
  std::ifstream in(dir + "/merges.txt");
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_GT(lines.size(), 2000u);
  {
    std::ofstream out(d / "merges.txt", std::ios::trunc);
    for (size_t i = 0; i + 1000 < lines.size(); ++i) out << lines[i] << "\n";
  }
  try {
    (void)hy::ClipTokenizer::open(d.path().string());
    ADD_FAILURE() << "a cut merges.txt was accepted";
  } catch (const jenga::Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokens no merge makes"), std::string::npos) << e.what();
  }
}

TEST(HunyuanTokenizer, DetectsFolders) {
  JENGA_REQUIRE_TEST_TOKENIZER(dir, "");
  EXPECT_EQ(hy::detect_tokenizer(dir + "/llama3"), hy::TokenizerKind::Llama);
  EXPECT_EQ(hy::detect_tokenizer(dir + "/llama3/tokenizer.json"), hy::TokenizerKind::Llama);
  EXPECT_EQ(hy::detect_tokenizer(dir + "/clip-l"), hy::TokenizerKind::Clip);
  EXPECT_EQ(hy::detect_tokenizer(dir), hy::TokenizerKind::None);
}

TEST(HunyuanTokenizer, BadFilesAreOneLineErrors) {
  jenga::test::TempDir d;
  auto expect_error = [](auto&& f, const std::string& needle) {
    try {
      f();
      ADD_FAILURE() << "accepted; expected an error with: " << needle;
    } catch (const jenga::Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  };
  expect_error([&] { hy::LlamaTokenizer::open(d.path().string()); }, "has no tokenizer.json");
  expect_error([&] { hy::LlamaTokenizer::open(d / "nope.json"); }, "no such file");
  expect_error([&] { hy::ClipTokenizer::open(d.path().string()); }, "has no vocab.json");
  { std::ofstream(d / "tokenizer.json") << "{\"model\": {\"vocab\": "; }
  expect_error([&] { hy::LlamaTokenizer::open(d.path().string()); }, "is not valid JSON");
  { std::ofstream(d / "tokenizer.json") << R"({"model": {"type": "Unigram", "vocab": []}})"; }
  expect_error([&] { hy::LlamaTokenizer::open(d.path().string()); }, "is not BPE");
  { std::ofstream(d / "tokenizer.json") << R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]},
      "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false}})"; }
  expect_error([&] { hy::LlamaTokenizer::open(d.path().string()); }, "not in the vocabulary");
  std::filesystem::create_directory(d / "vocab.json");
  std::ofstream(d / "merges.txt") << "#version\n";
  expect_error([&] { hy::ClipTokenizer::open(d.path().string()); }, "is not a regular file");
}

TEST(HunyuanTokenizer, LlamaPaddingAndTruncationEdges) {
  JENGA_REQUIRE_TEST_TOKENIZER(dir, "llama3");
  const auto tok = hy::LlamaTokenizer::open(dir);
  EXPECT_THROW(tok.encode("x", 0), jenga::UsageError);
  const auto one = tok.encode("hello world", 1);
  EXPECT_EQ(one.ids, std::vector<int64_t>{128000});  // BOS kept, the text truncated away
  const auto t = tok.encode("", 4);
  EXPECT_EQ(t.ids, (std::vector<int64_t>{128000, 128258, 128258, 128258}));
  EXPECT_EQ(t.mask, (std::vector<int64_t>{1, 0, 0, 0}));
  // Invalid UTF-8 is read as U+FFFD (what Python's errors="replace" gives).
  EXPECT_EQ(tok.encode_plain("a\xff"), tok.encode_plain("a\xef\xbf\xbd"));
}

TEST(HunyuanTokenizer, AHugeWordDoesNotStall) {
  // One 200k-letter pre-token: the merge loop is O(n log n) (a quadratic one would take hours).
  JENGA_REQUIRE_TEST_TOKENIZER(dir, "clip-l");
  std::string word;
  for (int i = 0; i < 100000; ++i) word += "ab";
  const auto t = hy::ClipTokenizer::open(dir).encode(word);
  EXPECT_EQ(t.mask[76], 1);  // truncated to 77 with the end token
  EXPECT_EQ(t.ids[76], 49407);
}

TEST(HunyuanTokenizer, LlamaTokenizerClassFollowsAddBosAndAddEos) {
  // LlamaTokenizerFast rebuilds the post-processor from tokenizer_config.json's flags.
  JENGA_REQUIRE_TEST_TOKENIZER(dir, "llama3");
  jenga::test::TempDir d;
  std::filesystem::copy_file(dir + "/tokenizer.json", d / "tokenizer.json");
  std::ofstream(d / "tokenizer_config.json") << R"({"tokenizer_class": "LlamaTokenizer", "add_bos_token": false,
      "add_eos_token": true, "bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>", "pad_token": "<pad>"})";
  const auto t = hy::LlamaTokenizer::open(d.path().string()).encode("hi", 4);
  EXPECT_EQ(t.ids, (std::vector<int64_t>{6151, 128001, 128258, 128258}));
}

TEST(HunyuanTokenizer, WhitespaceClassesFollowUnicodeWhiteSpace) {
  EXPECT_EQ(jenga::text::rewrite_whitespace_classes(R"(a\s+(?!\S)[^\s\p{L}]\\s)"),
            R"(a[\t-\r\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]+(?![^\t-\r\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}])[^\t-\r\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\p{L}]\\s)");
  const jenga::text::RegexSplitter s(R"(\s+|\S+)", false, "test");
  const auto parts = s.split("a\xe1\xa0\x8e" "b c");  // U+180E is not White_Space
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0], "a\xe1\xa0\x8e" "b");
}

TEST(HunyuanTokenizer, TemplatesAreTheOfficialStrings) {
  const auto& v = hy::video_template();
  EXPECT_EQ(v.crop_start, 95);
  EXPECT_NE(v.text.find("of the video.2. The color"), std::string_view::npos);  // no space: adjacent literals
  EXPECT_TRUE(hy::apply_template(v, "X").ends_with("user<|end_header_id|>\n\nX<|eot_id|>"));
  EXPECT_EQ(hy::image_template().crop_start, 36);
  EXPECT_EQ(hy::i2v_video_template().crop_start, 103);
  EXPECT_EQ(hy::i2v_video_template().image_emb_start, 5);
  EXPECT_EQ(hy::find_template("hunyuan-video"), &v);
  EXPECT_EQ(hy::find_template("nope"), nullptr);
  EXPECT_EQ(hy::python_strip("\u3000 a b\t\n"), "a b");
}
