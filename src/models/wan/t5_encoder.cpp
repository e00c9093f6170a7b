#include "models/wan/t5_encoder.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "backend/cpu/gemm.h"
#include "backend/cpu/ops_t5vae.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "io/json_file.h"
#include "io/safetensors.h"

namespace jenga::wan {

int64_t t5_relative_bucket(int64_t rel, int64_t num_buckets, int64_t max_dist) {
  const int64_t nb = num_buckets / 2;  // per direction
  int64_t bucket = rel > 0 ? nb : 0;
  const int64_t n = rel < 0 ? -rel : rel;
  const int64_t max_exact = nb / 2;
  if (n < max_exact) return bucket + n;
  // f32 arithmetic as torch does it, truncated toward zero like .long().
  const float l = std::log(static_cast<float>(n) / static_cast<float>(max_exact)) /
                  static_cast<float>(std::log(static_cast<double>(max_dist) / max_exact)) *
                  static_cast<float>(nb - max_exact);
  return bucket + std::min<int64_t>(max_exact + static_cast<int64_t>(l), nb - 1);
}

namespace {

// Official key -> HF UMT5EncoderModel key (diffusers text_encoder/).
std::string diffusers_name(const std::string& k) {
  static const std::vector<std::pair<std::regex, std::string>> rules = {
      {std::regex(R"(^token_embedding\.weight$)"), "shared.weight"},
      {std::regex(R"(^norm\.weight$)"), "encoder.final_layer_norm.weight"},
      {std::regex(R"(^blocks\.(\d+)\.norm1\.weight$)"), "encoder.block.$1.layer.0.layer_norm.weight"},
      {std::regex(R"(^blocks\.(\d+)\.attn\.([qkvo])\.weight$)"), "encoder.block.$1.layer.0.SelfAttention.$2.weight"},
      {std::regex(R"(^blocks\.(\d+)\.pos_embedding\.embedding\.weight$)"),
       "encoder.block.$1.layer.0.SelfAttention.relative_attention_bias.weight"},
      {std::regex(R"(^blocks\.(\d+)\.norm2\.weight$)"), "encoder.block.$1.layer.1.layer_norm.weight"},
      {std::regex(R"(^blocks\.(\d+)\.ffn\.gate\.0\.weight$)"), "encoder.block.$1.layer.1.DenseReluDense.wi_0.weight"},
      {std::regex(R"(^blocks\.(\d+)\.ffn\.fc1\.weight$)"), "encoder.block.$1.layer.1.DenseReluDense.wi_1.weight"},
      {std::regex(R"(^blocks\.(\d+)\.ffn\.fc2\.weight$)"), "encoder.block.$1.layer.1.DenseReluDense.wo.weight"},
  };
  for (const auto& [re, fmt] : rules)
    if (std::regex_match(k, re)) return std::regex_replace(k, re, fmt);
  return k;
}

}  // namespace

bool looks_like_t5_encoder(const Checkpoint& c) {
  return c.contains("blocks.0.attn.q.weight") || c.contains("encoder.block.0.layer.0.SelfAttention.q.weight");
}

std::string T5Encoder::name(const std::string& official) const {
  if (layout_ == T5Layout::Official) return official;
  std::string n = diffusers_name(official);
  if (n == "shared.weight" && !ckpt_->contains(n)) n = "encoder.embed_tokens.weight";
  return n;
}

Tensor T5Encoder::weight(const std::string& official, std::vector<int64_t> shape) const {
  const std::string n = name(official);
  if (!ckpt_->contains(n)) fail("{}: tensor {} is missing; expected a umT5 encoder", ckpt_->path(), n);
  const auto& info = ckpt_->info(n);
  if (info.shape != shape)
    fail("{}: tensor {} has shape {}, expected {}", ckpt_->path(), n, Shape(std::span<const int64_t>(info.shape)).str(),
         Shape(std::span<const int64_t>(shape)).str());
  return ckpt_->load(n, std::nullopt);
}

std::vector<float> T5Encoder::load(const std::string& official, std::vector<int64_t> shape) const {
  return weight(official, std::move(shape)).to_f32_vector();
}

namespace {
// A diffusers text_encoder/ (HF UMT5EncoderModel) may say in its config.json what the shapes cannot:
// the relative-position max distance (official: 128, fixed) is read; a different activation or
// norm epsilon than the official encoder's is named, not computed as if it were the official one.
void apply_hf_config(const std::string& path, T5Config& k) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path cfg = fs::is_directory(path, ec) ? fs::path(path) / "config.json" : fs::path(path).parent_path() / "config.json";
  // The one JSON side-file reader (io/json_file.h): damage, a folder or a FIFO there is named.
  const auto cj = read_json_if_present(cfg.string());
  if (!cj) return;
  const nlohmann::json& j = *cj;
  if (!j.is_object()) fail("{}: not a JSON object; fix or delete it", cfg.string());
  if (j.contains("relative_attention_max_distance")) {
    const auto& d = j["relative_attention_max_distance"];
    if (!d.is_number_integer() || d.get<int64_t>() < 1)
      fail("{}: 'relative_attention_max_distance' must be a positive integer", cfg.string());
    k.max_dist = d.get<int64_t>();
  }
  if (j.contains("feed_forward_proj") && j["feed_forward_proj"] != "gated-gelu")
    fail("{}: 'feed_forward_proj' {} is not supported (umT5's is \"gated-gelu\")", cfg.string(), j["feed_forward_proj"].dump());
  if (j.contains("layer_norm_epsilon") && j["layer_norm_epsilon"].is_number() &&
      std::abs(j["layer_norm_epsilon"].get<double>() - 1e-6) > 1e-12)
    fail("{}: 'layer_norm_epsilon' {} is not supported (umT5's is 1e-06)", cfg.string(), j["layer_norm_epsilon"].dump());
}
}  // namespace

