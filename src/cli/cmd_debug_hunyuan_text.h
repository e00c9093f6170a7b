#pragma once
// The HunyuanVideo side of `jenga debug tokenize` and `jenga debug encode-text`
// (cmd_debug_hunyuan_text.cpp): the subcommands stay the umT5 ones (cmd_debug_t5vae.cpp), which
// hand over when the tokenizer folder / weights are HunyuanVideo's (or --template / --encoder
// say so).
#include <CLI/CLI.hpp>
#include <string>

namespace jenga::cli {

struct HunyuanTextOptions {
  std::string template_name;    // tokenize: "" = none, hunyuan-video, hunyuan-image, hunyuan-i2v-video
  std::string encoder = "auto"; // encode-text: auto, umt5, llama, clip
  int64_t skip_layers = 2;      // llama: hidden_states[-(skip + 1)]
  int64_t crop_start = 0;       // llama: drop the first rows (95 = the video template's)
  std::string precision = "fp16";  // --device cuda: fp16 (tensor cores, the default) or f32 (the exact reference)
  const CLI::Option* text_len = nullptr;  // the umT5 command's --text-len, to know if it was given
  // encode-text --image: HunyuanVideo-I2V's LLaVA encoder (image + ids or prompt -> 396 states).
  std::string image, prompt;
  int64_t text_len_i2v = 256;        // --prompt: text tokens after the template (official --text-len)
  int64_t double_return_id = 271;    // "\n\n"
  int64_t interleave = 4;            // image rows kept: every 4th (token_replace); 2 for latent_concat
  const CLI::Option* crop_start_opt = nullptr;
  const CLI::Option* prompt_opt = nullptr;  // --prompt "" is a prompt (the official encodes it)
  bool has_prompt() const { return prompt_opt && prompt_opt->count() > 0; }
};

// Adds --template to `tokenize` (call after its --text-len is registered).
void add_hunyuan_tokenize_options(CLI::App& tokenize, HunyuanTextOptions& o);
// Adds --encoder, --skip-layers, --crop-start, --precision, and the I2V --image, --prompt, --text-len-i2v,
// --double-return-id, --image-interleave to `encode-text`.
void add_hunyuan_encode_options(CLI::App& encode, HunyuanTextOptions& o);

// Run the HunyuanVideo path and return true when it applies; false = leave it to umT5.
bool run_hunyuan_tokenize(const HunyuanTextOptions& o, const std::string& tokenizer, const std::string& text,
                          int64_t text_len);
bool run_hunyuan_encode_text(const HunyuanTextOptions& o, const std::string& weights, const std::string& ids_file,
                             const std::string& out, const std::string& device);

}  // namespace jenga::cli
