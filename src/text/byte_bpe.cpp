#include "text/byte_bpe.h"

#include <limits>

#include "core/error.h"
#include "models/wan/text_clean.h"

namespace jenga::text {

const std::array<char32_t, 256>& byte_to_unicode() {
  static const std::array<char32_t, 256> table = [] {
    std::array<char32_t, 256> t{};
    std::array<bool, 256> printable{};
    for (int b = '!'; b <= '~'; ++b) printable[b] = true;
    for (int b = 0xA1; b <= 0xAC; ++b) printable[b] = true;
    for (int b = 0xAE; b <= 0xFF; ++b) printable[b] = true;
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) t[b] = printable[b] ? static_cast<char32_t>(b) : next++;
    return t;
  }();
  return table;
}

std::string byte_level_string(std::string_view bytes) {
  const auto& t = byte_to_unicode();
  std::u32string u;
  u.reserve(bytes.size());
  for (unsigned char b : bytes) u.push_back(t[b]);
  return wan::u32_to_utf8(u);
}

BytePairEncoder::BytePairEncoder(std::unordered_map<std::string, int64_t> vocab,
                                 const std::vector<std::pair<std::string, std::string>>& merges,
                                 std::string end_of_word_suffix, bool ignore_merges, const std::string& source)
    : vocab_(std::move(vocab)), suffix_(std::move(end_of_word_suffix)), ignore_merges_(ignore_merges) {
  for (const auto& [tok, id] : vocab_)
    if (id < 0 || id > std::numeric_limits<int32_t>::max()) fail("{}: token '{}' has id {} out of range", source, tok, id);
  merges_.reserve(merges.size());
  for (size_t r = 0; r < merges.size(); ++r) {
    const auto& [a, b] = merges[r];
    const auto ia = vocab_.find(a), ib = vocab_.find(b), im = vocab_.find(a + b);
    if (ia == vocab_.end() || ib == vocab_.end() || im == vocab_.end())
      fail("{}: merge {} '{} {}' uses a token that is not in the vocabulary; the tokenizer files do not belong together",
           source, r + 1, a, b);
    const uint64_t key = static_cast<uint64_t>(ia->second) << 32 | static_cast<uint64_t>(ib->second);
    merges_.emplace(key, Merge{static_cast<int32_t>(r), im->second});  // first (lowest) rank wins
  }
}

std::optional<int64_t> BytePairEncoder::id(const std::string& token) const {
  const auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

void BytePairEncoder::encode(std::string_view word_bytes, std::vector<int64_t>& out) const {
  if (word_bytes.empty()) return;
  const std::string word = byte_level_string(word_bytes);
  if (ignore_merges_) {
    if (const auto it = vocab_.find(word + suffix_); it != vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  // One symbol per mapped byte (each is one code point); the suffix joins the last one.
  const auto& t = byte_to_unicode();
  std::vector<int64_t> sym;
  sym.reserve(word_bytes.size());
  for (size_t i = 0; i < word_bytes.size(); ++i) {
    std::string s = wan::u32_to_utf8(std::u32string(1, t[static_cast<unsigned char>(word_bytes[i])]));
    if (i + 1 == word_bytes.size()) s += suffix_;
    const auto it = vocab_.find(s);
    if (it == vocab_.end()) {
      if (!unk_) fail("tokenizer: symbol '{}' is not in the vocabulary and the tokenizer has no unknown token", s);
      sym.push_back(-1 - *unk_);  // never merges; mapped back to unk below
    } else {
      sym.push_back(it->second);
    }
  }
  std::vector<int64_t> next;
  while (sym.size() > 1) {
    int32_t best = std::numeric_limits<int32_t>::max();
    for (size_t i = 0; i + 1 < sym.size(); ++i) {
      if (sym[i] < 0 || sym[i + 1] < 0) continue;
      const auto it = merges_.find(static_cast<uint64_t>(sym[i]) << 32 | static_cast<uint64_t>(sym[i + 1]));
      if (it != merges_.end() && it->second.rank < best) best = it->second.rank;
    }
    if (best == std::numeric_limits<int32_t>::max()) break;
    next.clear();
    for (size_t i = 0; i < sym.size(); ++i) {
      if (i + 1 < sym.size() && sym[i] >= 0 && sym[i + 1] >= 0) {
        const auto it = merges_.find(static_cast<uint64_t>(sym[i]) << 32 | static_cast<uint64_t>(sym[i + 1]));
        if (it != merges_.end() && it->second.rank == best) {
          next.push_back(it->second.id);
          ++i;
          continue;
        }
      }
      next.push_back(sym[i]);
    }
    sym.swap(next);
  }
  for (int64_t s : sym) out.push_back(s < 0 ? -1 - s : s);
}

}  // namespace jenga::text
