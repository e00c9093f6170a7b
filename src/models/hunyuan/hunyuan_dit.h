#pragma once
// A loaded HunyuanVideo DiT: config + weights by role (official key names), backend-neutral.
// h = hidden, hd = head dim, m = mlp dim, rm = refiner mlp dim, p = pt*ph*pw.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "models/hunyuan/hunyuan_config.h"

namespace jenga {
class Checkpoint;
}

namespace jenga::hunyuan {

struct Linear {
  Tensor w;  // [out, in] (nn.Linear layout)
  Tensor b;  // [out], or empty (qkv_bias false)
};

// txt_in.individual_token_refiner.blocks.N: pre-norm self-attention + MLP, gated by adaLN.
struct RefinerBlock {
  Tensor norm1_w, norm1_b;  // [h] affine LayerNorm
  Linear qkv;               // [3h, h]
  Linear proj;              // [h, h]
  Tensor norm2_w, norm2_b;  // [h]
  Linear fc1, fc2;          // [rm, h], [h, rm] (SiLU between)
  Linear ada;               // adaLN_modulation.1: [2h, h] -> gate_msa, gate_mlp
};

// One stream (img or txt) of a double block.
struct StreamWeights {
  Linear mod;              // *_mod.linear: [6h, h] -> shift1, scale1, gate1, shift2, scale2, gate2
  Linear qkv;              // *_attn_qkv: [3h, h]
  Tensor q_norm, k_norm;   // [hd] RMSNorm weights
  Linear proj;             // *_attn_proj: [h, h]
  Linear fc1, fc2;         // *_mlp: [m, h], [h, m] (GELU tanh between)
};

struct DoubleBlock {
  StreamWeights img, txt;
};

struct SingleBlock {
  Linear linear1;          // [3h + m, h]: qkv and mlp in
  Linear linear2;          // [h, h + m]: attention proj and mlp out
  Tensor q_norm, k_norm;   // [hd]
  Linear mod;              // modulation.linear: [3h, h] -> shift, scale, gate
};

struct HunyuanWeights {
  Tensor img_in_w;         // [h, C_in, pt, ph, pw]
  Tensor img_in_b;         // [h]
  Linear txt_input;        // txt_in.input_embedder: [h, text_dim]
  Linear txt_t0, txt_t2;   // txt_in.t_embedder.mlp.0 / .2: [h, 256], [h, h]
  Linear txt_c1, txt_c2;   // txt_in.c_embedder.linear_1 / _2: [h, text_dim], [h, h]
  std::vector<RefinerBlock> refiner;
  Linear time0, time2;     // time_in.mlp.0 / .2
  Linear vec_in, vec_out;  // vector_in.in_layer / out_layer: [h, text_dim_2], [h, h]
  Linear guid0, guid2;     // guidance_in.mlp.0 / .2 (empty without guidance embed)
  std::vector<DoubleBlock> doubles;
  std::vector<SingleBlock> singles;
  Linear final_linear;     // final_layer.linear: [p * C_out, h]
  Linear final_ada;        // final_layer.adaLN_modulation.1: [2h, h] -> shift, scale
};

struct HunyuanDit {
  HunyuanConfig config;
  Layout layout = Layout::Official;
  std::string source;
  HunyuanWeights weights;
};

// Every tensor of `config` as f32, shapes checked; the tensor set is checked first and a
// mismatch fails with the missing and unexpected names. Official layout as stored; diffusers
// (HunyuanVideoTransformer3DModel) mapped to the official tensors (hunyuan_keys.h: fused q/k/v and
// the single blocks' linear1 stacked back, the final modulation's halves swapped back).
// matrix_dtype: the type of the GEMM matrices (every Linear weight and the patch embedding);
// bf16 for the GPU, which computes with bf16 matrices anyway: half the host memory of f32
// (25.6 GB, not 51, for the 13B DiT). Biases and norm weights always load as f32.
// on_block(blocks loaded, double + single blocks), when given, is called after each block (progress).
HunyuanWeights load_hunyuan_weights(const Checkpoint& ckpt, Layout layout, const HunyuanConfig& config,
                                    DType matrix_dtype = DType::F32,
                                    const std::function<void(int64_t, int64_t)>& on_block = {});

// `path`: a checkpoint folder or .safetensors file (official or diffusers names; a diffusers
// pipeline folder's transformer/ is used); config.json beside it is read when present (needed
// when the head dim is not 128 and it is not a diffusers config with rope_axes_dim).
HunyuanDit load_hunyuan_dit(const std::string& path, DType matrix_dtype = DType::F32,
                           const std::function<void(int64_t, int64_t)>& on_block = {});

}  // namespace jenga::hunyuan
