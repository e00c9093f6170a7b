#pragma once
// The small HunyuanVideo DiT the CUDA tests run: the tiny config's text widths (what make-tiny's
// encoders give) with a head dim the CUDA attention serves: hidden 128, 2 heads of 64, RoPE
// split 16/24/24.
#include "models/hunyuan/hunyuan_config.h"

namespace jenga::test {

inline hunyuan::HunyuanConfig hunyuan_cuda_test_config() {
  hunyuan::HunyuanConfig c = hunyuan::HunyuanConfig::tiny();
  c.hidden = 128, c.heads = 2, c.mlp_dim = 256, c.refiner_mlp_dim = 256;
  c.rope_dim[0] = 16, c.rope_dim[1] = 24, c.rope_dim[2] = 24;
  return c;
}

}  // namespace jenga::test
