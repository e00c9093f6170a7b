#pragma once
// Jenga on HunyuanVideo-I2V (jenga_hyi2v.py, hyvideo_i2v/modules): what differs from Jenga T2V
// beyond the preset table's "i2v-base" row (drop rates 0.75/0.85, p 0.3, shift 5, the 24-of-50
// computed step list, 4 text blocks).
//  - The block-sparse attention pads the whole (image + text) sequence with zero rows to a
//    multiple of 128 and crops the output back; the text rows' blocks are the last
//    `text_blocks` (4) blocks, so the 396 I2V text rows fill 512 positions when the image
//    tokens are a multiple of 128. Text queries also see the zero pad keys.
//  - token_replace's first-frame rows are a mask in curve order (the DiT's token order), not a
//    prefix: hunyuan_forward_cpu(..., token_replace) derives it from the hooks' token order.
#include <cstdint>
#include <span>
#include <vector>

namespace jenga::hunyuan {

// I2V text states: 576 / 4 image rows + 256 - 4 text rows.
inline constexpr int64_t kI2vTextTokens = 144 + 252;
// attention_block_triton_diffres.block_sparse_attention's default text_blocks (the model never passes it).
inline constexpr int64_t kI2vJengaTextBlocks = 4;

// Zero rows the I2V block-sparse attention appends to `image_tokens + text_tokens` rows (block 128).
int64_t jenga_i2v_pad_rows(int64_t image_tokens, int64_t text_tokens, int64_t block = 128);

// first_frame[i] = 1 when the i-th token in the DiT's order (order[i] = raster index) belongs to
// latent frame 0 (raster index < tokens_per_frame): jenga_hyi2v.py's first_frame_mask[hilbert_order].
std::vector<uint8_t> first_frame_mask_in_order(std::span<const int32_t> order, int64_t tokens_per_frame);

}  // namespace jenga::hunyuan
