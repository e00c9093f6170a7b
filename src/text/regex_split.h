#pragma once
// Splits UTF-8 text into the pieces a tokenizer's split regex matches, through PCRE2 (UTF + UCP:
// \p{L}, \p{N} are Unicode classes). Both the matches and the unmatched gaps between them are
// returned in order (HF tokenizers' Split behaviour "Isolated"; the Llama-3 and CLIP patterns
// match every character, so gaps do not occur with them).
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace jenga::text {

class RegexSplitter {
 public:
  // `pattern` in the Oniguruma / Python-regex syntax the tokenizer files use; \s and \S are
  // rewritten to Unicode White_Space (what those engines match; PCRE2's UCP \s also matches
  // U+180E). Throws naming `source` if PCRE2 cannot compile it.
  RegexSplitter(const std::string& pattern, bool caseless, const std::string& source);
  RegexSplitter() = default;

  // `text` must be valid UTF-8. Pieces are views into it.
  std::vector<std::string_view> split(std::string_view text) const;
  // Only the matches, as Python's re.findall (CLIP drops the unmatched whitespace).
  std::vector<std::string_view> find_all(std::string_view text) const;

 private:
  std::vector<std::string_view> run(std::string_view text, bool gaps) const;
  std::shared_ptr<void> code_;  // pcre2_code_8 (kept out of this header)
};

// The pattern with \s / \S replaced by explicit White_Space classes (exposed for tests).
std::string rewrite_whitespace_classes(const std::string& pattern);

}  // namespace jenga::text
