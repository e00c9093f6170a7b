#pragma once
// The warp-specialised kernel's variants 7 .. 12 (launch_ws.cuh): variants 6 / 4 / 2 with fewer
// consumer instructions per key tile (ws_kernel.cuh OPT bits). Instantiated per head dim in
// attention_ws_opt{64,128}.cu so the builds compile them beside the older variants.
#include "backend/cuda/attention/launch_ws.cuh"

namespace jenga::cuda::attn {

// 7 = 6 + one-instruction exp2, 8 = 7 + lazy rescale, 9 = 8 + one K/V release per warp,
// 10 = 4 (Q in shared memory) with all three, 11 = 9 without ping-pong, 12 = 2 (3 stages,
// not persistent) with all three, 13 = 10 with S = Q K^T in FP8 (head dim 128, maps of p.q8 / p.k8).
template <int D>
void launch_ws_opt(const AttentionParams& p, const WsMaps& maps, int variant, cudaStream_t stream) {
  switch (variant) {
    case 7: launch_ws_variant<WsTraits<D, 2, true, true, true, kOptFastExp>>(p, maps, stream); break;
    case 8: launch_ws_variant<WsTraits<D, 2, true, true, true, kOptFastExp | kOptLazyRescale>>(p, maps, stream); break;
    case 9: launch_ws_variant<WsTraits<D, 2, true, true, true, kOptAll>>(p, maps, stream); break;
    case 10: launch_ws_variant<WsTraits<D, 2, true, true, false, kOptAll>>(p, maps, stream); break;
    case 11: launch_ws_variant<WsTraits<D, 2, false, true, true, kOptAll>>(p, maps, stream); break;
    case 13:
      if constexpr (D == 128) launch_ws_variant<WsTraits<D, 2, true, true, false, kOptAll | kOptFp8QK>>(p, maps, stream);
      break;
    default: launch_ws_variant<WsTraits<D, 3, true, false, false, kOptAll>>(p, maps, stream); break;
  }
}

}  // namespace jenga::cuda::attn
