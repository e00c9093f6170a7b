#pragma once
// Per-head-dim entry points, defined in attention_hdim{64,128}.cu (plain C++ declarations).
#include "backend/cuda/attention.h"

namespace jenga::cuda::attn {

void launch_hdim64(const AttentionParams& p, int key_tile, int warp_rows, void* stream);
void launch_hdim128(const AttentionParams& p, int key_tile, int warp_rows, void* stream);
// sm_90a wgmma kernel, head dim 128 (attention_hdim128.cu).
void launch_hdim128_wgmma(const AttentionParams& p, void* stream);

}  // namespace jenga::cuda::attn
