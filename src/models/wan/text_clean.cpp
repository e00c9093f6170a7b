#include "models/wan/text_clean.h"

#include <algorithm>
#include <cstdint>
#include <iterator>

#include "models/wan/html_entities.h"
#include "models/wan/mojibake.h"
#include "text/unicode_text.h"

namespace jenga::wan {

std::u32string utf8_to_u32(std::string_view s) {
  std::u32string out;
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    char32_t c = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
    bool ok = len > 0 && i + len <= s.size();
    for (int k = 1; ok && k < len; ++k) {
      const auto cb = static_cast<unsigned char>(s[i + k]);
      if ((cb & 0xC0) != 0x80) ok = false;
      c = (c << 6) | (cb & 0x3F);
    }
    static const char32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (ok && (c < kMin[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))) ok = false;
    if (!ok) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    out.push_back(c);
    i += static_cast<size_t>(len);
  }
  return out;
}

std::string u32_to_utf8(const std::u32string& s) {
  std::string out;
  for (char32_t c : s) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

namespace {

bool is_digit(char32_t c) { return c >= '0' && c <= '9'; }
bool is_hex(char32_t c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_alnum(char32_t c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Python html._replace_charref for a numeric reference.
std::u32string charref(uint64_t num) {
  static const char32_t kCp1252[32] = {0x20AC, 0x81,   0x201A, 0x192,  0x201E, 0x2026, 0x2020, 0x2021,
                                       0x2C6,  0x2030, 0x160,  0x2039, 0x152,  0x8D,   0x17D,  0x8F,
                                       0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                       0x2DC,  0x2122, 0x161,  0x203A, 0x153,  0x9D,   0x17E,  0x178};
  if (num == 0) return U"\uFFFD";
  if (num == 0x0D) return U"\r";
  if (num >= 0x80 && num <= 0x9F) return std::u32string(1, kCp1252[num - 0x80]);
  if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) return U"\uFFFD";
  if ((num >= 0x1 && num <= 0x8) || (num >= 0xE && num <= 0x1F) || (num >= 0x7F && num <= 0x9F) ||
      (num >= 0xFDD0 && num <= 0xFDEF) || num == 0xB || (num & 0xFFFE) == 0xFFFE)
    return U"";
  return std::u32string(1, static_cast<char32_t>(num));
}

// Parses a numeric reference at s[i] == '&', s[i+1] == '#'. Returns chars consumed (0 if none).
size_t parse_charref(const std::u32string& s, size_t i, bool need_semicolon, std::u32string& out) {
  size_t j = i + 2;
  const bool hex = j < s.size() && (s[j] == 'x' || s[j] == 'X');
  if (hex) ++j;
  const size_t start = j;
  uint64_t num = 0;
  while (j < s.size() && (hex ? is_hex(s[j]) : is_digit(s[j]))) {
    const char32_t c = s[j];
    const uint64_t d = is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
    num = std::min<uint64_t>(num * (hex ? 16 : 10) + d, 0x110000);  // saturate: > 0x10FFFF is U+FFFD
    ++j;
  }
  if (j == start) return 0;
  const bool semi = j < s.size() && s[j] == ';';
  if (need_semicolon && !semi) return 0;
  out = charref(num);
  return j - i + (semi ? 1 : 0);
}

bool html_name_char(char32_t c) {
  return c != '\t' && c != '\n' && c != '\f' && c != ' ' && c != '<' && c != '&' && c != '#' && c != ';';
}

// ftfy's unescape_html: only "&#?[0-9A-Za-z]{1,24};" references, HTML5 names (and their
// upper-cased forms such as &EACUTE;), numeric ones as html.unescape decodes them.
std::u32string ftfy_unescape(const std::u32string& s) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    if (s[i] == '&') {
      size_t j = i + 1 + (i + 1 < s.size() && s[i + 1] == '#' ? 1 : 0);
      const size_t name0 = j;
      while (j < s.size() && j - name0 < 25 && is_alnum(s[j])) ++j;
      if (j > name0 && j - name0 <= 24 && j < s.size() && s[j] == ';') {
        const std::u32string_view name(s.data() + name0, j - name0);
        std::u32string rep;
        bool found = false;
        if (name0 == i + 2) {
          std::u32string dec;
          if (parse_charref(s, i, true, dec) == j + 1 - i) rep = dec, found = true;
        } else if (auto e = html_entity(name)) {
          rep = e->value, found = true;
        } else if (auto up = ftfy_upper_entity(name)) {
          rep = *up, found = true;  // &EACUTE; -> É
        }
        if (found) {
          out += rep;
          i = j + 1;
          continue;
        }
      }
    }
    out.push_back(s[i++]);
  }
  return out;
}

struct CharMapping {
  char32_t cp;
  const char32_t* to;
};
struct CharRange {
  char32_t lo, hi;
};
#include "models/wan/ftfy_fixer_tables.inc"

// Python's \d (Unicode decimal digits).
bool is_decimal(char32_t c) {
  const CharRange* end = kDecimalRanges + std::size(kDecimalRanges);
  const CharRange* it =
      std::lower_bound(kDecimalRanges, end, c, [](const CharRange& e, char32_t v) { return e.hi < v; });
  return it != end && it->lo <= c;
}

// str.translate with a sorted table of replacements.
template <size_t N>
std::u32string translate(const std::u32string& s, const CharMapping (&table)[N]) {
  std::u32string out;
  out.reserve(s.size());
  for (char32_t c : s) {
    const CharMapping* it =
        std::lower_bound(table, table + N, c, [](const CharMapping& e, char32_t v) { return e.cp < v; });
    if (it != table + N && it->cp == c) out += it->to;
    else out.push_back(c);
  }
  return out;
}

// ftfy's fixers after fix_encoding, in its order, each over the whole text.
std::u32string ftfy_fixers(const std::u32string& s) {
  std::u32string t = fix_c1_controls(s);  // mojibake.h; the sloppy codec keeps 0x81 0x8D 0x8F 0x90 0x9D
  t = translate(t, kLigatures);  // fix_latin_ligatures
  t = translate(t, kWidthMap);   // fix_character_width
  // uncurl_quotes
  for (char32_t& c : t) {
    if (c == 0x2BC || (c >= 0x2018 && c <= 0x201B)) c = '\'';
    else if (c >= 0x201C && c <= 0x201F) c = '"';
  }
  // fix_line_breaks (no U+0085 is left: fix_c1_controls ran first)
  std::u32string out;
  for (size_t i = 0; i < t.size(); ++i) {
    char32_t c = t[i];
    if (c == '\r' && i + 1 < t.size() && t[i + 1] == '\n') continue;
    if (c == '\r' || c == 0x2028 || c == 0x2029) c = '\n';
    out.push_back(c);
  }
  // fix_surrogates has nothing to do: UTF-8 input and our decoders never yield surrogates.
  // remove_terminal_escapes: ESC '[' (\d|;)* [A-Za-z]
  std::u32string r;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 0x1B && i + 1 < out.size() && out[i + 1] == '[') {
      size_t j = i + 2;
      while (j < out.size() && (is_decimal(out[j]) || out[j] == ';')) ++j;
      if (j < out.size() && ((out[j] >= 'a' && out[j] <= 'z') || (out[j] >= 'A' && out[j] <= 'Z'))) {
        i = j;
        continue;
      }
    }
    r.push_back(out[i]);
  }
  // remove_control_chars
  std::u32string k;
  for (char32_t c : r) {
    if (c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || (c >= 0x206A && c <= 0x206F) ||
        c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC))
      continue;
    k.push_back(c);
  }
  return k;
}

}  // namespace

