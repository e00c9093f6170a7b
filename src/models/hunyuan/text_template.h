#pragma once
// HunyuanVideo's LLM prompt templates (official hyvideo/constants.py) and what the official
// TextEncoder does around them: prompt.strip(), template.format(prompt), tokenize to
// text_len + crop_start tokens (truncation, right padding), run the LLM, then drop the first
// crop_start states and mask entries. text_len is 256 for T2V (config.py --text-len).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "models/hunyuan/llama_tokenizer.h"

namespace jenga::hunyuan {

struct PromptTemplate {
  std::string_view name;      // as the CLI names it
  std::string_view text;      // contains one "{}" where the prompt goes
  int64_t crop_start = 0;     // template tokens before the prompt, BOS included
  int64_t image_emb_start = -1, image_emb_end = -1;  // I2V: where the 576 image tokens replace <image>
};

// "dit-llm-encode-video" (T2V, used for every video; crop 95).
const PromptTemplate& video_template();
// "dit-llm-encode" (video_length == 1; crop 36).
const PromptTemplate& image_template();
// HunyuanVideo-I2V's "dit-llm-encode-video-i2v" (crop 103, <image> at 5); for the I2V issue.
const PromptTemplate& i2v_video_template();
// By CLI name: hunyuan-video, hunyuan-image, hunyuan-i2v-video; nullopt when unknown.
const PromptTemplate* find_template(std::string_view name);

// Python's str.strip() (Unicode whitespace) on UTF-8.
std::string python_strip(std::string_view text);
// template.format(prompt) for a template with one "{}" and no other braces.
std::string apply_template(const PromptTemplate& t, std::string_view prompt);

// The LLM input of the official path: ids/mask of max_length tokens. The official code uses
// text_len + the *video* template's crop_start (256 + 95 = 351) whichever template runs.
inline constexpr int64_t kLlmMaxLength = 256 + 95;
TokenizedText tokenize_llm_prompt(const LlamaTokenizer& tok, std::string_view prompt, const PromptTemplate& t,
                                  int64_t max_length = kLlmMaxLength);
// The CLIP input: the stripped prompt, no template, 77 tokens.
inline constexpr int64_t kClipMaxLength = 77;

}  // namespace jenga::hunyuan
