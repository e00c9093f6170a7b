#pragma once
// Per-head-dim entry points of the production kernels, defined in attention_hdim{64,128}.cu
// (plain C++ declarations). The experiments live in bench/kernels/attention/.
#include "backend/cuda/attention.h"

namespace jenga::cuda::attn {

// mma.sync kernel (sm_80+): 8 warps x 16 query rows, 128-key tiles.
void launch_hdim64(const AttentionParams& p, void* stream);
void launch_hdim128(const AttentionParams& p, void* stream);
// sm_90a warp-specialised TMA + wgmma kernel (launch_ws.cuh WsDefault). False, with nothing
// launched, when the strides do not fit a TMA tensor map.
bool launch_hdim64_ws(const AttentionParams& p, void* stream);
bool launch_hdim128_ws(const AttentionParams& p, void* stream);

}  // namespace jenga::cuda::attn
