#pragma once
// The official Wan prompt cleaning (wan/modules/tokenizers.py, clean='whitespace'):
//   ftfy.fix_text -> html.unescape twice -> collapse \s+ to ' ' -> strip.
// ftfy subset implemented (ftfy 6.3 defaults): per-line HTML entity decoding (off from the first
// line containing '<' on, as ftfy does; every HTML5 name and ftfy's upper-cased forms), C1
// controls as Windows-1252, Latin ligatures (U+FB00-FB06), full-width forms (U+FF01-FF5E,
// U+FFE0-FFE6, U+3000), curly quotes, line breaks, ANSI terminal escapes and the control
// characters ftfy removes, repeated until nothing changes. Not implemented: mojibake repair
// (fix_encoding: a statistical guess over encodings) and NFC (the umT5 SentencePiece normaliser
// applies NFKC, so NFC does not change the ids). html.unescape follows Python's rules (numeric
// references, semicolon-less legacy names, longest-prefix match) over all 2,231 HTML5 names.
#include <string>
#include <string_view>

namespace jenga::wan {

// Input is UTF-8 (invalid bytes become U+FFFD); returns UTF-8.
std::string clean_prompt_whitespace(std::string_view text);

// Python's html.unescape on UTF-32 text (exposed for tests).
std::u32string html_unescape(const std::u32string& s);

std::u32string utf8_to_u32(std::string_view s);
std::string u32_to_utf8(const std::u32string& s);

}  // namespace jenga::wan
