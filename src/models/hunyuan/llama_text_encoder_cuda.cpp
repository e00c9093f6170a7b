#include "models/hunyuan/llama_text_encoder_cuda.h"

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
#include "backend/cuda/rope.h"
#include "core/dtype.h"
#include "core/error.h"

namespace jenga::hunyuan {

namespace {

using cuda::device_empty;

struct Layer {
  Tensor qkv, o, gate_up, down;  // fp16 [out, in] (PyTorch Linear layout); q|k|v and gate|up stacked
  Tensor norm1, norm2;           // f32 [hidden]
};

// Activations for prompts of up to `cap` tokens (grown when a longer prompt comes), and the RoPE
// tables of the rows' positions (written per encode: the I2V input has its own positions).
struct Scratch {
  int64_t cap = 0;
  Tensor x, h, qkv32, qkv, o, gu, m, s, p, cos_t, sin_t, km, emb16;
  std::vector<int64_t> rope_positions;  // what cos_t / sin_t hold (the same prompt length: no recompute)
};

}  // namespace

struct LlamaTextEncoderCuda::Impl {
  LlamaTextConfig c;
  const LlamaTextEncoder* host = nullptr;  // for the token embedding rows (gathered on the host)
  Tensor embed16;                          // the mapped fp16 embedding table (when stored so, unscaled)
  int64_t embed_rows = 0;
  int64_t skip = 2;
  std::vector<Layer> layers;
  Tensor final_norm;  // f32 [hidden], skip == 0 only
  mutable std::unique_ptr<EncoderLinearCuda> lin;
  mutable Scratch sc;

  void reserve(int64_t L) const {
    if (L <= sc.cap) return;
    const int64_t D = c.hidden, H = c.heads, KV = c.kv_heads, hd = c.head_dim, F = c.ffn, Nqkv = (H + 2 * KV) * hd;
    const DType act = lin->f16() ? DType::F16 : DType::F32;
    sc = Scratch{};  // free the old buffers first
    sc.x = device_empty(DType::F32, L * D);
    sc.h = device_empty(act, L * D);
    sc.qkv32 = device_empty(DType::F32, L * Nqkv);
    const int64_t att = cuda::gemm_attention_scratch(H, L);
    if (lin->f16()) sc.qkv = device_empty(DType::F16, L * Nqkv), sc.p = device_empty(DType::F16, att);
    sc.o = device_empty(act, L * H * hd);
    sc.gu = device_empty(DType::F32, L * std::max(2 * F, D));  // also the final norm's output
    sc.m = device_empty(act, L * F);
    sc.s = device_empty(DType::F32, att);
    sc.km = device_empty(DType::U8, L);
    if (embed16.defined()) sc.emb16 = device_empty(DType::F16, L * D);
    sc.cos_t = device_empty(DType::F32, L * hd / 2), sc.sin_t = device_empty(DType::F32, L * hd / 2);
    sc.cap = L;
  }

  // The RoPE tables of these positions, as the CPU encoder computes them (f32 angle from the
  // fp16-rounded inv_freq).
  void rope_tables(std::span<const int64_t> positions) const {
    if (std::equal(positions.begin(), positions.end(), sc.rope_positions.begin(), sc.rope_positions.end())) return;
    const int64_t L = static_cast<int64_t>(positions.size()), hd = c.head_dim;
    const auto inv = llama_inv_freq(hd, c.rope_theta, c.fp16_inv_freq);
    std::vector<float> ct(static_cast<size_t>(L * hd / 2)), st(ct.size());
    for (int64_t p = 0; p < L; ++p)
      for (int64_t j = 0; j < hd / 2; ++j) {
        const float a = static_cast<float>(positions[p]) * inv[j];
        ct[p * hd / 2 + j] = std::cos(a);
        st[p * hd / 2 + j] = std::sin(a);
      }
    cuda::copy_to_device(sc.cos_t.data(), ct.data(), ct.size() * sizeof(float));
    cuda::copy_to_device(sc.sin_t.data(), st.data(), st.size() * sizeof(float));
    sc.rope_positions.assign(positions.begin(), positions.end());
  }

  // Checks a 0/1 key mask of L entries.
  static std::vector<uint8_t> key_mask(std::span<const int64_t> mask) {
    std::vector<uint8_t> km(mask.size());
    for (size_t i = 0; i < mask.size(); ++i) {
      if (mask[i] != 0 && mask[i] != 1) fail("encode-text: mask[{}] = {}; the mask holds 0 or 1", i, mask[i]);
      km[i] = static_cast<uint8_t>(mask[i]);
    }
    return km;
  }

  // The layers over x = sc.x [L, D] (already holding the input rows): hidden_states[-(skip + 1)].
  Tensor run(int64_t L, std::span<const int64_t> positions, const std::vector<uint8_t>& km) const;

