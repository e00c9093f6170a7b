#include "jenga/text_amp.h"

#include <cmath>

#include "core/error.h"

namespace jenga {

double text_amp_log2(int64_t cur_h, int64_t cur_w, int64_t full_h, int64_t full_w, double scale) {
  if (cur_h <= 0 || cur_w <= 0 || full_h <= 0 || full_w <= 0)
    usage_fail("text amplifier: token grids {}x{} and {}x{} must be non-empty", cur_h, cur_w, full_h, full_w);
  const double token_diff = static_cast<double>(cur_h * cur_w) / static_cast<double>(full_h * full_w);
  // math.log(x, 2) in the official code is log(x) / log(2), not log2(x).
  return -1.0 * (std::log(std::sqrt(token_diff)) / std::log(2.0)) * scale;
}

std::vector<float> text_amp_key_block_bias(int64_t heads, int64_t k_blocks, int64_t normal_blocks, double amp) {
  if (normal_blocks < 0 || normal_blocks > k_blocks)
    usage_fail("text amplifier: {} vision blocks out of {} key blocks", normal_blocks, k_blocks);
  std::vector<float> bias(static_cast<size_t>(heads * k_blocks), 0.0f);
  const float b = static_cast<float>(text_amp_to_ln_bias(amp));
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t j = normal_blocks; j < k_blocks; ++j) bias[h * k_blocks + j] = b;
  return bias;
}

}  // namespace jenga
