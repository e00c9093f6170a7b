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
