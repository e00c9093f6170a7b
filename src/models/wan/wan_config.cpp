#include "models/wan/wan_config.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/safetensors.h"

namespace jenga::wan {

std::string_view layout_name(Layout l) {
  switch (l) {
    case Layout::Official: return "official";
    case Layout::Diffusers: return "diffusers";
    case Layout::ComfyUI: return "comfyui";
  }
  return "?";
}

WanConfig WanConfig::wan_1_3b() { return WanConfig{}; }

WanConfig WanConfig::wan_14b() {
  WanConfig c;
  c.dim = 5120;
  c.ffn_dim = 13824;
  c.num_heads = 40;
  c.num_layers = 40;
  return c;
}

WanConfig WanConfig::tiny() {
  WanConfig c;
  c.dim = 128;
  c.ffn_dim = 256;
  c.num_heads = 4;
  c.num_layers = 2;
  c.text_dim = 64;
  return c;
}

std::string WanConfig::size_name() const {
  const WanConfig a = wan_1_3b(), b = wan_14b();
  if (dim == a.dim && num_layers == a.num_layers && ffn_dim == a.ffn_dim) return "1.3B";
  if (dim == b.dim && num_layers == b.num_layers && ffn_dim == b.ffn_dim) return "14B";
  return "custom";
}

int64_t WanConfig::parameter_count() const {
  int64_t n = 0;
  for (const auto& [name, shape] : official_tensors(*this)) {
    int64_t k = 1;
    for (int64_t d : shape) k *= d;
    n += k;
  }
  return n;
}

nlohmann::json WanConfig::to_json() const {
  return {{"_class_name", "WanModel"}, {"_diffusers_version", "0.30.0"},
          {"model_type", model_type},  {"patch_size", {patch[0], patch[1], patch[2]}},
          {"text_len", text_len},      {"in_dim", in_dim},
          {"dim", dim},                {"ffn_dim", ffn_dim},
          {"freq_dim", freq_dim},      {"text_dim", text_dim},
          {"out_dim", out_dim},        {"num_heads", num_heads},
          {"num_layers", num_layers},  {"window_size", {-1, -1}},
          {"qk_norm", true},           {"cross_attn_norm", true},
          {"eps", eps}};
}

WanConfig WanConfig::from_json(const nlohmann::json& j) {
  WanConfig c;
  auto get = [&](const char* key, int64_t& dst) {
    if (!j.contains(key)) return;
    if (!j[key].is_number_integer()) fail("config.json: '{}' must be an integer", key);
    dst = j[key].get<int64_t>();
  };
  if (!j.is_object()) fail("config.json is not a JSON object");
  if (j.contains("model_type") && j["model_type"].is_string()) c.model_type = j["model_type"].get<std::string>();
  get("dim", c.dim);
  get("ffn_dim", c.ffn_dim);
  get("freq_dim", c.freq_dim);
  get("num_heads", c.num_heads);
  get("num_layers", c.num_layers);
  get("in_dim", c.in_dim);
  get("out_dim", c.out_dim);
  get("text_dim", c.text_dim);
  get("text_len", c.text_len);
  if (j.contains("eps") && j["eps"].is_number()) c.eps = j["eps"].get<double>();
  // WanModel's switches that change the math but leave no trace in the weights' shapes: every
  // released DiT has them on / off as we compute; another value is named, not run differently.
  for (const char* key : {"qk_norm", "cross_attn_norm"})
    if (j.contains(key) && j[key].is_boolean() && !j[key].get<bool>())
      fail("config.json: '{}': false is not supported (every released Wan2.1 DiT has it true)", key);
  if (j.contains("window_size") && j["window_size"] != nlohmann::json::array({-1, -1}))
    fail("config.json: 'window_size' {} (local attention) is not supported; released Wan2.1 DiTs use [-1, -1]",
         j["window_size"].dump());
  if (j.contains("patch_size")) {
    const auto& p = j["patch_size"];
    if (!p.is_array() || p.size() != 3) fail("config.json: 'patch_size' must be a list of 3 integers");
    for (int i = 0; i < 3; ++i) c.patch[i] = p[i].get<int64_t>();
  }
  c.validate();
  return c;
}

void WanConfig::validate() const {
  if (dim <= 0 || num_heads <= 0 || dim % num_heads != 0)
    fail("Wan config: dim {} is not a positive multiple of num_heads {}", dim, num_heads);
  if (head_dim() % 2 != 0) fail("Wan config: head dim {} must be even for RoPE", head_dim());
  if (ffn_dim <= 0 || num_layers <= 0 || freq_dim <= 0 || freq_dim % 2 != 0 || text_dim <= 0 ||
      text_len <= 0 || in_dim <= 0 || out_dim <= 0)
    fail("Wan config: a dimension is zero, negative or odd where it must be even");
  for (int64_t p : patch)
    if (p <= 0) fail("Wan config: patch size entries must be positive");
  if (model_type != "t2v" && model_type != "i2v" && model_type != "flf2v")
    fail("Wan config: unknown model_type '{}'", model_type);
}

std::vector<std::pair<std::string, std::vector<int64_t>>> official_tensors(const WanConfig& c) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> t;
  const int64_t d = c.dim;
  auto linear = [&](const std::string& name, int64_t out, int64_t in) {
    t.push_back({name + ".weight", {out, in}});
    t.push_back({name + ".bias", {out}});
  };
  t.push_back({"patch_embedding.weight", {d, c.in_dim, c.patch[0], c.patch[1], c.patch[2]}});
  t.push_back({"patch_embedding.bias", {d}});
  linear("text_embedding.0", d, c.text_dim);
  linear("text_embedding.2", d, d);
  linear("time_embedding.0", d, c.freq_dim);
  linear("time_embedding.2", d, d);
  linear("time_projection.1", 6 * d, d);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    t.push_back({b + "modulation", {1, 6, d}});
    for (const char* attn : {"self_attn", "cross_attn"}) {
      for (const char* p : {"q", "k", "v", "o"}) linear(b + attn + "." + p, d, d);
      t.push_back({b + attn + ".norm_q.weight", {d}});
      t.push_back({b + attn + ".norm_k.weight", {d}});
    }
    if (c.model_type != "t2v") {
      linear(b + "cross_attn.k_img", d, d);
      linear(b + "cross_attn.v_img", d, d);
      t.push_back({b + "cross_attn.norm_k_img.weight", {d}});
    }
    t.push_back({b + "norm3.weight", {d}});
    t.push_back({b + "norm3.bias", {d}});
    linear(b + "ffn.0", c.ffn_dim, d);
    linear(b + "ffn.2", d, c.ffn_dim);
  }
  t.push_back({"head.modulation", {1, 2, d}});
  linear("head.head", c.out_dim * c.patch[0] * c.patch[1] * c.patch[2], d);
  if (c.model_type != "t2v") {
    t.push_back({"img_emb.proj.0.weight", {1280}});
    t.push_back({"img_emb.proj.0.bias", {1280}});
    linear("img_emb.proj.1", 1280, 1280);
    linear("img_emb.proj.3", d, 1280);
    t.push_back({"img_emb.proj.4.weight", {d}});
    t.push_back({"img_emb.proj.4.bias", {d}});
  }
  return t;
}

