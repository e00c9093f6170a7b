#pragma once
// The Wan2.1 DiT weights by role, loaded once from a checkpoint in any of the three layouts.
// Shared by the CPU forward (f32) and a device forward (which can load another dtype).
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "models/wan/wan_config.h"

namespace jenga {
class Checkpoint;
}

namespace jenga::wan {

struct LinearWeights {
  Tensor w;  // [out, in] (nn.Linear layout)
  Tensor b;  // [out]
};

struct WanBlockWeights {
  Tensor modulation;                     // [1, 6, dim]: shift, scale, gate (attn), shift, scale, gate (ffn)
  LinearWeights sa_q, sa_k, sa_v, sa_o;  // self-attention
  Tensor sa_norm_q, sa_norm_k;           // [dim] RMSNorm weights over the full dim
  Tensor norm3_w, norm3_b;               // [dim] affine LayerNorm before cross-attention
  LinearWeights ca_q, ca_k, ca_v, ca_o;  // cross-attention to the text context
  Tensor ca_norm_q, ca_norm_k;           // [dim]
  LinearWeights ffn0, ffn2;              // [ffn, dim], [dim, ffn]
};

struct WanWeights {
  Tensor patch_w;  // [dim, in_dim, pt, ph, pw]
  Tensor patch_b;  // [dim]
  LinearWeights text0, text2;          // [dim, text_dim], [dim, dim]
  LinearWeights time0, time2;          // [dim, freq_dim], [dim, dim]
  LinearWeights time_proj;             // [6 dim, dim]
  std::vector<WanBlockWeights> blocks;
  Tensor head_modulation;              // [1, 2, dim]: shift, scale
  LinearWeights head;                  // [out_dim * pt * ph * pw, dim]
};

// Loads every tensor of a text-to-video `config` (shapes checked) on the CPU. `matrix_dtype` is
// the type of the GEMM matrices (Linear weights, patch embedding), e.g. bf16 for the GPU, which
// computes with bf16 operands anyway: half the host memory of f32 (28 GB, not 56, for 14B). The
// vectors (biases, norms, modulation) and the time-embedding MLP, which the official model runs in
// f32, always load as f32. fp8 weights of ComfyUI "scaled fp8" files are multiplied by their scale. Checks the
// tensor set first (wan_keys.h: check_tensor_set).
// `on_block(blocks loaded, total)`, when given, is called after each block (progress).
WanWeights load_wan_weights(const Checkpoint& ckpt, Layout layout, const WanConfig& config,
                            DType matrix_dtype = DType::F32,
                            const std::function<void(int64_t, int64_t)>& on_block = {});

}  // namespace jenga::wan
