#pragma once
// HunyuanVideo-I2V's text encoder around the LLaVA parts: the official TextEncoder.encode in
// i2v_mode (hyvideo/text_encoder/__init__.py) on transformers' LlavaForConditionalGeneration,
// whose legacy merge (4.39.3 .. 4.46.3) expands the one <image> id into the N projected image
// rows, zeroes the embeddings of pad ids, and gives masked rows RoPE position 1. The hidden
// states (skip 2 -> hidden_states[-3]) are then cut as the "dit-llm-encode-video-i2v" template
// says: the image rows every `interleave`-th, then the text rows after the template minus the 4
// ids before the last "\n\n" (the assistant header) -> 144 + 252 = 396 rows at full size.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "models/hunyuan/llama_text_encoder.h"

namespace jenga::hunyuan {

// The two special ids of the LLaVA config.json (top level): image_token_index, pad_token_id.
struct LlavaSpecialTokens {
  int64_t image = 128257, pad = 128258;
  std::string config;  // the config.json read ("" = the published ids)
  // A LLaVA folder (or a file beside its config.json); the published ids without a config.
  static LlavaSpecialTokens load(const std::string& path);
};

// The template's crop, in input-id coordinates (official constants.py, "dit-llm-encode-video-i2v").
struct I2vTextCrop {
  int64_t crop_start = 103;        // template ids before the prompt, BOS and <image> included
  int64_t image_emb_start = 5;     // hidden rows [start, start + N) are the image's
  int64_t double_return_id = 271;  // "\n\n"; the last one ends the assistant header
  int64_t interleave = 4;          // token_replace keeps every 4th image row (latent_concat: 2)
  // The official subsamples only when 0 < interleave < 6 (TextEncoder.encode); 6 or more keep every row.
  int64_t image_step() const { return interleave < 6 ? interleave : 1; }
  int64_t image_rows(int64_t n_image) const { return (n_image + image_step() - 1) / image_step(); }
};

struct LlavaMergedInput {
  Tensor embeds;                   // [L + N - 1, hidden] f32: text embeddings with the image rows spliced in
  std::vector<int64_t> positions;  // [L + N - 1]: cumsum(mask) - 1, 1 where masked
  std::vector<int64_t> mask;       // [L + N - 1]: the text mask, 1 on image rows
};

// ids, mask: [L] with exactly one image id; image_rows: [N, hidden] (the projector's output).
LlavaMergedInput llava_merge_input(const LlamaTextEncoder& llm, std::span<const int64_t> ids,
                                   std::span<const int64_t> mask, const Tensor& image_rows, const LlavaSpecialTokens& sp);

struct I2vTextStates {
  Tensor states;              // [ceil(N / interleave) + L - 4 - crop_start, hidden] f32
  std::vector<int64_t> mask;  // same rows: 1 for the image rows, the cropped text mask after
};

// The official crop of the merged sequence's hidden states [L + N - 1, hidden] (N image rows).
I2vTextStates i2v_crop_states(const Tensor& hidden, std::span<const int64_t> ids, std::span<const int64_t> mask,
                              int64_t n_image, const I2vTextCrop& crop);

// The whole text side: merge, run the LLM to hidden_states[-(skip + 1)], crop. Also returns the
// uncropped hidden states when `hidden_out` is given.
I2vTextStates i2v_encode_text(const LlamaTextEncoder& llm, std::span<const int64_t> ids, std::span<const int64_t> mask,
                              const Tensor& image_rows, const LlavaSpecialTokens& sp, const I2vTextCrop& crop,
                              int64_t skip = 2, Tensor* hidden_out = nullptr);

}  // namespace jenga::hunyuan