std::optional<Layout> detect_layout(const Checkpoint& ckpt) {
  if (ckpt.contains("model.diffusion_model.patch_embedding.weight")) return Layout::ComfyUI;
  if (!ckpt.contains("patch_embedding.weight")) return std::nullopt;
  if (ckpt.contains("blocks.0.self_attn.q.weight")) return Layout::Official;
  if (ckpt.contains("blocks.0.attn1.to_q.weight")) return Layout::Diffusers;
  return std::nullopt;
}

namespace {
// A diffusers transformer config.json (WanTransformer3DModel): only what the shapes cannot tell.
WanConfig from_diffusers_json(const nlohmann::json& j) {
  WanConfig c;
  const auto& h = j["num_attention_heads"];
  if (!h.is_number_integer() || h.get<int64_t>() <= 0)
    fail("config.json: 'num_attention_heads' must be a positive integer");
  c.num_heads = h.get<int64_t>();
  if (j.contains("eps") && j["eps"].is_number()) c.eps = j["eps"].get<double>();
  if (j.contains("qk_norm") && j["qk_norm"] != "rms_norm_across_heads")
    fail("config.json: 'qk_norm' {} is not supported (released Wan2.1 DiTs use \"rms_norm_across_heads\")",
         j["qk_norm"].dump());
  if (j.contains("cross_attn_norm") && j["cross_attn_norm"].is_boolean() && !j["cross_attn_norm"].get<bool>())
    fail("config.json: 'cross_attn_norm': false is not supported (every released Wan2.1 DiT has it true)");
  return c;
}
bool is_diffusers_json(const nlohmann::json& j) {
  return j.is_object() && j.contains("num_attention_heads");
}
bool has_heads(const nlohmann::json* j) {
  return j && (j->contains("num_heads") || j->contains("num_attention_heads"));
}
}  // namespace

