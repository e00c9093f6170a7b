#include "text/byte_bpe.h"

#include <functional>
#include <limits>
#include <queue>

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
  // Lowest rank first, leftmost among equals (what HF tokenizers does, and equal to the classic
  // "merge every occurrence of the best pair" loop): a heap of candidate pairs over a linked list
  // of symbols, O(n log n), so a pathological 100k-character word cannot stall.
  const size_t n = sym.size();
  std::vector<int64_t> prev(n), next(n);
  for (size_t i = 0; i < n; ++i) prev[i] = static_cast<int64_t>(i) - 1, next[i] = i + 1 < n ? static_cast<int64_t>(i + 1) : -1;
  struct Cand {
    int32_t rank;
    int64_t left, left_id, right_id, merged;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  const auto push = [&](int64_t l) {
    if (l < 0 || next[l] < 0) return;
    const int64_t a = sym[l], b = sym[next[l]];
    if (a < 0 || b < 0) return;
    const auto it = merges_.find(static_cast<uint64_t>(a) << 32 | static_cast<uint64_t>(b));
    if (it != merges_.end()) heap.push({it->second.rank, l, a, b, it->second.id});
  };
  for (size_t i = 0; i + 1 < n; ++i) push(static_cast<int64_t>(i));
  std::vector<bool> dead(n, false);
  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    const int64_t r = next[c.left];
    if (dead[c.left] || r < 0 || sym[c.left] != c.left_id || sym[r] != c.right_id) continue;  // stale
    sym[c.left] = c.merged;
    dead[r] = true;
    next[c.left] = next[r];
    if (next[r] >= 0) prev[next[r]] = c.left;
    push(prev[c.left]);
    push(c.left);
  }
  for (size_t i = 0; i < n; ++i)
    if (!dead[i]) out.push_back(sym[i] < 0 ? -1 - sym[i] : sym[i]);
}

}  // namespace jenga::text
