#pragma once
// The official Wan prompt cleaning (wan/modules/tokenizers.py, clean='whitespace'):
//   ftfy.fix_text -> html.unescape twice -> collapse \s+ to ' ' -> strip.
// ftfy.fix_text (6.3, default config) is reproduced step for step: per-line segments fixed until
// nothing changes by HTML entity decoding (off from the first line containing '<' on, as ftfy does;
// every HTML5 name and ftfy's upper-cased forms), mojibake repair (fix_encoding,
// models/wan/mojibake.h), C1 controls as Windows-1252, ftfy's Latin ligatures, full- and half-width
// forms, curly quotes, line breaks, ANSI terminal escapes, the control characters ftfy removes, and
// NFC (utf8proc: Unicode 15, Python 3.11's is 14). html.unescape follows Python's rules (numeric references,
// semicolon-less legacy names, longest-prefix match) over all 2,231 HTML5 names.
#include <string>
#include <string_view>

namespace jenga::wan {

// Input is UTF-8 (invalid bytes become U+FFFD); returns UTF-8.
std::string clean_prompt_whitespace(std::string_view text);

// ftfy.fix_text(text) with the default config (exposed for tests).
std::u32string ftfy_fix_text(const std::u32string& text);

// Python's str.isspace (the \s of its re module).
bool is_python_space(char32_t c);

// Python's html.unescape on UTF-32 text (exposed for tests).
std::u32string html_unescape(const std::u32string& s);

std::u32string utf8_to_u32(std::string_view s);
std::string u32_to_utf8(const std::u32string& s);

}  // namespace jenga::wan
