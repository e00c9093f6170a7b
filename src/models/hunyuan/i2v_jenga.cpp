#include "models/hunyuan/i2v_jenga.h"

#include "core/error.h"

namespace jenga::hunyuan {

int64_t jenga_i2v_pad_rows(int64_t image_tokens, int64_t text_tokens, int64_t block) {
  if (image_tokens < 0 || text_tokens < 0 || block < 1)
    fail("Jenga I2V padding: {} image + {} text tokens in blocks of {}", image_tokens, text_tokens, block);
  const int64_t n = image_tokens + text_tokens;
  return n % block ? block - n % block : 0;
}

std::vector<uint8_t> first_frame_mask_in_order(std::span<const int32_t> order, int64_t tokens_per_frame) {
  std::vector<uint8_t> m(order.size());
  for (size_t i = 0; i < order.size(); ++i) m[i] = order[i] < tokens_per_frame;
  return m;
}

}  // namespace jenga::hunyuan