// ftfy.fix_text: segments of one line each (at most max_decode_length = 1,000,000 characters), each
// fixed until nothing changes: unescape_html, fix_encoding, the other fixers, NFC.
std::u32string ftfy_fix_text(const std::u32string& s) {
  constexpr size_t kMaxSegment = 1000000;
  std::u32string out;
  bool unescape = true;  // ftfy's "auto": off from the first segment holding '<' on
  for (size_t pos = 0; pos < s.size();) {
    size_t brk = s.find('\n', pos);
    brk = brk == std::u32string::npos ? s.size() : brk + 1;
    brk = std::min(brk, pos + kMaxSegment);
    std::u32string seg = s.substr(pos, brk - pos);
    if (seg.find('<') != std::u32string::npos) unescape = false;
    for (;;) {
      const std::u32string before = seg;
      if (unescape) seg = ftfy_unescape(seg);
      seg = fix_encoding(seg);
      seg = text::nfc(ftfy_fixers(seg));
      if (seg == before) break;
    }
    out += seg;
    pos = brk;
  }
  return out;
}

bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

std::u32string html_unescape(const std::u32string& s) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    if (s[i] != '&') {
      out.push_back(s[i++]);
      continue;
    }
    if (i + 1 < s.size() && s[i + 1] == '#') {
      std::u32string dec;
      if (const size_t n = parse_charref(s, i, false, dec)) {
        out += dec;
        i += n;
        continue;
      }
      out.push_back(s[i++]);
      continue;
    }
    size_t j = i + 1;
    while (j < s.size() && j - (i + 1) < 32 && html_name_char(s[j])) ++j;
    if (j == i + 1) {
      out.push_back(s[i++]);
      continue;
    }
    const bool semi = j < s.size() && s[j] == ';';
    const std::u32string name = s.substr(i + 1, j - i - 1);
    const size_t consumed = j - i + (semi ? 1 : 0);
    if (auto e = html_entity(name); e && (semi || e->legacy)) {
      out += e->value;
      i += consumed;
      continue;
    }
    // Longest legacy (semicolon-less) name that prefixes the reference.
    std::u32string full = name + (semi ? U";" : U"");
    bool done = false;
    for (size_t x = full.size() - 1; x >= 2 && !done; --x) {
      if (x > name.size()) continue;
      if (auto e = html_entity(std::u32string_view(full).substr(0, x)); e && e->legacy) {
        out += e->value;
        out += full.substr(x);
        done = true;
      }
    }
    if (!done) out += U"&" + full;
    i += consumed;
  }
  return out;
}

std::string clean_prompt_whitespace(std::string_view text) {
  std::u32string s = ftfy_fix_text(utf8_to_u32(text));
  s = html_unescape(html_unescape(s));
  std::u32string out;
  bool in_space = false;
  for (char32_t c : s) {
    if (is_python_space(c)) {
      in_space = true;
      continue;
    }
    if (in_space && !out.empty()) out.push_back(' ');
    in_space = false;
    out.push_back(c);
  }
  return u32_to_utf8(out);
}

}  // namespace jenga::wan
