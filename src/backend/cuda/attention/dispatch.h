#pragma once
// Per-head-dim entry points, defined in attention_hdim{64,128}.cu (plain C++ declarations).
#include "backend/cuda/attention.h"

namespace jenga::cuda::attn {

void launch_hdim64(const AttentionParams& p, int key_tile, int warp_rows, void* stream);
void launch_hdim128(const AttentionParams& p, int key_tile, int warp_rows, void* stream);
// sm_90a wgmma kernel, head dim 128 (attention_hdim128.cu).
void launch_hdim128_wgmma(const AttentionParams& p, void* stream);
// sm_90a warp-specialised TMA kernel, head dim 128 / 64 (attention_hdim{128,64}.cu); variant
// 0..5 (launch_ws.cuh). False, with nothing launched, when the strides do not fit a TMA tensor map.
bool launch_hdim128_ws(const AttentionParams& p, int variant, void* stream);
bool launch_hdim64_ws(const AttentionParams& p, int variant, void* stream);
// Q/K to e4m3 with per-block scales (fp8_quant.cu), head dim 128.
void launch_quantize_qk_fp8(const AttentionParams& p, uint8_t* q8, float* q_scale, uint8_t* k8, float* k_scale,
                            void* stream);

}  // namespace jenga::cuda::attn