T5Encoder T5Encoder::open(const std::string& path) {
  T5Encoder e;
  e.ckpt_ = std::make_shared<Checkpoint>(Checkpoint::open(path));
  const Checkpoint& c = *e.ckpt_;
  if (c.contains("blocks.0.attn.q.weight")) {
    e.layout_ = T5Layout::Official;
  } else if (c.contains("encoder.block.0.layer.0.SelfAttention.q.weight")) {
    e.layout_ = T5Layout::Diffusers;
  } else {
    const char* what = (c.contains("decoder.conv1.weight") || c.contains("decoder.conv_in.weight")) ? " (it looks like a VAE)"
                       : c.contains("patch_embedding.weight") ? " (it looks like a DiT)" : "";
    fail("{} is not a umT5 text encoder{}: expected models_t5_umt5-xxl-enc weights (blocks.0.attn.q.weight) or a "
         "diffusers text_encoder/ (encoder.block.0.layer.0.SelfAttention.q.weight)",
         path, what);
  }
  // ComfyUI's "scaled" fp8 files need a per-tensor scale jenga does not apply yet.
  for (const auto& n : c.names())
    if (n == "scaled_fp8" || n.ends_with(".scale_weight"))
      fail("{} is a scaled-fp8 text encoder ({}), which jenga does not read yet; use the bf16/fp16 file", path, n);
  T5Config& k = e.cfg_;
  auto shape = [&](const std::string& official) {
    const std::string n = e.name(official);
    if (!c.contains(n)) fail("{}: tensor {} is missing; expected a umT5 encoder", path, n);
    return c.info(n).shape;
  };
  const auto emb = shape("token_embedding.weight");
  const auto q = shape("blocks.0.attn.q.weight");
  const auto fc1 = shape("blocks.0.ffn.fc1.weight");
  if (emb.size() != 2 || q.size() != 2 || fc1.size() != 2) fail("{}: embedding/q/fc1 weights are not matrices", path);
  k.vocab = emb[0], k.dim = emb[1], k.dim_attn = q[0], k.dim_ffn = fc1[0];
  if (c.contains(e.name("blocks.0.pos_embedding.embedding.weight"))) {
    const auto pos = shape("blocks.0.pos_embedding.embedding.weight");
    if (pos.size() != 2) fail("{}: relative position table is not [buckets, heads]", path);
    k.num_buckets = pos[0], k.heads = pos[1];
  } else if (c.contains("pos_embedding.embedding.weight")) {
    k.shared_pos = true;
    const auto& pos = c.info("pos_embedding.embedding.weight").shape;
    k.num_buckets = pos.at(0), k.heads = pos.at(1);
  } else {
    fail("{}: no relative position table (blocks.0.pos_embedding.embedding.weight)", path);
  }
  while (c.contains(e.name("blocks." + std::to_string(k.layers) + ".attn.q.weight"))) ++k.layers;
  if (e.layout_ == T5Layout::Diffusers) apply_hf_config(path, k);
  if (k.heads <= 0 || k.dim_attn % k.heads != 0 || k.num_buckets < 4)
    fail("{}: inconsistent config: dim_attn {} with {} heads, {} buckets", path, k.dim_attn, k.heads, k.num_buckets);
  return e;
}

int64_t t5_check_input(std::span<const int64_t> ids, std::span<const int64_t> mask, int64_t vocab, int64_t& valid) {
  if (ids.size() != mask.size()) fail("encode-text: ids has {} tokens but mask has {}", ids.size(), mask.size());
  int64_t last = -1;
  valid = 0;
  for (size_t i = 0; i < mask.size(); ++i) {
    if (mask[i] != 0 && mask[i] != 1) fail("encode-text: mask[{}] = {}; the mask holds 0 or 1", i, mask[i]);
    if (mask[i]) ++valid, last = static_cast<int64_t>(i);
  }
  const int64_t L = std::max(valid, last + 1);
  for (int64_t i = 0; i < L; ++i)
    if (ids[i] < 0 || ids[i] >= vocab) fail("encode-text: token id {} at position {} is outside the vocabulary [0, {})", ids[i], i, vocab);
  return L;
}

