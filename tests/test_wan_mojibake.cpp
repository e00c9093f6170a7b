// Our ftfy port (mojibake repair and the rest of fix_text) against goldens from ftfy 6.3.1
// (tools/golden/ftfy_mojibake_golden.py): fix_encoding, fix_text, and the whole Wan2.1 prompt
// cleaning.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "models/wan/mojibake.h"
#include "models/wan/text_clean.h"

namespace wan = jenga::wan;

namespace {

std::string fix_encoding(const std::string& s) { return wan::u32_to_utf8(wan::fix_encoding(wan::utf8_to_u32(s))); }
bool is_bad(const std::string& s) { return wan::is_bad(wan::utf8_to_u32(s)); }

}  // namespace

TEST(WanMojibake, MatchesFtfyGolden) {
  std::ifstream f(std::string(JENGA_TEST_DATA) + "/wan_t5/mojibake_golden.json");
  ASSERT_TRUE(f) << "mojibake_golden.json missing";
  const auto g = nlohmann::json::parse(f);
  ASSERT_GE(g.size(), 900u);
  size_t repaired = 0;
  for (const auto& c : g) {
    // Fields left out equal the previous one (see the generator).
    const std::string t = c["t"];
    const std::string e = c.value("e", t), fixed = c.value("f", e), cleaned = c.value("c", fixed);
    repaired += e != t;
    EXPECT_EQ(fix_encoding(t), e) << "fix_encoding: " << t;
    EXPECT_EQ(wan::u32_to_utf8(wan::ftfy_fix_text(wan::utf8_to_u32(t))), fixed) << "fix_text: " << t;
    const std::string ours = wan::clean_prompt_whitespace(t);
    EXPECT_EQ(ours, cleaned) << "cleaning: " << t;
  }
  EXPECT_GE(repaired, 500u);  // the corpus does exercise the repair
}

TEST(WanMojibake, RepairsCommonMojibake) {
  EXPECT_EQ(fix_encoding("caf\xc3\x83\xc2\xa9"), "caf\xc3\xa9");                            // cafÃ© -> café
  EXPECT_EQ(fix_encoding("voil\xc3\x83 le travail"), "voil\xc3\xa0 le travail");             // 0xA0 made a space
  EXPECT_EQ(fix_encoding("\xc3\x83 la mode"), "\xc3\xa0 la mode");                           // Ã la -> à la
  EXPECT_EQ(fix_encoding("\xc3\xad\xc2\xa0\xc2\xbd\xc3\xad\xc2\xb8\xc2\x80"), "\xf0\x9f\x98\x80");  // CESU-8 😀
  EXPECT_EQ(fix_encoding("\xc2\x93quoted\xc2\x94"), "\xe2\x80\x9cquoted\xe2\x80\x9d");  // C1 as Windows-1252
  // Legitimate text stays.
  EXPECT_EQ(fix_encoding("na\xc3\xafve caf\xc3\xa9"), "na\xc3\xafve caf\xc3\xa9");
  EXPECT_FALSE(is_bad("\xc3\x9e\x65tta er \xc3\xadslenska"));  // Þetta er íslenska
  EXPECT_TRUE(is_bad("caf\xc3\x83\xc2\xa9"));
}

TEST(WanMojibake, CleaningRepairsMojibakePrompt) {
  // curly quotes around mojibake: repaired, then uncurled
  EXPECT_EQ(wan::clean_prompt_whitespace("\xe2\x80\x9c" "A caf\xc3\x83\xc2\xa9 at night\xe2\x80\x9d"),
            "\"A caf\xc3\xa9 at night\"");
}

namespace {
// Strict UTF-8 (no overlongs, surrogates or values past U+10FFFF).
bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    const int n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    char32_t c = n == 1 ? b : b & (0x7F >> n);
    for (int k = 1; k < n; ++k) {
      const auto t = static_cast<unsigned char>(s[i + k]);
      if ((t >> 6) != 2) return false;
      c = (c << 6) | (t & 0x3F);
    }
    static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < kMin[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return false;
    i += static_cast<size_t>(n);
  }
  return true;
}
}  // namespace

// Any bytes a user can paste (seeded byte soup, biased to the lead and continuation bytes that
// mojibake is made of, and to real mojibake pieces): the cleaning ends, gives valid UTF-8, and
// fix_encoding's result is its own fixed point (it repeats one-step fixes until nothing changes).
TEST(WanMojibake, ArbitraryBytesGiveValidUtf8AndAFixedPoint) {
  uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&] { return state = state * 6364136223846793005ull + 1442695040888963407ull, state >> 33; };
  const std::string pieces[] = {"\xc3\x83\xc2\xa9", "\xc3\xa2\xe2\x82\xac\xe2\x84\xa2", "\xc3\x83 ", "\xc2\xa0",
                                "\xef\xbf\xbd", "&amp;", "\x1b[31m", "\xed\xa0\xbd", "\xc0\x80", "\r\n", "\xe2\x80\x9c"};
  for (int round = 0; round < 3000; ++round) {
    std::string s;
    const size_t len = next() % 40;
    for (size_t i = 0; i < len; ++i) {
      const uint64_t r = next();
      if (r % 5 == 0) s += pieces[(r >> 8) % std::size(pieces)];
      else if (r % 5 == 1) s += static_cast<char>('a' + (r >> 8) % 26);
      else s += static_cast<char>(0x80 + (r >> 8) % 0x80);
    }
    const std::string cleaned = wan::clean_prompt_whitespace(s);
    ASSERT_TRUE(valid_utf8(cleaned)) << "cleaning of round " << round;
    const std::string once = fix_encoding(wan::u32_to_utf8(wan::utf8_to_u32(s)));
    ASSERT_TRUE(valid_utf8(once)) << "fix_encoding of round " << round;
    EXPECT_EQ(fix_encoding(once), once) << "round " << round;
  }
}