  // x[L, D] f32 on the device = the embedding rows of ids (their range checked): fp16 tables as
  // raw rows widened on the GPU, others (bf16, f32, scaled fp8) through the host gather.
  void embed(std::span<const int64_t> ids, float* x) const {
    const int64_t L = static_cast<int64_t>(ids.size()), D = c.hidden;
    if (!embed16.defined()) {
      std::vector<float> x0(static_cast<size_t>(L * D));
      host->weights().gather_rows("embed_tokens.weight", ids, D, x0.data());
      cuda::copy_to_device(x, x0.data(), x0.size() * sizeof(float));
      return;
    }
    std::vector<uint16_t> rows(static_cast<size_t>(L * D));
    const auto* table = static_cast<const uint16_t*>(embed16.data());
    for (int64_t i = 0; i < L; ++i) {
      if (ids[i] < 0 || ids[i] >= embed_rows)
        fail("token id {} at position {} is outside the vocabulary [0, {})", ids[i], i, embed_rows);
      std::copy(table + ids[i] * D, table + (ids[i] + 1) * D, rows.begin() + i * D);
    }
    cuda::copy_to_device(sc.emb16.data(), rows.data(), rows.size() * sizeof(uint16_t));
    cuda::f16_to_f32(sc.emb16.data(), x, L * D);
  }
};

LlamaTextEncoderCuda::LlamaTextEncoderCuda() : impl_(std::make_unique<Impl>()) {}
LlamaTextEncoderCuda::~LlamaTextEncoderCuda() = default;

std::unique_ptr<LlamaTextEncoderCuda> LlamaTextEncoderCuda::upload(const LlamaTextEncoder& e, int64_t skip,
                                                                   TextEncoderPrecision precision) {
  cuda::init();
  const LlamaTextConfig& c = e.config();
  if (skip < 0 || skip > c.layers) fail("LLM text encoder: cannot skip {} of {} layers", skip, c.layers);
  std::unique_ptr<LlamaTextEncoderCuda> m(new LlamaTextEncoderCuda());
  Impl& I = *m->impl_;
  I.c = c;
  I.host = &e;
  I.skip = skip;
  const auto& w = e.weights();
  const int64_t D = c.hidden, H = c.heads, KV = c.kv_heads, hd = c.head_dim, F = c.ffn;
  if (H % KV != 0) fail("{}: {} attention heads are not a multiple of {} key/value heads", w.path(), H, KV);
  for (const char* b : {"q_proj", "k_proj", "v_proj", "o_proj"})
    if (w.has(std::string("layers.0.self_attn.") + b + ".bias"))
      fail("{}: attention biases are not supported by the CUDA path; use --device cpu", w.path());
  I.layers.resize(static_cast<size_t>(c.layers - skip));
  for (int64_t l = 0; l < c.layers - skip; ++l) {
    Layer& L = I.layers[static_cast<size_t>(l)];
    const std::string p = "layers." + std::to_string(l) + ".";
    L.qkv = upload_f16_stacked(
        w, {p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight", p + "self_attn.v_proj.weight"},
        {H * hd, KV * hd, KV * hd}, D);
    L.o = upload_f16_stacked(w, {p + "self_attn.o_proj.weight"}, {D}, H * hd);
    L.gate_up = upload_f16_stacked(w, {p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"}, {F, F}, D);
    L.down = upload_f16_stacked(w, {p + "mlp.down_proj.weight"}, {D}, F);
    L.norm1 = upload_f32_concat(w, {p + "input_layernorm.weight"}, {D});
    L.norm2 = upload_f32_concat(w, {p + "post_attention_layernorm.weight"}, {D});
  }
  if (skip == 0) I.final_norm = upload_f32_concat(w, {"norm.weight"}, {D});
  const auto es = w.shape("embed_tokens.weight");
  if (es.size() != 2 || es[1] != D) fail("{}: embed_tokens.weight is not a [rows, {}] table", w.path(), D);
  I.embed_rows = es[0];
  if (Tensor t = w.raw("embed_tokens.weight"); t.dtype() == DType::F16 && !w.scale("embed_tokens.weight"))
    I.embed16 = std::move(t);
  I.lin = std::make_unique<EncoderLinearCuda>(precision_for_widths(precision, {D, F, hd}),
                                              std::max({2 * F * D, (H + 2 * KV) * hd * D, D * H * hd}));
  return m;
}

size_t LlamaTextEncoderCuda::weight_bytes() const {
  size_t n = impl_->final_norm.defined() ? impl_->final_norm.nbytes() : 0;
  for (const auto& l : impl_->layers)
    for (const Tensor* t : {&l.qkv, &l.o, &l.gate_up, &l.down, &l.norm1, &l.norm2}) n += t->nbytes();
  return n;
}

Tensor LlamaTextEncoderCuda::encode(std::span<const int64_t> ids, std::span<const int64_t> mask) const {
  const Impl& I = *impl_;
  const int64_t L = static_cast<int64_t>(ids.size());
  if (L == 0) fail("encode-text: no tokens");
  if (mask.size() != ids.size()) fail("encode-text: ids has {} tokens but mask has {}", ids.size(), mask.size());
  const auto km = Impl::key_mask(mask);
  I.reserve(L);
  I.embed(ids, I.sc.x.data_as<float>());
  std::vector<int64_t> positions(static_cast<size_t>(L));
  for (int64_t i = 0; i < L; ++i) positions[static_cast<size_t>(i)] = i;
  return I.run(L, positions, km);
}

Tensor LlamaTextEncoderCuda::encode_embeddings(const Tensor& embeds, std::span<const int64_t> positions,
                                               std::span<const int64_t> mask) const {
  const Impl& I = *impl_;
  const LlamaTextConfig& c = I.c;
  const int64_t L = embeds.ndim() == 2 ? embeds.dim(0) : 0;
  if (L == 0) fail("encode-text: no tokens");
  if (embeds.dtype() != DType::F32 || embeds.dim(1) != c.hidden)
    fail("encode-text: input embeddings are {} {}, expected f32 [L, {}]", dtype_name(embeds.dtype()),
         embeds.shape().str(), c.hidden);
  if (mask.size() != static_cast<size_t>(L) || positions.size() != static_cast<size_t>(L))
    fail("encode-text: {} embedding rows but {} mask entries and {} positions", L, mask.size(), positions.size());
  const auto km = Impl::key_mask(mask);
  I.reserve(L);
  cuda::copy_to_device(I.sc.x.data(), embeds.data(), static_cast<size_t>(L * c.hidden) * sizeof(float));
  return I.run(L, positions, km);
}

Tensor LlamaTextEncoderCuda::Impl::run(int64_t L, std::span<const int64_t> positions,
                                       const std::vector<uint8_t>& key_mask) const {
  const int64_t D = c.hidden, H = c.heads, KV = c.kv_heads, hd = c.head_dim, F = c.ffn, Nqkv = (H + 2 * KV) * hd;
  Scratch& s = sc;
  EncoderLinearCuda& lin = *this->lin;
  const bool f16 = lin.f16();
  rope_tables(positions);
  cuda::copy_to_device(s.km.data(), key_mask.data(), key_mask.size());
  float* x = s.x.data_as<float>();
  Tensor& qkv = f16 ? s.qkv : s.qkv32;  // RoPE'd q|k|v in the GEMM operand type
  const auto norm = [&](const Tensor& w) {
    if (f16)
      cuda::rms_norm_f32_to_f16(x, w.data_as<float>(), s.h.data(), L, D, c.rms_eps);
    else
      cuda::rms_norm_f32(x, w.data_as<float>(), s.h.data(), true, L, D, c.rms_eps);
  };
  cuda::GemmAttentionArgs att;
  att.q = lin.element(qkv, 0), att.k = lin.element(qkv, H * hd), att.v = lin.element(qkv, (H + KV) * hd);
  att.q_ld = att.k_ld = att.v_ld = Nqkv;
  att.out = s.o.data(), att.out_ld = H * hd;
  att.len = L, att.heads = H, att.kv_heads = KV, att.head_dim = hd;
  att.scale = 1.0f / std::sqrt(static_cast<float>(hd));
  att.key_mask = s.km.data_as<uint8_t>();
  att.f16 = f16;
  att.scores = s.s.data_as<float>();
  att.probs = f16 ? s.p.data() : nullptr;
  for (const Layer& l : layers) {
    norm(l.norm1);
    lin.run(s.h.data(), l.qkv, nullptr, L, Nqkv, D, s.qkv32.data(), Nqkv, false);
    cuda::rope_rotate_half_qkv(s.qkv32.data_as<float>(), qkv.data(), f16, s.cos_t.data_as<float>(),
                               s.sin_t.data_as<float>(), L, H, KV, hd);
    cuda::gemm_attention(lin.gemm(), att);
    lin.run(s.o.data(), l.o, nullptr, L, D, H * hd, x, D, true);  // residual add
    norm(l.norm2);
    lin.run(s.h.data(), l.gate_up, nullptr, L, 2 * F, D, s.gu.data(), 2 * F, false);
    cuda::silu_gated(s.gu.data_as<float>(), s.m.data(), f16, L, F);
    lin.run(s.m.data(), l.down, nullptr, L, D, F, x, D, true);  // residual add
  }
  Tensor out = Tensor::empty(DType::F32, {L, D});
  const float* result = x;
  if (skip == 0) {  // the final norm, in f32 into the (f32) gate|up scratch
    cuda::rms_norm_f32(x, final_norm.data_as<float>(), s.gu.data(), true, L, D, c.rms_eps);
    result = s.gu.data_as<float>();
  }
  cuda::synchronize();
  cuda::copy_to_host(out.data(), result, static_cast<size_t>(L * D) * sizeof(float));
  for (int64_t i = 0; i < L * D; ++i)
    if (!std::isfinite(out.data_as<float>()[i])) fail("the CUDA LLM text encoder produced NaN or inf (bad weights?)");
  return out;
}

}  // namespace jenga::hunyuan
