#pragma once
// The warp-specialised kernel's lab variants (production instantiates one per head dim:
// src/backend/cuda/attention/launch_ws.cuh WsDefault). Versions 3 .. 16 of the lab are variants
// 0 .. 13 here:
//   0 = 2 K/V stages + ping-pong of the two consumer warpgroups, 1 = 2 stages, 2 = 3 stages +
//   ping-pong, 3 = 3 stages, 4 = persistent (one CTA per SM), 2 stages + ping-pong,
//   5 = persistent, 2 stages, 6 = 4 + Q in registers; 7 = 6 + one-instruction exp2, 8 = 7 + lazy
//   rescale, 9 = 8 + one K/V release per warp (production, head dim 128), 10 = 4 with all three
//   (production, head dim 64), 11 = 9 without ping-pong, 12 = 2 with all three, 13 = 10 with
//   S = Q K^T in FP8 (head dim 128, maps of p.q8 / p.k8).
// (Q in registers without persistence would stage the output over Q's rows right after
// ldmatrix read them, which racecheck flags: not offered.)
// Variants 0 .. 6 are instantiated in ws_versions{64,128}.cu, 7 .. 13 in ws_opt_versions{64,128}.cu,
// so builds compile them in parallel.
#include "backend/cuda/attention/launch_ws.cuh"

namespace jenga::cuda::attn {

// An e4m3 [batch, heads, len, 128] head-major byte tensor (path 16's Q / K), boxes of 128 bytes x
// box_rows rows, 128-byte swizzle (one row is one swizzle span).
inline bool encode_map_fp8(CUtensorMap* m, const void* base, const AttentionParams& p, int len, int box_rows) {
  const TensorMapEncodeTiled enc = tensor_map_encoder();
  if (enc == nullptr || base == nullptr) return false;
  const cuuint64_t dims[4] = {128, static_cast<cuuint64_t>(len), static_cast<cuuint64_t>(p.heads),
                              static_cast<cuuint64_t>(p.batch)};
  const cuuint64_t strides[3] = {128, static_cast<cuuint64_t>(len) * 128,
                                 static_cast<cuuint64_t>(len) * 128 * static_cast<cuuint64_t>(p.heads)};
  const cuuint32_t box[4] = {128, static_cast<cuuint32_t>(box_rows), 1, 1};
  const cuuint32_t elem[4] = {1, 1, 1, 1};
  return enc(m, CU_TENSOR_MAP_DATA_TYPE_UINT8, 4, const_cast<void*>(base), dims, strides, box, elem,
             CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
             CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

template <int D>
void launch_ws_base(const AttentionParams& p, const WsMaps& maps, int variant, cudaStream_t stream) {
  switch (variant) {
    case 0: launch_ws_variant<WsTraits<D, 2, true>>(p, maps, stream); break;
    case 1: launch_ws_variant<WsTraits<D, 2, false>>(p, maps, stream); break;
    case 2: launch_ws_variant<WsTraits<D, 3, true>>(p, maps, stream); break;
    case 3: launch_ws_variant<WsTraits<D, 3, false>>(p, maps, stream); break;
    case 4: launch_ws_variant<WsTraits<D, 2, true, true>>(p, maps, stream); break;
    case 5: launch_ws_variant<WsTraits<D, 2, false, true>>(p, maps, stream); break;
    default: launch_ws_variant<WsTraits<D, 2, true, true, true>>(p, maps, stream); break;
  }
}

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