Tensor T5Encoder::encode(std::span<const int64_t> ids, std::span<const int64_t> mask) const {
  const T5Config& k = cfg_;
  int64_t valid = 0;
  const int64_t L = t5_check_input(ids, mask, k.vocab, valid);
  Tensor out = Tensor::empty(DType::F32, {valid, k.dim});
  if (valid == 0) return out;

  const int64_t D = k.dim, A = k.dim_attn, F = k.dim_ffn, H = k.heads, hd = k.head_dim();
  std::vector<float> x(static_cast<size_t>(L * D));
  {
    const Tensor emb = ckpt_->load(name("token_embedding.weight"), std::nullopt);
    const size_t es = dtype_size(emb.dtype());
    for (int64_t i = 0; i < L; ++i)
      convert(static_cast<const uint8_t*>(emb.data()) + static_cast<size_t>(ids[i] * D) * es, emb.dtype(),
              x.data() + i * D, DType::F32, static_cast<size_t>(D));
  }
  std::vector<uint8_t> key_mask(static_cast<size_t>(L));
  for (int64_t i = 0; i < L; ++i) key_mask[i] = mask[i] != 0;
  std::vector<int64_t> bucket(static_cast<size_t>(2 * L - 1));
  for (int64_t r = -(L - 1); r < L; ++r) bucket[r + L - 1] = t5_relative_bucket(r, k.num_buckets, k.max_dist);

  std::vector<float> h(x.size()), qkv(static_cast<size_t>(3 * L * A)), o(static_cast<size_t>(L * A)),
      bias(static_cast<size_t>(L * L)), g(static_cast<size_t>(L * F)), f(static_cast<size_t>(L * F)), y(x.size());
  std::vector<float> shared_pos;
  if (k.shared_pos) shared_pos = ckpt_->load("pos_embedding.embedding.weight", DType::F32).to_f32_vector();
  for (int64_t l = 0; l < k.layers; ++l) {
    check_interrupt();  // a layer of the XXL encoder is well under a second
    const std::string p = "blocks." + std::to_string(l) + ".";
    const auto norm1 = load(p + "norm1.weight", {D});
    cpu::t5_rms_norm(x.data(), L, D, norm1.data(), 1e-6f, h.data());
    for (int j = 0; j < 3; ++j) {
      const auto w = load(p + "attn." + "qkv"[j] + ".weight", {A, D});
      cpu::linear(h.data(), w.data(), nullptr, qkv.data() + j * L * A, L, A, D);
    }
    const auto pos = k.shared_pos ? shared_pos : load(p + "pos_embedding.embedding.weight", {k.num_buckets, H});
    for (int64_t hh = 0; hh < H; ++hh) {
      for (int64_t i = 0; i < L; ++i)
        for (int64_t j = 0; j < L; ++j) bias[i * L + j] = pos[bucket[j - i + L - 1] * H + hh];
      cpu::attention_gemm(qkv.data() + hh * hd, A, qkv.data() + L * A + hh * hd, A, qkv.data() + 2 * L * A + hh * hd, A,
                          o.data() + hh * hd, A, L, L, hd, 1.0f, bias.data(), key_mask.data());
    }
    const auto wo = load(p + "attn.o.weight", {D, A});
    cpu::linear(o.data(), wo.data(), nullptr, y.data(), L, D, A);
    for (size_t i = 0; i < x.size(); ++i) x[i] += y[i];

    const auto norm2 = load(p + "norm2.weight", {D});
    cpu::t5_rms_norm(x.data(), L, D, norm2.data(), 1e-6f, h.data());
    const auto wg = load(p + "ffn.gate.0.weight", {F, D});
    const auto w1 = load(p + "ffn.fc1.weight", {F, D});
    const auto w2 = load(p + "ffn.fc2.weight", {D, F});
    cpu::linear(h.data(), wg.data(), nullptr, g.data(), L, F, D);
    cpu::gelu_tanh_inplace(g.data(), L * F);
    cpu::linear(h.data(), w1.data(), nullptr, f.data(), L, F, D);
    for (size_t i = 0; i < f.size(); ++i) f[i] *= g[i];
    cpu::linear(f.data(), w2.data(), nullptr, y.data(), L, D, F);
    for (size_t i = 0; i < x.size(); ++i) x[i] += y[i];
  }
  const auto norm = load("norm.weight", {D});
  cpu::t5_rms_norm(x.data(), valid, D, norm.data(), 1e-6f, out.data_as<float>());
  for (float v : std::span<const float>(out.data_as<float>(), static_cast<size_t>(out.numel())))
    if (!std::isfinite(v)) fail("{}: the encoder produced NaN or inf (bad weights?)", ckpt_->path());
  return out;
}

}  // namespace jenga::wan
