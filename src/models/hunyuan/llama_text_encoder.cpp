#include "models/hunyuan/llama_text_encoder.h"

#include <cmath>
#include <limits>

#include "backend/cpu/gemm.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/ops_t5vae.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "models/hunyuan/clip_text_encoder.h"

namespace jenga::hunyuan {

namespace {
const char* const kAnchor = "embed_tokens.weight";
const char* const kAlso = "layers.0.self_attn.q_proj.weight";

int64_t json_int(const nlohmann::json& j, const char* key, int64_t dflt) {
  return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<int64_t>() : dflt;
}
double json_num(const nlohmann::json& j, const char* key, double dflt) {
  return j.is_object() && j.contains(key) && j[key].is_number() ? j[key].get<double>() : dflt;
}
}  // namespace

bool looks_like_llama_encoder(const Checkpoint& c) { return EncoderWeights::find_prefix(c, kAnchor, kAlso).has_value(); }

std::vector<float> llama_inv_freq(int64_t head_dim, double theta, bool fp16) {
  std::vector<float> f(static_cast<size_t>(head_dim / 2));
  for (int64_t j = 0; j < head_dim / 2; ++j) {
    // torch: 1.0 / (base ** (arange(0, dim, 2).float() / dim)) in f32.
    const float e = static_cast<float>(2 * j) / static_cast<float>(head_dim);
    const float p = static_cast<float>(std::pow(static_cast<double>(static_cast<float>(theta)), static_cast<double>(e)));
    float v = 1.0f / p;
    if (fp16) v = f16_to_f32(f32_to_f16(v));
    f[static_cast<size_t>(j)] = v;
  }
  return f;
}

LlamaTextEncoder LlamaTextEncoder::open(const std::string& path) {
  auto ckpt = open_encoder_checkpoint(path);
  auto w = EncoderWeights::find(ckpt, kAnchor, kAlso);
  if (!w) {
    const char* what = looks_like_clip_text_encoder(*ckpt) ? " (it looks like a CLIP text encoder)" : "";
    fail("{} is not a Llama text encoder{}: expected embed_tokens.weight and layers.0.self_attn.q_proj.weight "
         "(official text_encoder/, diffusers text_encoder/, ComfyUI llava_llama3_*.safetensors)", path, what);
  }
  LlamaTextEncoder e;
  e.w_ = std::move(*w);
  std::string field;  // "text_config." inside a LLaVA config
  const auto cfg = encoder_config_json(path, &field);
  LlamaTextConfig& k = e.cfg_;
  const auto emb = e.w_.shape("embed_tokens.weight");
  const auto q = e.w_.shape("layers.0.self_attn.q_proj.weight");
  const auto kv = e.w_.shape("layers.0.self_attn.k_proj.weight");
  const auto gate = e.w_.shape("layers.0.mlp.gate_proj.weight");
  if (emb.size() != 2 || q.size() != 2 || kv.size() != 2 || gate.size() != 2)
    fail("{}: embedding/q/k/gate weights are not matrices", path);
  k.vocab = emb[0], k.hidden = emb[1], k.ffn = gate[0];
  while (e.w_.has("layers." + std::to_string(k.layers) + ".self_attn.q_proj.weight")) ++k.layers;
  if (!cfg.is_null()) {
    if (cfg.contains("rope_scaling") && !cfg["rope_scaling"].is_null())
      fail("{}: config.json sets rope_scaling, which this encoder does not implement (llava-llama-3-8b has none)", path);
    const int64_t heads = json_int(cfg, "num_attention_heads", 0);
    k.head_dim = json_int(cfg, "head_dim", heads > 0 ? k.hidden / heads : 0);
    k.rms_eps = static_cast<float>(json_num(cfg, "rms_norm_eps", 1e-5));
    k.rope_theta = json_num(cfg, "rope_theta", 500000.0);
    if (!(k.rms_eps > 0 && k.rms_eps < 1) || !(k.rope_theta > 0))
      fail("{}: config.json has rms_norm_eps {} / rope_theta {}; both must be positive (Llama-3: 1e-5, 500000); the "
           "file is damaged, download it again", path, k.rms_eps, k.rope_theta);
    const int64_t layers = json_int(cfg, "num_hidden_layers", k.layers);
    if (layers != k.layers) fail("{}: config.json has {} layers but the weights have {}", path, layers, k.layers);
    // transformers refuses weights of other shapes than the config's.
    const int64_t hidden = json_int(cfg, "hidden_size", k.hidden), ffn = json_int(cfg, "intermediate_size", k.ffn);
    const int64_t vocab = json_int(cfg, "vocab_size", k.vocab);
    if (hidden != k.hidden)
      fail("{}: config.json's {}hidden_size is {} but the weights are {} wide (embed_tokens.weight)", path, field, hidden, k.hidden);
    if (ffn != k.ffn)
      fail("{}: config.json's {}intermediate_size is {} but the weights hold {} (mlp.gate_proj)", path, field, ffn, k.ffn);
    if (vocab != k.vocab)
      fail("{}: config.json's {}vocab_size is {} but the weights hold {} embedding rows", path, field, vocab, k.vocab);
    const std::string act = cfg.value("hidden_act", std::string("silu"));
    if (act != "silu") fail("{}: hidden_act '{}' is not supported (Llama uses silu)", path, act);
  } else {  // a single file (ComfyUI): Llama-3's head size, eps and theta
    if (q[0] % 128 || kv[0] % 128)
      fail("{}: no config.json beside it, and its q/k projections ({} / {} rows) are not Llama-3's 128-wide heads; "
           "put the model's config.json in a folder with it (named model.safetensors)", path, q[0], kv[0]);
    k.head_dim = 128;
  }
  if (k.head_dim <= 0 || k.head_dim % 2 || q[0] % k.head_dim || kv[0] % k.head_dim)
    fail("{}: head_dim {} does not divide the q/k projections ({} / {} rows)", path, k.head_dim, q[0], kv[0]);
  k.heads = q[0] / k.head_dim, k.kv_heads = kv[0] / k.head_dim;
  if (k.heads % k.kv_heads) fail("{}: {} query heads are not a multiple of {} key/value heads", path, k.heads, k.kv_heads);
  return e;
}

Tensor LlamaTextEncoder::embed(std::span<const int64_t> ids) const {
  Tensor out = Tensor::empty(DType::F32, {static_cast<int64_t>(ids.size()), cfg_.hidden});
  w_.gather_rows("embed_tokens.weight", ids, cfg_.hidden, out.data_as<float>());
  return out;
}

Tensor LlamaTextEncoder::encode(std::span<const int64_t> ids, std::span<const int64_t> mask, int64_t skip) const {
  if (ids.empty()) fail("encode-text: no tokens");
  std::vector<int64_t> pos(ids.size());
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int64_t>(i);
  if (mask.size() != ids.size()) fail("encode-text: ids has {} tokens but mask has {}", ids.size(), mask.size());
  return encode_embeddings(embed(ids), pos, mask, skip);
}

Tensor LlamaTextEncoder::encode_embeddings(Tensor out, std::span<const int64_t> positions, std::span<const int64_t> mask,
                                           int64_t skip) const {
  const LlamaTextConfig& k = cfg_;
  const int64_t L = out.ndim() == 2 ? out.dim(0) : 0;
  if (L == 0) fail("encode-text: no tokens");
  if (out.dtype() != DType::F32 || out.dim(1) != k.hidden)
    fail("encode-text: input embeddings are {} {}, expected f32 [L, {}]", dtype_name(out.dtype()), out.shape().str(), k.hidden);
  if (mask.size() != static_cast<size_t>(L) || positions.size() != static_cast<size_t>(L))
    fail("encode-text: {} embedding rows but {} mask entries and {} positions", L, mask.size(), positions.size());
  for (size_t i = 0; i < mask.size(); ++i)
    if (mask[i] != 0 && mask[i] != 1) fail("encode-text: mask[{}] = {}; the mask holds 0 or 1", i, mask[i]);
  if (skip < 0 || skip > k.layers) fail("encode-text: cannot skip {} of {} layers", skip, k.layers);

  const int64_t D = k.hidden, H = k.heads, KV = k.kv_heads, hd = k.head_dim, F = k.ffn, G = H / KV;
  float* x = out.data_as<float>();

  // Causal mask as an additive bias; padded keys through key_mask (transformers' 4-D mask).
  std::vector<float> causal(static_cast<size_t>(L * L), 0.0f);
  for (int64_t i = 0; i < L; ++i)
    for (int64_t j = i + 1; j < L; ++j) causal[i * L + j] = -std::numeric_limits<float>::infinity();
  std::vector<uint8_t> key_mask(static_cast<size_t>(L));
  for (int64_t i = 0; i < L; ++i) key_mask[i] = mask[i] != 0;
  const auto inv_freq = llama_inv_freq(hd, k.rope_theta, k.fp16_inv_freq);
  std::vector<float> cos_t(static_cast<size_t>(L * hd / 2)), sin_t(cos_t.size());
  for (int64_t p = 0; p < L; ++p)
    for (int64_t j = 0; j < hd / 2; ++j) {
      const float a = static_cast<float>(positions[p]) * inv_freq[j];  // f32 product, as torch's matmul
      cos_t[p * hd / 2 + j] = std::cos(a);
      sin_t[p * hd / 2 + j] = std::sin(a);
    }
  const auto rope = [&](float* t, int64_t heads) {  // t: [L, heads, hd], rotate-half convention
    for (int64_t p = 0; p < L; ++p)
      for (int64_t h = 0; h < heads; ++h) {
        float* v = t + (p * heads + h) * hd;
        for (int64_t j = 0; j < hd / 2; ++j) {
          const float c = cos_t[p * hd / 2 + j], s = sin_t[p * hd / 2 + j];
          const float a = v[j], b = v[j + hd / 2];
          v[j] = a * c - b * s;
          v[j + hd / 2] = b * c + a * s;
        }
      }
  };
  const auto bias_of = [&](const std::string& name, int64_t n) {
    return w_.has(name) ? w_.f32(name, {n}) : std::vector<float>();
  };
  const auto ptr = [](const std::vector<float>& v) { return v.empty() ? nullptr : v.data(); };

  std::vector<float> h(static_cast<size_t>(L * D)), q(static_cast<size_t>(L * H * hd)), kk(static_cast<size_t>(L * KV * hd)),
      vv(kk.size()), o(q.size()), y(h.size()), g(static_cast<size_t>(L * F)), u(g.size());
  const int64_t run = k.layers - skip;
  for (int64_t l = 0; l < run; ++l) {
    check_interrupt();  // Ctrl-C between layers (an 8B layer is seconds on the CPU)
    const std::string p = "layers." + std::to_string(l) + ".";
    const auto n1 = w_.f32(p + "input_layernorm.weight", {D});
    cpu::rms_norm(x, h.data(), L, D, n1.data(), k.rms_eps);
    {
      const auto wq = w_.f32(p + "self_attn.q_proj.weight", {H * hd, D});
      const auto bq = bias_of(p + "self_attn.q_proj.bias", H * hd);
      cpu::linear(h.data(), wq.data(), ptr(bq), q.data(), L, H * hd, D);
    }
    {
      const auto wk = w_.f32(p + "self_attn.k_proj.weight", {KV * hd, D});
      const auto bk = bias_of(p + "self_attn.k_proj.bias", KV * hd);
      cpu::linear(h.data(), wk.data(), ptr(bk), kk.data(), L, KV * hd, D);
      const auto wv = w_.f32(p + "self_attn.v_proj.weight", {KV * hd, D});
      const auto bv = bias_of(p + "self_attn.v_proj.bias", KV * hd);
      cpu::linear(h.data(), wv.data(), ptr(bv), vv.data(), L, KV * hd, D);
    }
    rope(q.data(), H);
    rope(kk.data(), KV);
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    for (int64_t hh = 0; hh < H; ++hh)
      cpu::attention_gemm(q.data() + hh * hd, H * hd, kk.data() + (hh / G) * hd, KV * hd, vv.data() + (hh / G) * hd,
                          KV * hd, o.data() + hh * hd, H * hd, L, L, hd, scale, causal.data(), key_mask.data());
    {
      const auto wo = w_.f32(p + "self_attn.o_proj.weight", {D, H * hd});
      const auto bo = bias_of(p + "self_attn.o_proj.bias", D);
      cpu::linear(o.data(), wo.data(), ptr(bo), y.data(), L, D, H * hd);
    }
    for (int64_t i = 0; i < L * D; ++i) x[i] += y[i];

    const auto n2 = w_.f32(p + "post_attention_layernorm.weight", {D});
    cpu::rms_norm(x, h.data(), L, D, n2.data(), k.rms_eps);
    {
      const auto wg = w_.f32(p + "mlp.gate_proj.weight", {F, D});
      cpu::linear(h.data(), wg.data(), nullptr, g.data(), L, F, D);
    }
    {
      const auto wu = w_.f32(p + "mlp.up_proj.weight", {F, D});
      cpu::linear(h.data(), wu.data(), nullptr, u.data(), L, F, D);
    }
    cpu::silu(g.data(), L * F);
    for (int64_t i = 0; i < L * F; ++i) g[i] *= u[i];
    {
      const auto wd = w_.f32(p + "mlp.down_proj.weight", {D, F});
      cpu::linear(g.data(), wd.data(), nullptr, y.data(), L, D, F);
    }
    for (int64_t i = 0; i < L * D; ++i) x[i] += y[i];
  }
  if (skip == 0) {
    const auto nf = w_.f32("norm.weight", {D});
    cpu::rms_norm(x, x, L, D, nf.data(), k.rms_eps);
  }
  for (int64_t i = 0; i < L * D; ++i)
    if (!std::isfinite(x[i])) fail("{}: the LLM text encoder produced NaN or inf (bad weights?)", w_.path());
  return out;
}

}  // namespace jenga::hunyuan
