#include "models/hunyuan/llama_text_encoder_cuda.h"

#include <cuda_runtime.h>

#include <cmath>
#include <string>
#include <vector>

#include "backend/cuda/activation.h"
#include "backend/cuda/convert.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_upload.h"
#include "backend/cuda/matmul.h"
#include "backend/cuda/norm.h"
#include "backend/cuda/rope.h"
#include "backend/cuda/softmax.h"
#include "core/dtype.h"
#include "core/error.h"

namespace jenga::hunyuan {

namespace {

using cuda::device_empty;

// A weight to the device as fp16: the file's bytes when it is stored so, else through f32
// (scaled fp8 dequantised) rounded to fp16.
Tensor upload_f16(const EncoderWeights& w, const std::string& name, const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  Tensor dev = device_empty(DType::F16, n);
  const Tensor raw = w.raw(name);
  if (w.shape(name) != shape)
    fail("{}: tensor {}{} has shape {}, expected {}", w.path(), w.prefix(), name,
         Shape(std::span<const int64_t>(w.shape(name))).str(), Shape(std::span<const int64_t>(shape)).str());
  if (raw.dtype() == DType::F16 && !w.scale(name)) {
    cuda::copy_to_device(dev.data(), raw.data(), raw.nbytes());
    return dev;
  }
  const auto f = w.f32(name, shape);
  std::vector<uint16_t> h(f.size());
  convert(f.data(), DType::F32, h.data(), DType::F16, f.size());
  cuda::copy_to_device(dev.data(), h.data(), h.size() * sizeof(uint16_t));
  return dev;
}

Tensor upload_f32(const EncoderWeights& w, const std::string& name, int64_t n) {
  const auto f = w.f32(name, {n});
  Tensor dev = device_empty(DType::F32, n);
  cuda::copy_to_device(dev.data(), f.data(), f.size() * sizeof(float));
  return dev;
}

struct Layer {
  Tensor q, k, v, o, gate, up, down;  // fp16 [out, in] (PyTorch Linear layout)
  Tensor norm1, norm2;                // f32 [hidden]
};

}  // namespace

struct LlamaTextEncoderCuda::Impl {
  LlamaTextConfig c;
  const LlamaTextEncoder* host = nullptr;  // for the token embedding rows (gathered on the host)
  int64_t skip = 2;
  std::vector<Layer> layers;
  Tensor final_norm;  // f32 [hidden], skip == 0 only
  mutable cuda::MatmulRunner gemm;
};

LlamaTextEncoderCuda::LlamaTextEncoderCuda() : impl_(std::make_unique<Impl>()) {}
LlamaTextEncoderCuda::~LlamaTextEncoderCuda() = default;

std::unique_ptr<LlamaTextEncoderCuda> LlamaTextEncoderCuda::upload(const LlamaTextEncoder& e, int64_t skip) {
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
  for (const char* b : {"q_proj", "k_proj", "v_proj", "o_proj"})
    if (w.has(std::string("layers.0.self_attn.") + b + ".bias"))
      fail("{}: attention biases are not supported by the CUDA path; use --device cpu", w.path());
  I.layers.resize(static_cast<size_t>(c.layers - skip));
  for (int64_t l = 0; l < c.layers - skip; ++l) {
    Layer& L = I.layers[static_cast<size_t>(l)];
    const std::string p = "layers." + std::to_string(l) + ".";
    L.q = upload_f16(w, p + "self_attn.q_proj.weight", {H * hd, D});
    L.k = upload_f16(w, p + "self_attn.k_proj.weight", {KV * hd, D});
    L.v = upload_f16(w, p + "self_attn.v_proj.weight", {KV * hd, D});
    L.o = upload_f16(w, p + "self_attn.o_proj.weight", {D, H * hd});
    L.gate = upload_f16(w, p + "mlp.gate_proj.weight", {F, D});
    L.up = upload_f16(w, p + "mlp.up_proj.weight", {F, D});
    L.down = upload_f16(w, p + "mlp.down_proj.weight", {D, F});
    L.norm1 = upload_f32(w, p + "input_layernorm.weight", D);
    L.norm2 = upload_f32(w, p + "post_attention_layernorm.weight", D);
  }
  if (skip == 0) I.final_norm = upload_f32(w, "norm.weight", D);
  return m;
}

size_t LlamaTextEncoderCuda::weight_bytes() const {
  size_t n = impl_->final_norm.numel() > 0 ? impl_->final_norm.nbytes() : 0;
  for (const auto& l : impl_->layers)
    for (const Tensor* t : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down, &l.norm1, &l.norm2}) n += t->nbytes();
  return n;
}

