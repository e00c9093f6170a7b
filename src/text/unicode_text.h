#pragma once
// The few Unicode operations the CLIP prompt cleaning needs, as Python 3 defines them, through
// utf8proc (Unicode 15; Python 3.11 uses 14, which differs only for characters added in 15).
#include <string>
#include <string_view>

namespace jenga::text {

// Two-letter general category of a code point ("Lu", "Zs", "Cn", ...).
std::string_view unicode_category(char32_t c);
// unicodedata.normalize("NFC", s) on UTF-32 text.
std::u32string nfc(const std::u32string& s);
// str.lower(): full lowercase mapping (U+0130 -> "i\u0307") with the final-sigma rule.
std::u32string python_lower(const std::u32string& s);
// str.isspace() (bidirectional class WS, B or S, or category Zs).
bool python_isspace(char32_t c);

}  // namespace jenga::text
