#pragma once
// Added / special tokens ("<|eot_id|>", "<|endoftext|>") are cut out of the text before the
// split regex runs, leftmost-longest, as HF tokenizers' AddedVocabulary and transformers' Trie do.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace jenga::text {

struct AddedToken {
  std::string content;
  int64_t id = 0;
  bool lstrip = false, rstrip = false;  // the match also swallows whitespace on that side
};

// One piece of the text: either plain text to tokenize, or an added token (id >= 0).
struct TextPiece {
  std::string_view text;
  int64_t id = -1;
};

class AddedTokenMatcher {
 public:
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);
  AddedTokenMatcher() = default;
  // Views into `text` in order; plain pieces are never empty.
  std::vector<TextPiece> split(std::string_view text) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  std::vector<AddedToken> tokens_;  // longest first
};

}  // namespace jenga::text
