#include "models/wan/mojibake.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "models/wan/text_clean.h"

namespace jenga::wan {
namespace {

struct BadnessMask {
  char32_t cp;
  uint64_t lo, hi;
};
enum BadnessOp : uint8_t { kClass, kNotClass, kSpace, kWord, kAnyButNewline, kBegin, kOptSpace };
struct BadnessItem {
  BadnessOp op;
  uint8_t cls;
};
struct ClueMask {
  char32_t cp;
  uint8_t mask;
};
struct CharRange {
  char32_t lo, hi;
};

#include "models/wan/mojibake_tables.inc"

using Bytes = std::string;  // one byte a char

template <class T, size_t N>
const T* find_cp(const T (&table)[N], char32_t c) {
  const T* it = std::lower_bound(table, table + N, c, [](const T& e, char32_t v) { return e.cp < v; });
  return it != table + N && it->cp == c ? it : nullptr;
}

bool in_ranges(const CharRange* r, size_t n, char32_t c) {
  const CharRange* it = std::lower_bound(r, r + n, c, [](const CharRange& e, char32_t v) { return e.hi < v; });
  return it != r + n && it->lo <= c;
}

bool is_word(char32_t c) { return in_ranges(kWordRanges, std::size(kWordRanges), c); }

// ---- badness.is_bad: BADNESS_RE's alternatives are sequences of single-character items.

struct Mask {
  uint64_t lo = 0, hi = 0;
  bool has(int cls) const { return cls < 64 ? (lo >> cls) & 1 : (hi >> (cls - 64)) & 1; }
};

bool match_items(const std::u32string& s, const std::vector<Mask>& m, const BadnessItem* it, const BadnessItem* end,
                 size_t pos) {
  for (; it != end; ++it) {
    const bool more = pos < s.size();
    switch (it->op) {
      case kClass:
        if (!more || !m[pos].has(it->cls)) return false;
        break;
      case kNotClass:
        if (!more || m[pos].has(it->cls)) return false;
        break;
      case kSpace:
        if (!more || !is_python_space(s[pos])) return false;
        break;
      case kWord:
        if (!more || !is_word(s[pos])) return false;
        break;
      case kAnyButNewline:
        if (!more || s[pos] == '\n') return false;
        break;
      case kBegin:
        if (pos != 0) return false;
        continue;
      case kOptSpace:  // \s? : with the space, else without
        if (more && is_python_space(s[pos]) && match_items(s, m, it + 1, end, pos + 1)) return true;
        continue;
    }
    ++pos;
  }
  return true;
}

// ---- charmaps: each maps 0x00-0x7F to ASCII (the sloppy ones 0x1A to U+FFFD).

constexpr int kLatin1 = 0, kSloppy1252 = 1, kMacRoman = 8;

struct Inverse {
  std::vector<std::pair<char32_t, uint8_t>> map;  // sorted by character
  std::optional<uint8_t> byte(char32_t c) const {
    auto it = std::lower_bound(map.begin(), map.end(), c, [](const auto& e, char32_t v) { return e.first < v; });
    if (it == map.end() || it->first != c) return std::nullopt;
    return it->second;
  }
};

const Inverse& inverse(int enc) {
  static const std::array<Inverse, kCharmapCount> inv = [] {
    std::array<Inverse, kCharmapCount> a;
    for (int e = 0; e < kCharmapCount; ++e) {
      for (int b = 0; b < 256; ++b) a[e].map.emplace_back(kCharmaps[e][b], static_cast<uint8_t>(b));
      std::sort(a[e].map.begin(), a[e].map.end());
    }
    return a;
  }();
  return inv[enc];
}

// chardata.possible_encoding + str.encode: nullopt when a character is not in the charmap.
std::optional<Bytes> encode(const std::u32string& s, int enc) {
  Bytes out;
  out.reserve(s.size());
  for (char32_t c : s) {
    const auto b = c < 0x80 && c != 0x1A ? std::optional<uint8_t>(static_cast<uint8_t>(c)) : inverse(enc).byte(c);
    if (!b) return std::nullopt;
    out.push_back(static_cast<char>(*b));
  }
  return out;
}

// b[i], or 0xFF (a byte no pattern below accepts) past the end.
uint8_t at(const Bytes& b, size_t i) { return i < b.size() ? static_cast<uint8_t>(b[i]) : 0xFF; }
bool in(uint8_t v, uint8_t lo, uint8_t hi) { return v >= lo && v <= hi; }

// ---- restore_byte_a0

// chardata.ALTERED_UTF8_RE at i: UTF-8 that would be valid had a 0xA0 not become a space. Length or 0.
size_t altered_utf8_at(const Bytes& b, size_t i) {
  auto cont = [](uint8_t v) { return in(v, 0x80, 0x84) || in(v, 0x86, 0x9F) || in(v, 0xA1, 0xBF); };
  auto any_cont = [](uint8_t v) { return in(v, 0x80, 0xBF); };
  const size_t n = b.size();
  const uint8_t c0 = at(b, i);
  if (i + 1 < n && (c0 == 0xC2 || c0 == 0xC3 || c0 == 0xC5 || c0 == 0xCE || c0 == 0xD0 || c0 == 0xD9) &&
      b[i + 1] == ' ')
    return 2;
  if (i + 2 < n && (c0 == 0xE2 || c0 == 0xE3) && b[i + 1] == ' ' && cont(at(b, i + 2))) return 3;
  if (i + 2 < n && in(c0, 0xE0, 0xE3) && cont(at(b, i + 1)) && b[i + 2] == ' ') return 3;
  if (i + 3 < n && c0 == 0xF0) {
    const uint8_t x = at(b, i + 1), y = at(b, i + 2), z = at(b, i + 3);
    if (x == ' ' && any_cont(y) && any_cont(z)) return 4;
    if (any_cont(x) && y == ' ' && any_cont(z)) return 4;
    if (any_cont(x) && any_cont(y) && z == ' ') return 4;
  }
  return 0;
}

bool has_altered_utf8(const Bytes& b) {
  for (size_t i = 0; i < b.size(); ++i)
    if (altered_utf8_at(b, i)) return true;
  return false;
}

Bytes restore_byte_a0(const Bytes& in_bytes) {
  // A_GRAVE_WORD_RE: "\xc3 " not followed by " ", "quele", "quela", "quilo" or "s " keeps its space
  // and gains the 0xA0 ("Ã la" -> "à la", not "àla").
  Bytes b;
  const std::string_view v(in_bytes);
  for (size_t i = 0; i < v.size();) {
    if (at(in_bytes, i) == 0xC3 && i + 1 < v.size() && v[i + 1] == ' ') {
      const std::string_view rest = v.substr(i + 2);
      const bool keep = rest.starts_with(" ") || rest.starts_with("quele") || rest.starts_with("quela") ||
                        rest.starts_with("quilo") || rest.starts_with("s ");
      if (!keep) {
        b += "\xc3\xa0 ";
        i += 2;
        continue;
      }
    }
    b.push_back(v[i++]);
  }
  Bytes out;
  for (size_t i = 0; i < b.size();) {
    if (const size_t len = altered_utf8_at(b, i)) {
      for (size_t k = 0; k < len; ++k) out.push_back(b[i + k] == ' ' ? '\xa0' : b[i + k]);
      i += len;
    } else {
      out.push_back(b[i++]);
    }
  }
  return out;
}

// ---- replace_lossy_sequences: chardata.LOSSY_UTF8_RE's alternatives, in order; 0x1A marks a byte
// the sloppy codec read as U+FFFD.

size_t lossy_at(const Bytes& b, size_t i) {
  const size_t n = b.size();
  auto q = [](uint8_t v) { return v == 0x1A || v == '?'; };             // [\x1a?]
  auto c = [](uint8_t v) { return v == 0x1A || in(v, 0x80, 0xBF); };     // [\x1a\x80-\xbf]
  auto qc = [](uint8_t v) { return v == 0x1A || v == '?' || in(v, 0x80, 0xBF); };
  const uint8_t b0 = at(b, i), b1 = at(b, i + 1), b2 = at(b, i + 2), b3 = at(b, i + 3), b4 = at(b, i + 4),
                b5 = at(b, i + 5);
  const bool has2 = i + 1 < n, has3 = i + 2 < n, has4 = i + 3 < n, has6 = i + 5 < n;
  if (has2 && in(b0, 0xC2, 0xDF) && b1 == 0x1A) return 2;
  if (has2 && in(b0, 0xC2, 0xC3) && b1 == '?') return 2;
  if (has6 && b0 == 0xED && in(b1, 0xA0, 0xAF) && q(b2) && b3 == 0xED && in(b4, 0xB0, 0xBF) && qc(b5)) return 6;
  if (has6 && b0 == 0xED && in(b1, 0xA0, 0xAF) && qc(b2) && b3 == 0xED && in(b4, 0xB0, 0xBF) && q(b5)) return 6;
  if (has3 && in(b0, 0xE0, 0xEF) && q(b1) && c(b2)) return 3;
  if (has3 && in(b0, 0xE0, 0xEF) && c(b1) && q(b2)) return 3;
  if (has4 && in(b0, 0xF0, 0xF4)) {
    if (q(b1) && c(b2) && c(b3)) return 4;
    if (c(b1) && q(b2) && c(b3)) return 4;
    if (c(b1) && c(b2) && q(b3)) return 4;
  }
  if (i < n && b0 == 0x1A) return 1;
  return 0;
}

Bytes replace_lossy_sequences(const Bytes& b) {
  Bytes out;
  for (size_t i = 0; i < b.size();) {
    if (const size_t len = lossy_at(b, i)) {
      out += "\xef\xbf\xbd";
      i += len;
    } else {
      out.push_back(b[i++]);
    }
  }
  return out;
}

// ---- decoders

// Python's strict UTF-8 decoder over b[from, to): false on any error.
bool decode_utf8(const Bytes& b, size_t from, size_t to, std::u32string& out) {
  for (size_t i = from; i < to;) {
    const uint8_t c = at(b, i);
    if (c < 0x80) {
      out.push_back(c);
      ++i;
      continue;
    }
    const int len = in(c, 0xC2, 0xDF) ? 2 : in(c, 0xE0, 0xEF) ? 3 : in(c, 0xF0, 0xF4) ? 4 : 0;
    if (len == 0 || i + len > to) return false;
    // Second-byte ranges that exclude overlong forms, surrogates and > U+10FFFF.
    const uint8_t c1 = at(b, i + 1);
    const uint8_t lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
    const uint8_t hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    if (!in(c1, lo, hi)) return false;
    char32_t cp = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
    for (int k = 1; k < len; ++k) {
      const uint8_t x = at(b, i + k);
      if (!in(x, 0x80, 0xBF)) return false;
      cp = (cp << 6) | (x & 0x3F);
    }
    out.push_back(cp);
    i += static_cast<size_t>(len);
  }
  return true;
}

// ftfy's "utf-8-variants" codec: UTF-8 plus CESU-8 surrogate pairs and Java's C0 80 for U+0000.
// Its regexes use Python's bytes '$', which also matches before a final '\n'; kept as they are.
bool decode_utf8_variants(const Bytes& b, std::u32string& out) {
  const size_t n = b.size();
  auto end_at = [&](size_t k) { return k == n || (k + 1 == n && b[k] == '\n'); };
  auto cls_or_end = [&](size_t& k, uint8_t lo, uint8_t hi) {  // ([lo-hi]|$)
    if (k < n && in(at(b, k), lo, hi)) return ++k, true;
    return end_at(k);
  };
  auto null_at = [&](size_t i) { return at(b, i) == 0xC0 && ((i + 1 < n && at(b, i + 1) == 0x80) || end_at(i + 1)); };
  auto surrogate_at = [&](size_t i) {
    size_t k = i + 1;
    return at(b, i) == 0xED && i < n && cls_or_end(k, 0xA0, 0xBF) && cls_or_end(k, 0x80, 0xBF);
  };
  auto cesu_at = [&](size_t i) {
    size_t k = i + 1;
    if (!(i < n && at(b, i) == 0xED && cls_or_end(k, 0xA0, 0xAF) && cls_or_end(k, 0x80, 0xBF))) return false;
    if (k < n && at(b, k) == 0xED) ++k;
    else if (!end_at(k)) return false;
    return cls_or_end(k, 0xB0, 0xBF) && cls_or_end(k, 0x80, 0xBF);
  };
  size_t pos = 0;
  while (pos < n) {
    size_t m = pos;
    while (m < n && !null_at(m) && !surrogate_at(m)) ++m;
    if (m == n) return decode_utf8(b, pos, n, out);
    if (m > pos) {
      if (!decode_utf8(b, pos, m, out)) return false;
      pos = m;
      continue;
    }
    if (at(b, pos) == 0xC0) {
      if (n - pos < 2) return false;
      out.push_back(0);
      pos += 2;
    } else if (n - pos < 6) {
      return decode_utf8(b, pos, n, out);
    } else if (cesu_at(pos)) {
      out.push_back(((at(b, pos + 1) & 0x0F) << 16) + ((at(b, pos + 2) & 0x3F) << 10) +
                    ((at(b, pos + 4) & 0x0F) << 6) + (at(b, pos + 5) & 0x3F) + 0x10000);
      pos += 6;
    } else {
      return false;  // a lone CESU-8 surrogate: the UTF-8 decoder rejects it
    }
  }
  return true;
}

// ---- decode_inconsistent_utf8: chardata.UTF8_DETECTOR_RE, runs of UTF-8-looking characters.

uint8_t clues(char32_t c) {
  const ClueMask* e = find_cp(kUtf8Clues, c);
  return e ? e->mask : 0;
}
constexpr uint8_t kFirst2 = 1, kFirst3 = 2, kFirst4 = 4, kCont = 8, kContStrict = 16;

// Length of the match at i (0 if none): not after a strict continuation character, then one or more
// of first_of_2 cont | first_of_3 cont{2} | first_of_4 cont{3}, each time the first that fits.
size_t utf8_run_at(const std::vector<uint8_t>& cl, size_t i) {
  if (i > 0 && (cl[i - 1] & kContStrict)) return 0;
  auto starts = [&](size_t p, uint8_t first, size_t conts) {
    if (!(cl[p] & first) || p + conts >= cl.size()) return false;
    for (size_t j = 1; j <= conts; ++j)
      if (!(cl[p + j] & kCont)) return false;
    return true;
  };
  size_t p = i;
  while (p < cl.size()) {
    if (starts(p, kFirst2, 1)) p += 2;
    else if (starts(p, kFirst3, 2)) p += 3;
    else if (starts(p, kFirst4, 3)) p += 4;
    else break;
  }
  return p - i;
}

std::vector<uint8_t> clue_masks(const std::u32string& s) {
  std::vector<uint8_t> cl(s.size());
  for (size_t i = 0; i < s.size(); ++i) cl[i] = clues(s[i]);
  return cl;
}

bool has_utf8_run(const std::u32string& s) {
  const auto cl = clue_masks(s);
  for (size_t i = 0; i < s.size(); ++i)
    if (utf8_run_at(cl, i)) return true;
  return false;
}

std::u32string decode_inconsistent_utf8(const std::u32string& s) {
  const auto cl = clue_masks(s);
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    if (const size_t len = utf8_run_at(cl, i)) {
      const std::u32string sub = s.substr(i, len);
      out += len < s.size() && is_bad(sub) ? fix_encoding(sub) : sub;  // shorter: no endless recursion
      i += len;
    } else {
      out.push_back(s[i++]);
    }
  }
  return out;
}

bool is_c1(char32_t c) { return c >= 0x80 && c <= 0x9F; }

// ftfy's _fix_encoding_one_step_and_explain with the default config.
std::u32string fix_one_step(const std::u32string& text) {
  if (text.empty()) return text;
  if (std::all_of(text.begin(), text.end(), [](char32_t c) { return c < 0x80; }) || !is_bad(text)) return text;
  bool latin1_possible = false;
  for (int enc = 0; enc < kCharmapCount; ++enc) {
    auto bytes = encode(text, enc);
    if (!bytes) continue;
    if (enc == kLatin1) latin1_possible = true;
    if (enc != kMacRoman && has_altered_utf8(*bytes)) *bytes = restore_byte_a0(*bytes);
    if (std::string_view(kCharmapNames[enc]).starts_with("sloppy")) *bytes = replace_lossy_sequences(*bytes);
    std::u32string fixed;
    const bool variants = bytes->find('\xed') != Bytes::npos || bytes->find('\xc0') != Bytes::npos;
    if (variants ? decode_utf8_variants(*bytes, fixed) : decode_utf8(*bytes, 0, bytes->size(), fixed)) return fixed;
  }
  if (has_utf8_run(text)) {
    std::u32string fixed = decode_inconsistent_utf8(text);
    if (fixed != text) return fixed;
  }
  // Latin-1 read for what was Windows-1252. (ftfy's shortcut for "windows-1252 was also possible"
  // looks for a name its list never holds, so it never fires.) Strict Windows-1252 leaves 0x81,
  // 0x8D, 0x8F, 0x90 and 0x9D undefined: the sloppy table keeps exactly those as themselves.
  if (latin1_possible) {
    std::u32string fixed = text;
    bool ok = true;
    for (char32_t& c : fixed) {
      if (!is_c1(c)) continue;
      if (kCharmaps[kSloppy1252][c] == c) ok = false;
      c = kCharmaps[kSloppy1252][c];
    }
    if (ok && fixed != text) return fixed;
  }
  if (std::any_of(text.begin(), text.end(), is_c1)) return fix_c1_controls(text);
  return text;
}

}  // namespace

std::u32string fix_c1_controls(const std::u32string& s) {
  std::u32string out = s;
  for (char32_t& c : out)
    if (is_c1(c)) c = kCharmaps[kSloppy1252][c];
  return out;
}

bool is_bad(const std::u32string& s) {
  std::vector<Mask> m(s.size());
  for (size_t i = 0; i < s.size(); ++i)
    if (const BadnessMask* e = find_cp(kBadnessClasses, s[i])) m[i] = {e->lo, e->hi};
  constexpr size_t kAlts = std::size(kBadnessAltStart) - 1;
  for (size_t pos = 0; pos <= s.size(); ++pos)
    for (size_t a = 0; a < kAlts; ++a)
      if (match_items(s, m, kBadnessItems + kBadnessAltStart[a], kBadnessItems + kBadnessAltStart[a + 1], pos))
        return true;
  return false;
}

std::u32string fix_encoding(const std::u32string& text) {
  std::u32string s = text;
  for (;;) {
    std::u32string next = fix_one_step(s);
    if (next == s) return s;
    s = std::move(next);
  }
}

}  // namespace jenga::wan
