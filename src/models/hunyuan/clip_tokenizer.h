#pragma once
// The CLIP-L tokenizer of HunyuanVideo's second text encoder, as the official code runs it:
// transformers' (slow) CLIPTokenizer without ftfy installed (the T2V requirements have none).
// The prompt is cleaned by BasicTokenizer(strip_accents=False, do_split_on_punc=False):
// NUL/U+FFFD/control characters dropped, whitespace to ' ', CJK ideographs spaced, NFC, split on
// whitespace, str.lower(); then CLIP's split regex, byte-level BPE with "</w>" word ends (the
// first 48,894 merges, as CLIPTokenizer reads them), <|startoftext|> ... <|endoftext|>,
// truncation keeping the start token, the first max_length-2 text tokens and the end token,
// right padding with the pad token (<|endoftext|> = 49407 for openai/clip-vit-large-patch14).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "models/hunyuan/llama_tokenizer.h"

namespace jenga::hunyuan {

class ClipTokenizer {
 public:
  // `path`: a folder with vocab.json + merges.txt (official text_encoder_2/, diffusers
  // tokenizer_2/, openai/clip-vit-large-patch14), or one with only a CLIP tokenizer.json (its
  // vocabulary and merges are used with the same slow-tokenizer cleaning).
  static ClipTokenizer open(const std::string& path);

  // The cleaned text as BasicTokenizer returns it, tokens joined by ' ' (exposed for tests).
  static std::string clean(std::string_view text);

  std::vector<int64_t> encode_plain(std::string_view text) const;  // no start/end tokens
  TokenizedText encode(std::string_view text, int64_t max_length = 77) const;

  int64_t bos_id() const { return bos_; }
  int64_t eos_id() const { return eos_; }
  int64_t pad_id() const { return pad_; }

 private:
  std::string path_;
  text::AddedTokenMatcher added_;
  text::RegexSplitter split_;
  text::BytePairEncoder bpe_;
  int64_t bos_ = -1, eos_ = -1, pad_ = -1;
};

}  // namespace jenga::hunyuan
