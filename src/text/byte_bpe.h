#pragma once
// Byte-level BPE as GPT-2 defined it and both HunyuanVideo tokenizers use it (Llama-3's
// tokenizer.json through HF `tokenizers`, CLIP's vocab.json + merges.txt through transformers'
// CLIPTokenizer): a pre-token's UTF-8 bytes are mapped to printable code points
// (bytes_to_unicode), then the pair of adjacent symbols with the lowest merge rank is merged,
// every occurrence left to right, until no ranked pair is left.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace jenga::text {

// GPT-2's bytes_to_unicode: byte -> code point (printable bytes keep their value, the others
// map to U+0100 upwards in byte order).
const std::array<char32_t, 256>& byte_to_unicode();
// The UTF-8 text of `bytes` after the byte -> code point mapping.
std::string byte_level_string(std::string_view bytes);

class BytePairEncoder {
 public:
  // vocab: byte-level token -> id. merges: (left, right) in rank order; a merge whose parts or
  // result are not in the vocabulary is an error naming `source`. end_of_word_suffix ("</w>"
  // for CLIP) is appended to a word's last symbol before merging. ignore_merges: a whole word
  // found in the vocabulary is one token (tokenizers' BPE.ignore_merges).
  BytePairEncoder(std::unordered_map<std::string, int64_t> vocab,
                  const std::vector<std::pair<std::string, std::string>>& merges, std::string end_of_word_suffix,
                  bool ignore_merges, const std::string& source);
  BytePairEncoder() = default;

  // Appends the ids of one pre-token given as raw UTF-8 bytes. A symbol missing from the
  // vocabulary becomes unk_id when set, else throws.
  void encode(std::string_view word_bytes, std::vector<int64_t>& out) const;

  std::optional<int64_t> id(const std::string& token) const;
  int64_t vocab_size() const { return static_cast<int64_t>(vocab_.size()); }
  void set_unk(std::optional<int64_t> unk) { unk_ = unk; }

 private:
  std::unordered_map<std::string, int64_t> vocab_;
  struct Merge {
    int32_t rank;
    int64_t id;
  };
  std::unordered_map<uint64_t, Merge> merges_;  // (left id << 32 | right id) -> rank, merged id
  std::string suffix_;
  bool ignore_merges_ = false;
  std::optional<int64_t> unk_;
};

}  // namespace jenga::text
