#include "models/hunyuan/clip_encoder_layers_cuda.h"

#include <cmath>
#include <string>

#include "backend/cuda/activation.h"
#include "backend/cuda/convert.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/device_upload.h"
#include "backend/cuda/gemm_attention.h"
#include "backend/cuda/norm.h"
#include "core/error.h"

namespace jenga::hunyuan {

using cuda::device_empty;

ClipEncoderLayersCuda::ClipEncoderLayersCuda(const EncoderWeights& w, const ClipLayerShape& s, int64_t layers, bool f16)
    : s_(s), f16_(f16) {
  cuda::init();
  const int64_t D = s.dim, F = s.ffn, L = s.tokens, H = s.heads;
  if (H <= 0 || D % H != 0) fail("{}: {} heads do not divide width {}", w.path(), H, D);
  layers_.resize(static_cast<size_t>(layers));
  for (int64_t l = 0; l < layers; ++l) {
    Layer& Y = layers_[static_cast<size_t>(l)];
    const std::string p = "encoder.layers." + std::to_string(l) + ".";
    const std::string a = p + "self_attn.";
    Y.qkv = upload_f16_stacked(w, {a + "q_proj.weight", a + "k_proj.weight", a + "v_proj.weight"}, {D, D, D}, D);
    Y.qkv_b = upload_f32_concat(w, {a + "q_proj.bias", a + "k_proj.bias", a + "v_proj.bias"}, {D, D, D});
    Y.o = upload_f16_stacked(w, {a + "out_proj.weight"}, {D}, D);
    Y.o_b = upload_f32_concat(w, {a + "out_proj.bias"}, {D});
    Y.fc1 = upload_f16_stacked(w, {p + "mlp.fc1.weight"}, {F}, D);
    Y.fc1_b = upload_f32_concat(w, {p + "mlp.fc1.bias"}, {F});
    Y.fc2 = upload_f16_stacked(w, {p + "mlp.fc2.weight"}, {D}, F);
    Y.fc2_b = upload_f32_concat(w, {p + "mlp.fc2.bias"}, {D});
    Y.ln1_w = upload_f32_concat(w, {p + "layer_norm1.weight"}, {D});
    Y.ln1_b = upload_f32_concat(w, {p + "layer_norm1.bias"}, {D});
    Y.ln2_w = upload_f32_concat(w, {p + "layer_norm2.weight"}, {D});
    Y.ln2_b = upload_f32_concat(w, {p + "layer_norm2.bias"}, {D});
  }
  const DType act = f16 ? DType::F16 : DType::F32;
  const int64_t att = cuda::gemm_attention_scratch(H, L);
  h_ = device_empty(act, L * D);
  qkv32_ = device_empty(DType::F32, L * 3 * D);
  if (f16) qkv_ = device_empty(DType::F16, L * 3 * D), p_ = device_empty(DType::F16, att);
  o_ = device_empty(act, L * D);
  fc_ = device_empty(DType::F32, L * F);
  act_ = device_empty(act, L * F);
  s_buf_ = device_empty(DType::F32, att);
  const std::vector<uint8_t> ones(static_cast<size_t>(L), 1);
  ones_ = device_empty(DType::U8, L);
  cuda::copy_to_device(ones_.data(), ones.data(), ones.size());
}

size_t ClipEncoderLayersCuda::weight_bytes() const {
  size_t n = 0;
  for (const auto& l : layers_)
    for (const Tensor* t : {&l.qkv, &l.o, &l.fc1, &l.fc2, &l.qkv_b, &l.o_b, &l.fc1_b, &l.fc2_b, &l.ln1_w, &l.ln1_b,
                            &l.ln2_w, &l.ln2_b})
      n += t->nbytes();
  return n;
}

void ClipEncoderLayersCuda::run(EncoderLinearCuda& lin, float* x, int64_t L, const uint8_t* key_mask, bool causal) {
  const int64_t D = s_.dim, H = s_.heads, F = s_.ffn;
  if (lin.f16() != f16_) fail("CLIP layers: buffers were sized for {} but the GEMMs run {}", f16_ ? "fp16" : "f32",
                              lin.f16() ? "fp16" : "f32");
  if (L < 1 || L > s_.tokens) fail("CLIP layers: {} rows; the buffers hold 1..{}", L, s_.tokens);
  const Tensor& qkv = f16_ ? qkv_ : qkv32_;
  cuda::GemmAttentionArgs att;
  att.q = lin.element(qkv, 0), att.k = lin.element(qkv, D), att.v = lin.element(qkv, 2 * D);
  att.q_ld = att.k_ld = att.v_ld = 3 * D;
  att.out = o_.data(), att.out_ld = D;
  att.len = L, att.heads = H, att.kv_heads = H, att.head_dim = D / H;
  att.scale = 1.0f / std::sqrt(static_cast<float>(D / H));
  att.key_mask = key_mask ? key_mask : ones_.data_as<uint8_t>();
  att.f16 = f16_;
  att.causal = causal;
  att.scores = s_buf_.data_as<float>();
  att.probs = f16_ ? p_.data() : nullptr;
  for (const Layer& l : layers_) {
    cuda::layer_norm_f32(x, l.ln1_w.data_as<float>(), l.ln1_b.data_as<float>(), h_.data(), f16_, L, D, s_.ln_eps);
    lin.run(h_.data(), l.qkv, l.qkv_b.data_as<float>(), L, 3 * D, D, qkv32_.data(), 3 * D, false);
    if (f16_) cuda::f32_to_f16(qkv32_.data_as<float>(), qkv_.data(), L * 3 * D);
    cuda::gemm_attention(lin.gemm(), att);
    lin.run(o_.data(), l.o, l.o_b.data_as<float>(), L, D, D, x, D, true);  // residual add
    cuda::layer_norm_f32(x, l.ln2_w.data_as<float>(), l.ln2_b.data_as<float>(), h_.data(), f16_, L, D, s_.ln_eps);
    lin.run(h_.data(), l.fc1, l.fc1_b.data_as<float>(), L, F, D, fc_.data(), F, false);
    cuda::gelu(fc_.data_as<float>(), act_.data(), f16_, L * F, s_.quick_gelu);
    lin.run(act_.data(), l.fc2, l.fc2_b.data_as<float>(), L, D, F, x, D, true);  // residual add
  }
}

}  // namespace jenga::hunyuan
