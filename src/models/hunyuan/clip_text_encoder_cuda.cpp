#include "models/hunyuan/clip_text_encoder_cuda.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "backend/cuda/activation.h"
#include "backend/cuda/convert.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/device_upload.h"
#include "backend/cuda/gemm_attention.h"
#include "backend/cuda/norm.h"
#include "core/error.h"

namespace jenga::hunyuan {

namespace {

using cuda::device_empty;

struct Layer {
  Tensor qkv, o, fc1, fc2;               // fp16 [out, in]; q|k|v stacked
  Tensor qkv_b, o_b, fc1_b, fc2_b;       // f32
  Tensor ln1_w, ln1_b, ln2_w, ln2_b;     // f32 [hidden]
};

}  // namespace

struct ClipTextEncoderCuda::Impl {
  const ClipTextEncoder* host = nullptr;
  ClipTextConfig c;
  std::vector<Layer> layers;
  Tensor final_w, final_b;
  std::unique_ptr<EncoderLinearCuda> lin;
  // Activations for `positions` tokens: residual x, LayerNorm output h, q|k|v (f32 GEMM output and
  // its fp16 copy), attention output o, fc1 output (f32) and its activation, scores/probabilities.
  Tensor x, h, qkv32, qkv, o, f32buf, act, s, p, km;
};

ClipTextEncoderCuda::ClipTextEncoderCuda() : impl_(std::make_unique<Impl>()) {}
ClipTextEncoderCuda::~ClipTextEncoderCuda() = default;

std::unique_ptr<ClipTextEncoderCuda> ClipTextEncoderCuda::upload(const ClipTextEncoder& e, TextEncoderPrecision precision) {
  cuda::init();
  std::unique_ptr<ClipTextEncoderCuda> m(new ClipTextEncoderCuda());
  Impl& I = *m->impl_;
  I.host = &e;
  I.c = e.config();
  const ClipTextConfig& c = I.c;
  const auto& w = e.weights();
  const int64_t D = c.hidden, F = c.ffn, L = c.positions, H = c.heads;
  I.layers.resize(static_cast<size_t>(c.layers));
  for (int64_t l = 0; l < c.layers; ++l) {
    Layer& Y = I.layers[static_cast<size_t>(l)];
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
  I.final_w = upload_f32_concat(w, {"final_layer_norm.weight"}, {D});
  I.final_b = upload_f32_concat(w, {"final_layer_norm.bias"}, {D});
  I.lin = std::make_unique<EncoderLinearCuda>(precision, std::max(3 * D * D, F * D));
  const DType act = I.lin->f16() ? DType::F16 : DType::F32;
  I.x = device_empty(DType::F32, L * D);
  I.h = device_empty(act, L * D);
  I.qkv32 = device_empty(DType::F32, L * 3 * D);
  const int64_t att = cuda::gemm_attention_scratch(H, L);
  if (I.lin->f16()) I.qkv = device_empty(DType::F16, L * 3 * D), I.p = device_empty(DType::F16, att);
  I.o = device_empty(act, L * D);
  I.f32buf = device_empty(DType::F32, L * std::max(F, D));
  I.act = device_empty(act, L * F);
  I.s = device_empty(DType::F32, att);
  I.km = device_empty(DType::U8, L);
  return m;
}

size_t ClipTextEncoderCuda::weight_bytes() const {
  size_t n = impl_->final_w.nbytes() + impl_->final_b.nbytes();
  for (const auto& l : impl_->layers)
    for (const Tensor* t : {&l.qkv, &l.o, &l.fc1, &l.fc2, &l.qkv_b, &l.o_b, &l.fc1_b, &l.fc2_b, &l.ln1_w, &l.ln1_b,
                            &l.ln2_w, &l.ln2_b})
      n += t->nbytes();
  return n;
}

ClipTextOutput ClipTextEncoderCuda::encode(std::span<const int64_t> ids, std::span<const int64_t> mask) const {
  Impl& I = *impl_;  // its activation buffers are written
  const ClipTextConfig& c = I.c;
  I.host->check_input(ids, mask);
  const int64_t L = static_cast<int64_t>(ids.size()), D = c.hidden, H = c.heads, F = c.ffn;
  std::vector<float> x0(static_cast<size_t>(L * D));
  I.host->embed(ids, x0.data());
  std::vector<uint8_t> key_mask(static_cast<size_t>(L));
  for (int64_t i = 0; i < L; ++i) key_mask[i] = mask[i] != 0;
  cuda::copy_to_device(I.x.data(), x0.data(), x0.size() * sizeof(float));
  cuda::copy_to_device(I.km.data(), key_mask.data(), key_mask.size());

  EncoderLinearCuda& lin = *I.lin;
  const bool f16 = lin.f16();
  float* x = I.x.data_as<float>();
  Tensor& qkv = f16 ? I.qkv : I.qkv32;
  cuda::GemmAttentionArgs att;
  att.q = lin.element(qkv, 0), att.k = lin.element(qkv, D), att.v = lin.element(qkv, 2 * D);
  att.q_ld = att.k_ld = att.v_ld = 3 * D;
  att.out = I.o.data(), att.out_ld = D;
  att.len = L, att.heads = H, att.kv_heads = H, att.head_dim = D / H;
  att.scale = 1.0f / std::sqrt(static_cast<float>(D / H));
  att.key_mask = I.km.data_as<uint8_t>();
  att.f16 = f16;
  att.scores = I.s.data_as<float>();
  att.probs = f16 ? I.p.data() : nullptr;
  for (const Layer& l : I.layers) {
    cuda::layer_norm_f32(x, l.ln1_w.data_as<float>(), l.ln1_b.data_as<float>(), I.h.data(), f16, L, D, c.ln_eps);
    lin.run(I.h.data(), l.qkv, l.qkv_b.data_as<float>(), L, 3 * D, D, I.qkv32.data(), 3 * D, false);
    if (f16) cuda::f32_to_f16(I.qkv32.data_as<float>(), I.qkv.data(), L * 3 * D);
    cuda::gemm_attention(lin.gemm(), att);
    lin.run(I.o.data(), l.o, l.o_b.data_as<float>(), L, D, D, x, D, true);  // residual add
    cuda::layer_norm_f32(x, l.ln2_w.data_as<float>(), l.ln2_b.data_as<float>(), I.h.data(), f16, L, D, c.ln_eps);
    lin.run(I.h.data(), l.fc1, l.fc1_b.data_as<float>(), L, F, D, I.f32buf.data(), F, false);
    cuda::gelu(I.f32buf.data_as<float>(), I.act.data(), f16, L * F, c.quick_gelu);
    lin.run(I.act.data(), l.fc2, l.fc2_b.data_as<float>(), L, D, F, x, D, true);  // residual add
  }
  cuda::layer_norm_f32(x, I.final_w.data_as<float>(), I.final_b.data_as<float>(), I.f32buf.data(), false, L, D, c.ln_eps);
  ClipTextOutput out;
  out.last_hidden_state = Tensor::empty(DType::F32, {L, D});
  cuda::synchronize();
  cuda::copy_to_host(out.last_hidden_state.data(), I.f32buf.data(), static_cast<size_t>(L * D) * sizeof(float));
  const float* y = out.last_hidden_state.data_as<float>();
  for (int64_t i = 0; i < L * D; ++i)
    if (!std::isfinite(y[i])) fail("the CUDA CLIP text encoder produced NaN or inf (bad weights?)");
  const int64_t pos = I.host->pooled_position(ids);
  out.pooled = Tensor::empty(DType::F32, {D});
  std::copy(y + pos * D, y + (pos + 1) * D, out.pooled.data_as<float>());
  return out;
}

}  // namespace jenga::hunyuan
