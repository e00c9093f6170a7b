#include "models/hunyuan/text_template.h"

#include "core/error.h"
#include "models/hunyuan/tokenizer_files.h"
#include "models/wan/text_clean.h"
#include "text/unicode_text.h"

namespace jenga::hunyuan {

namespace {

// Python adjacent-string concatenation in the official constants: no space between "video."
// and "2." and so on.
constexpr std::string_view kVideo =
    "<|start_header_id|>system<|end_header_id|>\n\nDescribe the video by detailing the following aspects: "
    "1. The main content and theme of the video."
    "2. The color, shape, size, texture, quantity, text, and spatial relationships of the objects."
    "3. Actions, events, behaviors temporal relationships, physical movement changes of the objects."
    "4. background environment, light, style and atmosphere."
    "5. camera angles, movements, and transitions used in the video:<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\n{}<|eot_id|>";

constexpr std::string_view kImage =
    "<|start_header_id|>system<|end_header_id|>\n\nDescribe the image by detailing the color, shape, size, texture, "
    "quantity, text, spatial relationships of the objects and background:<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\n{}<|eot_id|>";

constexpr std::string_view kI2vVideo =
    "<|start_header_id|>system<|end_header_id|>\n\n<image>\nDescribe the video by detailing the following aspects "
    "according to the reference image: "
    "1. The main content and theme of the video."
    "2. The color, shape, size, texture, quantity, text, and spatial relationships of the objects."
    "3. Actions, events, behaviors temporal relationships, physical movement changes of the objects."
    "4. background environment, light, style and atmosphere."
    "5. camera angles, movements, and transitions used in the video:<|eot_id|>\n\n"
    "<|start_header_id|>user<|end_header_id|>\n\n{}<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n";

const PromptTemplate kTemplates[] = {
    {"hunyuan-video", kVideo, 95},
    {"hunyuan-image", kImage, 36},
    {"hunyuan-i2v-video", kI2vVideo, 103, 5, 581},
};

}  // namespace

const PromptTemplate& video_template() { return kTemplates[0]; }
const PromptTemplate& image_template() { return kTemplates[1]; }
const PromptTemplate& i2v_video_template() { return kTemplates[2]; }

const PromptTemplate* find_template(std::string_view name) {
  for (const auto& t : kTemplates)
    if (t.name == name) return &t;
  return nullptr;
}

std::string python_strip(std::string_view text) {
  const std::u32string s = wan::utf8_to_u32(valid_utf8(text));
  size_t b = 0, e = s.size();
  while (b < e && text::python_isspace(s[b])) ++b;
  while (e > b && text::python_isspace(s[e - 1])) --e;
  return wan::u32_to_utf8(s.substr(b, e - b));
}

std::string apply_template(const PromptTemplate& t, std::string_view prompt) {
  const size_t at = t.text.find("{}");
  JENGA_ASSERT(at != std::string_view::npos);
  std::string out(t.text.substr(0, at));
  out += prompt;
  out += t.text.substr(at + 2);
  return out;
}

TokenizedText tokenize_llm_prompt(const LlamaTokenizer& tok, std::string_view prompt, const PromptTemplate& t,
                                  int64_t max_length) {
  if (max_length <= t.crop_start)
    usage_fail("max length {} leaves no text after the template's {} tokens", max_length, t.crop_start);
  return tok.encode(apply_template(t, python_strip(prompt)), max_length);
}

}  // namespace jenga::hunyuan