WanConfig detect_config(const Checkpoint& ckpt, Layout layout, const nlohmann::json* config_json) {
  WanConfig c = !config_json                     ? WanConfig{}
                : is_diffusers_json(*config_json) ? from_diffusers_json(*config_json)
                                                  : WanConfig::from_json(*config_json);
  const std::string pre = layout == Layout::ComfyUI ? "model.diffusion_model." : "";
  const auto& pe = ckpt.info(pre + "patch_embedding.weight").shape;
  if (pe.size() != 5) fail("{}: patch_embedding.weight should have 5 dims, has {}", ckpt.path(), pe.size());
  c.dim = pe[0];
  c.in_dim = pe[1];
  c.patch[0] = pe[2];
  c.patch[1] = pe[3];
  c.patch[2] = pe[4];
  const bool diff = layout == Layout::Diffusers;
  int64_t layers = 0;  // 1 + the largest N of any "blocks.N." tensor
  const std::string bp = pre + "blocks.";
  for (const auto& n : ckpt.names()) {
    if (n.compare(0, bp.size(), bp) != 0) continue;
    int64_t i = 0;
    size_t p = bp.size();
    while (p < n.size() && n[p] >= '0' && n[p] <= '9' && i < 1000000) i = i * 10 + (n[p++] - '0');
    if (p > bp.size() && p < n.size() && n[p] == '.') layers = std::max(layers, i + 1);
  }
  if (layers == 0) fail("{}: no transformer blocks found (blocks.0.*); the checkpoint is incomplete", ckpt.path());
  c.num_layers = layers;
  // A 2-D linear weight [out, in], by official or diffusers name.
  auto matrix = [&](const char* official, const char* diffusers) {
    const std::string name = pre + (diff ? diffusers : official);
    if (!ckpt.contains(name))
      fail("{}: tensor '{}' is missing; the checkpoint is incomplete", ckpt.path(), name);
    const auto& s = ckpt.info(name).shape;
    if (s.size() != 2 || s[0] <= 0 || s[1] <= 0)
      fail("{}: tensor '{}' should be a 2-D linear weight, has {} dims", ckpt.path(), name, s.size());
    return s;
  };
  c.ffn_dim = matrix("blocks.0.ffn.0.weight", "blocks.0.ffn.net.0.proj.weight")[0];
  c.text_dim = matrix("text_embedding.0.weight", "condition_embedder.text_embedder.linear_1.weight")[1];
  c.freq_dim = matrix("time_embedding.0.weight", "condition_embedder.time_embedder.linear_1.weight")[1];
  c.out_dim = matrix("head.head.weight", "proj_out.weight")[0] / (c.patch[0] * c.patch[1] * c.patch[2]);
  const bool i2v = ckpt.contains(pre + (diff ? "blocks.0.attn2.add_k_proj.weight" : "blocks.0.cross_attn.k_img.weight"));
  c.model_type = i2v ? "i2v" : "t2v";
  if (!has_heads(config_json)) {
    if (c.dim % 128 != 0)
      fail("{}: cannot tell the head count (dim {} is no multiple of 128); put a config.json "
           "with \"num_heads\" next to the weights", ckpt.path(), c.dim);
    c.num_heads = c.dim / 128;  // every published Wan2.1 DiT uses head dim 128
  }
  c.validate();
  return c;
}

}  // namespace jenga::wan
