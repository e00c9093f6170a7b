#pragma once
// Per-head-dim entry points, defined in attention_hdim{64,128}.cu (plain C++ declarations).
#include "backend/cuda/attention.h"

namespace jenga::cuda::attn {

void launch_hdim64(const AttentionParams& p, int key_tile, int warp_rows, void* stream);
void launch_hdim128(const AttentionParams& p, int key_tile, int warp_rows, void* stream);

}  // namespace jenga::cuda::attn
