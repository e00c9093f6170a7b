#pragma once
// The Llama-3 tokenizer of HunyuanVideo's LLM text encoder, read from the tokenizer.json that
// ships beside the weights (official text_encoder/, diffusers tokenizer/), computing what
// transformers' PreTrainedTokenizerFast(text, truncation=True, max_length=n,
// padding="max_length") does: added/special tokens cut out first, the pre-tokenizer's split
// regex (PCRE2), byte-level BPE (ignore_merges as the file says), the post-processor's special
// tokens (BOS) around the text (for tokenizer_class LlamaTokenizer[Fast], rebuilt from
// add_bos_token / add_eos_token as transformers does), truncation of the text to fit, right
// padding with the pad token of tokenizer_config.json / special_tokens_map.json.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "text/added_tokens.h"
#include "text/byte_bpe.h"
#include "text/regex_split.h"

namespace jenga::hunyuan {

struct TokenizedText {
  std::vector<int64_t> ids;   // [max_length]
  std::vector<int64_t> mask;  // [max_length], 1 = token, 0 = padding
  int64_t dropped = 0;        // tokens past max_length, cut (as the official tokenizer call truncates)
};

class LlamaTokenizer {
 public:
  // `path`: tokenizer.json, or a folder holding it. Throws a one-line Error naming the file for
  // a missing file, bad JSON or a pipeline piece this reader does not implement.
  static LlamaTokenizer open(const std::string& path);

  // The ids of `text` alone (added tokens matched, no post-processor tokens, no truncation).
  std::vector<int64_t> encode_plain(std::string_view text) const;
  // As the HF call above: prefix + text ids (truncated) + suffix, padded to max_length.
  TokenizedText encode(std::string_view text, int64_t max_length) const;

  int64_t pad_id() const { return pad_; }
  const std::string& path() const { return path_; }
  std::optional<int64_t> token_id(const std::string& token) const;

 private:
  std::string path_;
  text::AddedTokenMatcher added_;
  std::vector<text::RegexSplitter> splits_;  // applied in order (Sequence of Split pre-tokenizers)
  text::BytePairEncoder bpe_;
  std::vector<int64_t> prefix_, suffix_;  // post-processor special tokens around $A
  int64_t pad_ = -1;
};


}  // namespace jenga::hunyuan
