#pragma once
// The attention kernel lab (llm.c dev/cuda style): every kernel and variant we measured, as
// numbered versions beside the production kernel, for `attention_lab check` (each against the
// CPU f32 reference) and `attention_lab time`. Version numbers are the old
// AttentionParams::path numbers, so docs/BENCHMARKS.md's "path N" rows are "version N" here.
//   0      production attention_forward (path 0: the fastest kernel for the GPU and head dim)
//   1      mma.sync, 8 warps x 16 rows, 128-key tiles (production's sm_80 kernel, path 1)
//   2      wgmma with cp.async (sm_90a, head dim 128)
//   3..16  warp-specialised TMA + wgmma variants 0..13 (sm_90a; launch_ws_versions.cuh);
//          12 and 13 are production's kernels for head dim 128 and 64; 16 = FP8 Q/K (D 128)
//   17     mma.sync, 8 warps x 16 rows, 64-key tiles (was key_tile 64)
//   18     mma.sync, 4 warps x 32 rows, 64-key tiles: FlashAttention-2's layout (was warp_rows 32)
#include <cstdint>
#include <string>

#include "backend/cuda/attention.h"

namespace jenga::lab {

constexpr int kVersions = 19;  // 0 .. 18
constexpr int kFp8Version = 16;

std::string version_name(int version);
// Empty when `version` runs on this device with this head dim, else why not.
std::string version_unsupported(int version, int head_dim);
// Launches `version` on p (p.path is ignored; version 0 calls cuda::attention_forward with it).
// Checks arguments as attention_forward does; throws jenga::UsageError when the version does
// not apply (device, head dim, strides a tensor map cannot express, FP8 inputs missing).
void attention(const cuda::AttentionParams& p, int version, void* stream = nullptr);

// Version 16's inputs: Q/K as e4m3 with per-(batch, head, 128-token block) scales (amax / 448)
// from p.q / p.k (bf16, p's strides). q8 [B*H*q_len*128] bytes, q_scale [B*H*ceil(q_len/128)]
// f32, likewise for k. Head dim 128.
void quantize_qk_fp8(const cuda::AttentionParams& p, uint8_t* q8, float* q_scale, uint8_t* k8, float* k_scale,
                     void* stream = nullptr);

}  // namespace jenga::lab

namespace jenga::cuda::attn {
// Per-TU entry points (mma_versions.cu, wgmma_version.cu, ws_*versions*.cu, fp8_quant.cu).
void lab_launch_mma(const AttentionParams& p, int key_tile, int warp_rows, void* stream);
void lab_launch_wgmma(const AttentionParams& p, void* stream);
bool lab_launch_ws64(const AttentionParams& p, int variant, void* stream);
bool lab_launch_ws128(const AttentionParams& p, int variant, void* stream);
void lab_ws_base64(const AttentionParams& p, const void* maps, int variant, void* stream);
void lab_ws_base128(const AttentionParams& p, const void* maps, int variant, void* stream);
void lab_ws_opt64(const AttentionParams& p, const void* maps, int variant, void* stream);
void lab_ws_opt128(const AttentionParams& p, const void* maps, int variant, void* stream);
void launch_quantize_qk_fp8(const AttentionParams& p, uint8_t* q8, float* q_scale, uint8_t* k8, float* k_scale,
                            void* stream);
}  // namespace jenga::cuda::attn
