#pragma once
// The Jenga text amplifier (Hunyuan ProRes pipeline): while the video is generated at a
// reduced resolution, the logits of image queries against text keys get an additive boost
//   text_amp = -log2(sqrt(token_diff)) * scale,  token_diff = (h_cur * w_cur) / (h_full * w_full)
// (per-frame token counts of the current and the final stage; scale = --scale-txt-amp, 1.0).
// The official kernel adds it to log2-scaled logits of key blocks >= the first text block, so
// each text key's weight is multiplied by 2^text_amp; image query rows only (text queries run
// dense attention without it). Set at the start of generation, reset to 0 at the first
// resolution change. Our attention bias is in natural-log units: bias = text_amp * ln 2.
#include <cstdint>
#include <vector>

namespace jenga {

// In the official log2 units.
double text_amp_log2(int64_t cur_h_tokens, int64_t cur_w_tokens, int64_t full_h_tokens, int64_t full_w_tokens,
                     double scale = 1.0);
// log2 units -> natural-log units of cpu::AttentionArgs::key_block_bias.
inline double text_amp_to_ln_bias(double amp_log2) { return amp_log2 * 0.69314718055994530942; }
// key_block_bias [heads, k_blocks]: text_amp (natural log) on key blocks >= normal_blocks, 0
// elsewhere. Apply it to the image (normal) query rows only.
std::vector<float> text_amp_key_block_bias(int64_t heads, int64_t k_blocks, int64_t normal_blocks, double amp_log2);

}  // namespace jenga
