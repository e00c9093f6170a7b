// The lab's version table and dispatch (host side): which kernel each version launches, and the
// checks that keep a version off a device or head dim it was not written for.
#include "lab.h"

#include <cuda_runtime.h>

#include <cstdint>

#include "core/error.h"

namespace jenga::lab {
namespace {

bool device_is_sm90() {
  int dev = 0, major = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return false;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) return false;
  return major == 9;
}

}  // namespace

std::string version_name(int v) {
  static const char* const ws[] = {
      "ws 2 stages + ping-pong",           "ws 2 stages",
      "ws 3 stages + ping-pong",           "ws 3 stages",
      "ws persistent, 2 stages + ping-pong", "ws persistent, 2 stages",
      "ws persistent + Q in registers",    "ws 9 + one-instruction exp2",
      "ws 10 + lazy rescale",              "ws 11 + per-warp K/V release (production D 128)",
      "ws 7 (Q in smem) + all three (production D 64)", "ws 12 without ping-pong",
      "ws 5 (3 stages) + all three",       "ws 13 with FP8 Q/K"};
  if (v == 0) return "production attention_forward";
  if (v == 1) return "mma.sync 16 rows/warp, key tile 128 (production sm_80)";
  if (v == 2) return "wgmma + cp.async";
  if (v >= 3 && v <= 16) return ws[v - 3];
  if (v == 17) return "mma.sync 16 rows/warp, key tile 64";
  if (v == 18) return "mma.sync 32 rows/warp, key tile 64 (FA2 layout)";
  return "no such version";
}

std::string version_unsupported(int v, int head_dim) {
  if (v < 0 || v >= kVersions) return "no such version";
  if (head_dim != 64 && head_dim != 128) return "head dim 64 or 128 only";
#if !JENGA_HAVE_SM90A
  if (v >= 2 && v <= 16) return "this build has no sm_90a code (JENGA_CUDA_ARCHS without 90a)";
#endif
  if (v >= 2 && v <= 16 && !device_is_sm90()) return "needs an sm_90 GPU (H100/H200)";
  if ((v == 2 || v == kFp8Version) && head_dim != 128) return "head dim 128 only";
  return {};
}

void attention(const cuda::AttentionParams& p, int v, void* stream) {
  if (v == 0) return cuda::attention_forward(p, stream);
  const std::string why = version_unsupported(v, p.head_dim);
  if (!why.empty()) usage_fail("attention lab: version {}: {}", v, why);
  if (v == kFp8Version && (!p.q8 || !p.k8 || !p.q8_scale || !p.k8_scale))
    usage_fail("attention lab: version {} needs q8, k8 and their scales (quantize_qk_fp8)", v);
  if (v == kFp8Version && (reinterpret_cast<uintptr_t>(p.q8) % 16 != 0 || reinterpret_cast<uintptr_t>(p.k8) % 16 != 0))
    usage_fail("attention lab: q8 / k8 must be 16-byte aligned");
  // Shared argument checks: production's, through path 1 on an empty query range.
  cuda::AttentionParams c = p;
  c.path = 1, c.q_len = 0;
  cuda::attention_forward(c, stream);
  if (p.q_len == 0) return;
  if (v == 1 || v == 17 || v == 18) return cuda::attn::lab_launch_mma(p, v == 1 ? 128 : 64, v == 18 ? 32 : 16, stream);
  if (v == 2) return cuda::attn::lab_launch_wgmma(p, stream);
  const bool ok = p.head_dim == 128 ? cuda::attn::lab_launch_ws128(p, v - 3, stream)
                                    : cuda::attn::lab_launch_ws64(p, v - 3, stream);
  if (!ok) usage_fail("attention lab: version {} needs strides a tensor map can express", v);
}

void quantize_qk_fp8(const cuda::AttentionParams& p, uint8_t* q8, float* q_scale, uint8_t* k8, float* k_scale,
                     void* stream) {
  if (p.head_dim != 128) usage_fail("quantize_qk_fp8: head dim {} (the FP8 version takes 128)", p.head_dim);
  if (!q8 || !q_scale || !k8 || !k_scale) usage_fail("quantize_qk_fp8: null output");
  if (p.batch <= 0 || p.heads <= 0 || p.q_len <= 0 || p.k_len <= 0)
    usage_fail("quantize_qk_fp8: bad sizes batch {} heads {} q_len {} k_len {}", p.batch, p.heads, p.q_len, p.k_len);
  cuda::attn::launch_quantize_qk_fp8(p, q8, q_scale, k8, k_scale, stream);
}

}  // namespace jenga::lab
