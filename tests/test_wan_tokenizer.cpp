// umT5 tokenizer path against goldens from the official HuggingfaceTokenizer
// (tools/golden/wan_tokenizer_golden.py) on a tiny SentencePiece model trained with spm_train.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "models/wan/text_clean.h"
#include "models/wan/tokenizer.h"
#include "test_util.h"

namespace wan = jenga::wan;

namespace {
const std::string kDir = std::string(JENGA_TEST_DATA) + "/wan_t5/";

nlohmann::json golden() {
  std::ifstream f(kDir + "tokenizer_golden.json");
  return nlohmann::json::parse(f);
}
}  // namespace

TEST(WanTextClean, MatchesOfficialCleaning) {
  const auto g = golden();
  ASSERT_GE(g.size(), 30u);
  for (const auto& c : g) {
    const std::string text = c["text"];
    EXPECT_EQ(wan::clean_prompt_whitespace(text), c["cleaned"].get<std::string>()) << text;
  }
}

TEST(WanTextClean, HtmlUnescapeFollowsPython) {
  auto u = [](const std::string& s) { return wan::u32_to_utf8(wan::html_unescape(wan::utf8_to_u32(s))); };
  EXPECT_EQ(u("&amp"), "&");
  EXPECT_EQ(u("a &lt;b&gt; c"), "a <b> c");
  EXPECT_EQ(u("&notit;"), "\xc2\xacit;");
  EXPECT_EQ(u("&bogus; &"), "&bogus; &");
  EXPECT_EQ(u("&#0;"), "\xef\xbf\xbd");
  EXPECT_EQ(u("&#x80;"), "\xe2\x82\xac");
  EXPECT_EQ(u("&#1;x"), "x");
  EXPECT_EQ(u("&#65"), "A");
  EXPECT_EQ(u("&#x110000;"), "\xef\xbf\xbd");
  EXPECT_EQ(u("&#99999999999999999999;"), "\xef\xbf\xbd");
  EXPECT_EQ(u("&hellip;&mdash;"), "\xe2\x80\xa6\xe2\x80\x94");
  EXPECT_EQ(u("&hellip"), "&hellip");  // not a legacy name: needs the semicolon
}

TEST(WanTextClean, InvalidUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(wan::clean_prompt_whitespace("a\xff" "b"), "a\xef\xbf\xbd" "b");
  EXPECT_EQ(wan::clean_prompt_whitespace("\xe4\xb8"), "\xef\xbf\xbd\xef\xbf\xbd");
}

TEST(WanTokenizer, MatchesOfficialIds) {
  if (!wan::UmT5Tokenizer::available()) GTEST_SKIP() << "built without SentencePiece";
  const auto tok = wan::UmT5Tokenizer::open(kDir + "tiny_spm.model");
  int n = 0;
  for (const auto& c : golden()) {
    const auto got = tok.encode(c["text"].get<std::string>(), c["text_len"].get<int64_t>());
    EXPECT_EQ(got.ids, c["ids"].get<std::vector<int64_t>>()) << c["text"];
    EXPECT_EQ(got.mask, c["mask"].get<std::vector<int64_t>>()) << c["text"];
    ++n;
  }
  EXPECT_GE(n, 30);
}

TEST(WanTokenizer, BadFilesAreClearErrors) {
  if (!wan::UmT5Tokenizer::available()) GTEST_SKIP() << "built without SentencePiece";
  jenga::test::TempDir dir;
  auto expect_error = [](const std::string& path, const std::string& needle) {
    try {
      wan::UmT5Tokenizer::open(path);
      FAIL() << path << " accepted";
    } catch (const jenga::Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error(dir / "missing.model", "does not exist");
  expect_error(dir.path().string(), "has no spiece.model");
  std::ofstream(dir.path() / "tokenizer.json") << "{}";
  expect_error(dir.path().string(), "has a tokenizer.json but no spiece.model");
  // A Wan2.1 checkpoint folder: its google/umt5-xxl/spiece.model.
  std::filesystem::create_directories(dir.path() / "google" / "umt5-xxl");
  std::filesystem::copy_file(kDir + "tiny_spm.model", dir.path() / "google" / "umt5-xxl" / "spiece.model");
  EXPECT_EQ(wan::UmT5Tokenizer::open(dir.path().string()).encode("a cat", 8).ids,
            wan::UmT5Tokenizer::open(kDir + "tiny_spm.model").encode("a cat", 8).ids);
  expect_error(kDir + "tiny_t5.safetensors", "is not a SentencePiece tokenizer model");
  const auto tok = wan::UmT5Tokenizer::open(kDir + "tiny_spm.model");
  EXPECT_THROW(tok.encode("x", 0), jenga::UsageError);
  EXPECT_EQ(tok.encode("x", 1).ids, std::vector<int64_t>{1});
}