Tensor LlamaTextEncoderCuda::encode(std::span<const int64_t> ids, std::span<const int64_t> mask) const {
  if (ids.empty()) fail("encode-text: no tokens");
  if (mask.size() != ids.size()) fail("encode-text: ids has {} tokens but mask has {}", ids.size(), mask.size());
  // Embedding rows gathered on the host (checks the ids), positions 0 .. L-1.
  Tensor x0 = Tensor::empty(DType::F32, {static_cast<int64_t>(ids.size()), impl_->c.hidden});
  impl_->host->weights().gather_rows("embed_tokens.weight", ids, impl_->c.hidden, x0.data_as<float>());
  std::vector<int64_t> pos(ids.size());
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int64_t>(i);
  return encode_embeddings(x0, pos, mask);
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
  std::vector<uint8_t> key_mask(static_cast<size_t>(L));
  for (int64_t i = 0; i < L; ++i) {
    if (mask[i] != 0 && mask[i] != 1) fail("encode-text: mask[{}] = {}; the mask holds 0 or 1", i, mask[i]);
    key_mask[i] = static_cast<uint8_t>(mask[i]);
  }
  const int64_t D = c.hidden, H = c.heads, KV = c.kv_heads, hd = c.head_dim, F = c.ffn, G = H / KV;

  // Host: the RoPE tables at the rows' positions (as the CPU encoder computes them).
  const float* x0 = embeds.data_as<float>();
  const auto inv = llama_inv_freq(hd, c.rope_theta, c.fp16_inv_freq);
  std::vector<float> ct(static_cast<size_t>(L * hd / 2)), st(ct.size());
  for (int64_t p = 0; p < L; ++p)
    for (int64_t j = 0; j < hd / 2; ++j) {
      const float a = static_cast<float>(positions[p]) * inv[j];
      ct[p * hd / 2 + j] = std::cos(a);
      st[p * hd / 2 + j] = std::sin(a);
    }

  Tensor x = device_empty(DType::F32, L * D), h = device_empty(DType::F32, L * D);
  Tensor q = device_empty(DType::F32, L * H * hd), k = device_empty(DType::F32, L * KV * hd),
         v = device_empty(DType::F32, L * KV * hd), o = device_empty(DType::F32, L * H * hd);
  Tensor g = device_empty(DType::F32, L * F), u = device_empty(DType::F32, L * F);
  Tensor s = device_empty(DType::F32, L * L), wbuf = device_empty(DType::F32, std::max(F * D, H * hd * D));
  Tensor cos_d = device_empty(DType::F32, L * hd / 2), sin_d = device_empty(DType::F32, L * hd / 2);
  Tensor km = device_empty(DType::U8, L);
  cuda::copy_to_device(x.data(), x0, static_cast<size_t>(L * D) * sizeof(float));
  cuda::copy_to_device(cos_d.data(), ct.data(), ct.size() * sizeof(float));
  cuda::copy_to_device(sin_d.data(), st.data(), st.size() * sizeof(float));
  cuda::copy_to_device(km.data(), key_mask.data(), key_mask.size());

  float* W = wbuf.data_as<float>();
  // out[L, n] (row stride ldd) = in[L, kdim] W^T (+= when accumulate), W widened from fp16.
  const auto linear = [&](const float* in, const Tensor& w16, int64_t n, int64_t kdim, float* out, bool accumulate) {
    cuda::f16_to_f32(w16.data(), W, n * kdim);
    cuda::MatmulArgs a;
    a.m = L, a.n = n, a.k = kdim;
    a.a = in, a.lda = kdim;
    a.b = W, a.ldb = kdim, a.b_nk = true;
    a.d = out, a.ldd = n;
    a.accumulate = accumulate;
    a.ab_f32 = true;
    I.gemm.run(a);
  };
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  for (const Layer& l : I.layers) {
    cuda::rms_norm_f32(x.data_as<float>(), l.norm1.data_as<float>(), h.data(), true, L, D, c.rms_eps);
    linear(h.data_as<float>(), l.q, H * hd, D, q.data_as<float>(), false);
    linear(h.data_as<float>(), l.k, KV * hd, D, k.data_as<float>(), false);
    linear(h.data_as<float>(), l.v, KV * hd, D, v.data_as<float>(), false);
    cuda::rope_rotate_half(q.data_as<float>(), cos_d.data_as<float>(), sin_d.data_as<float>(), L, H, hd);
    cuda::rope_rotate_half(k.data_as<float>(), cos_d.data_as<float>(), sin_d.data_as<float>(), L, KV, hd);
    for (int64_t hh = 0; hh < H; ++hh) {
      cuda::MatmulArgs sc;  // s = q_h k_g^T
      sc.m = L, sc.n = L, sc.k = hd;
      sc.a = q.data_as<float>() + hh * hd, sc.lda = H * hd;
      sc.b = k.data_as<float>() + (hh / G) * hd, sc.ldb = KV * hd, sc.b_nk = true;
      sc.d = s.data(), sc.ldd = L;
      sc.ab_f32 = true;
      I.gemm.run(sc);
      cuda::softmax_causal_masked(s.data_as<float>(), km.data_as<uint8_t>(), L, scale);
      cuda::MatmulArgs pv;  // o_h = p v_g
      pv.m = L, pv.n = hd, pv.k = L;
      pv.a = s.data(), pv.lda = L;
      pv.b = v.data_as<float>() + (hh / G) * hd, pv.ldb = KV * hd, pv.b_nk = false;
      pv.d = o.data_as<float>() + hh * hd, pv.ldd = H * hd;
      pv.ab_f32 = true;
      I.gemm.run(pv);
    }
    linear(o.data_as<float>(), l.o, D, H * hd, x.data_as<float>(), true);  // residual add
    cuda::rms_norm_f32(x.data_as<float>(), l.norm2.data_as<float>(), h.data(), true, L, D, c.rms_eps);
    linear(h.data_as<float>(), l.gate, F, D, g.data_as<float>(), false);
    linear(h.data_as<float>(), l.up, F, D, u.data_as<float>(), false);
    cuda::silu_mul(g.data_as<float>(), u.data_as<float>(), L * F);
    linear(g.data_as<float>(), l.down, D, F, x.data_as<float>(), true);  // residual add
  }
  if (I.skip == 0) {
    cuda::rms_norm_f32(x.data_as<float>(), I.final_norm.data_as<float>(), h.data(), true, L, D, c.rms_eps);
    std::swap(x, h);
  }
  Tensor out = Tensor::empty(DType::F32, {L, D});
  cuda::synchronize();
  cuda::copy_to_host(out.data(), x.data(), static_cast<size_t>(L * D) * sizeof(float));
  for (int64_t i = 0; i < L * D; ++i)
    if (!std::isfinite(out.data_as<float>()[i])) fail("the CUDA LLM text encoder produced NaN or inf (bad weights?)");
  return out;
}

}  // namespace jenga::hunyuan
