#pragma once
// The umT5 tokenizer path of the official pipeline (HuggingfaceTokenizer, clean='whitespace'):
// clean the prompt, SentencePiece-encode it (the checkpoint's google/umt5-xxl/spiece.model, byte
// fallback as the model defines), truncate to text_len - 1, append </s>, pad with <pad> to
// text_len; mask 1 for real tokens. Needs libsentencepiece at build time (optional dependency).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jenga::wan {

struct TokenizedPrompt {
  std::vector<int64_t> ids;   // [text_len]
  std::vector<int64_t> mask;  // [text_len]
  int64_t dropped = 0;        // the prompt's tokens past text_len - 1, cut (as the official tokenizer)
};

class UmT5Tokenizer {
 public:
  // `path`: a spiece.model file, or a folder holding one (e.g. <ckpt>/google/umt5-xxl).
  static UmT5Tokenizer open(const std::string& path);
  static bool available();  // built with libsentencepiece

  TokenizedPrompt encode(std::string_view prompt, int64_t text_len = 512) const;
  int64_t vocab_size() const;
  int64_t eos_id() const { return eos_; }
  int64_t pad_id() const { return pad_; }

 private:
  std::shared_ptr<void> sp_;  // sentencepiece::SentencePieceProcessor (kept out of this header)
  std::vector<std::pair<std::string, int>> specials_;  // <pad>, </s>, <unk>: text that is those tokens
  int64_t eos_ = 1, pad_ = 0;
};

}  // namespace jenga::wan
