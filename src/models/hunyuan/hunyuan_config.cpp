#include "models/hunyuan/hunyuan_config.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/safetensors.h"

namespace jenga::hunyuan {

std::string_view layout_name(Layout l) {
  switch (l) {
    case Layout::Official: return "official";
    case Layout::Diffusers: return "diffusers";
  }
  return "?";
}

HunyuanConfig HunyuanConfig::t2v_720p() { return HunyuanConfig{}; }

HunyuanConfig HunyuanConfig::tiny() {
  HunyuanConfig c;
  c.hidden = 64;
  c.heads = 2;  // head dim 32
  c.mlp_dim = 256;
  c.double_blocks = 2;
  c.single_blocks = 2;
  c.rope_dim[0] = 8, c.rope_dim[1] = 12, c.rope_dim[2] = 12;
  c.text_dim = 48;
  c.text_dim_2 = 40;
  c.refiner_mlp_dim = 256;
  return c;
}

std::string HunyuanConfig::variant_name() const {
  const HunyuanConfig p = t2v_720p();
  const bool published = hidden == p.hidden && heads == p.heads && mlp_dim == p.mlp_dim &&
                         double_blocks == p.double_blocks && single_blocks == p.single_blocks;
  if (!published) return is_i2v() ? "custom I2V" : "custom";
  return is_i2v() ? "I2V 13B" : "T2V 13B";
}

int64_t HunyuanConfig::parameter_count() const {
  int64_t n = 0;
  for (const auto& [name, shape] : official_tensors(*this)) {
    int64_t k = 1;
    for (int64_t d : shape) k *= d;
    n += k;
  }
  return n;
}

nlohmann::json HunyuanConfig::to_json() const {
  return {{"_class_name", "HYVideoDiffusionTransformer"},
          {"patch_size", {patch[0], patch[1], patch[2]}},
          {"in_channels", in_channels},
          {"out_channels", out_channels},
          {"hidden_size", hidden},
          {"heads_num", heads},
          {"mlp_width_ratio", static_cast<double>(mlp_dim) / static_cast<double>(hidden)},
          {"mlp_act_type", "gelu_tanh"},
          {"mm_double_blocks_depth", double_blocks},
          {"mm_single_blocks_depth", single_blocks},
          {"rope_dim_list", {rope_dim[0], rope_dim[1], rope_dim[2]}},
          {"qkv_bias", qkv_bias},
          {"qk_norm", true},
          {"qk_norm_type", "rms"},
          {"guidance_embed", guidance_embed},
          {"text_projection", "single_refiner"},
          {"use_attention_mask", true},
          {"text_states_dim", text_dim},
          {"text_states_dim_2", text_dim_2}};
}

namespace {
void get_int(const nlohmann::json& j, const char* key, int64_t& dst) {
  if (!j.contains(key)) return;
  if (!j[key].is_number_integer()) fail("config.json: '{}' must be an integer", key);
  dst = j[key].get<int64_t>();
}
void get_triple(const nlohmann::json& j, const char* key, int64_t (&dst)[3]) {
  if (!j.contains(key)) return;
  const auto& p = j[key];
  if (!p.is_array() || p.size() != 3) fail("config.json: '{}' must be a list of 3 integers", key);
  for (size_t i = 0; i < 3; ++i) {
    if (!p[i].is_number_integer()) fail("config.json: '{}' must be a list of 3 integers", key);
    dst[i] = p[i].get<int64_t>();
  }
}
bool has_rope(const nlohmann::json* j) {
  return j && j->is_object() && (j->contains("rope_dim_list") || j->contains("rope_axes_dim"));
}
}  // namespace

namespace {
// Reads what the JSON has over `c`, without validating (shapes may still override it).
void apply_json(HunyuanConfig& c, const nlohmann::json& j) {
  if (!j.is_object()) fail("config.json is not a JSON object");
  // Official argument names.
  get_int(j, "hidden_size", c.hidden);
  get_int(j, "heads_num", c.heads);
  get_int(j, "mm_double_blocks_depth", c.double_blocks);
  get_int(j, "mm_single_blocks_depth", c.single_blocks);
  get_int(j, "in_channels", c.in_channels);
  get_int(j, "out_channels", c.out_channels);
  get_int(j, "text_states_dim", c.text_dim);
  get_int(j, "text_states_dim_2", c.text_dim_2);
  get_triple(j, "rope_dim_list", c.rope_dim);
  if (j.contains("patch_size") && j["patch_size"].is_array()) get_triple(j, "patch_size", c.patch);
  if (j.contains("guidance_embed") && j["guidance_embed"].is_boolean()) c.guidance_embed = j["guidance_embed"].get<bool>();
  if (j.contains("qkv_bias") && j["qkv_bias"].is_boolean()) c.qkv_bias = j["qkv_bias"].get<bool>();
  // diffusers HunyuanVideoTransformer3DModel names.
  get_int(j, "num_attention_heads", c.heads);
  get_int(j, "num_layers", c.double_blocks);
  get_int(j, "num_single_layers", c.single_blocks);
  get_int(j, "num_refiner_layers", c.refiner_depth);
  get_int(j, "text_embed_dim", c.text_dim);
  get_int(j, "pooled_projection_dim", c.text_dim_2);
  get_triple(j, "rope_axes_dim", c.rope_dim);
  if (j.contains("guidance_embeds") && j["guidance_embeds"].is_boolean()) c.guidance_embed = j["guidance_embeds"].get<bool>();
  if (j.contains("attention_head_dim")) {
    int64_t hd = 0;
    get_int(j, "attention_head_dim", hd);
    if (hd > 0) c.hidden = hd * c.heads;
  }
  if (j.contains("patch_size") && j["patch_size"].is_number_integer()) {
    c.patch[1] = c.patch[2] = j["patch_size"].get<int64_t>();
    get_int(j, "patch_size_t", c.patch[0]);
  }
  double ratio = 4.0;
  for (const char* k : {"mlp_width_ratio", "mlp_ratio"})
    if (j.contains(k)) {
      if (!j[k].is_number()) fail("config.json: '{}' must be a number", k);
      ratio = j[k].get<double>();
    }
  c.mlp_dim = static_cast<int64_t>(static_cast<double>(c.hidden) * ratio);
  c.refiner_mlp_dim = 4 * c.hidden;  // the refiner's ratio is fixed at 4 in the official code
}
}  // namespace

HunyuanConfig HunyuanConfig::from_json(const nlohmann::json& j) {
  HunyuanConfig c;
  apply_json(c, j);
  c.validate();
  return c;
}

void HunyuanConfig::validate(bool check_rope) const {
  if (hidden <= 0 || heads <= 0 || hidden % heads != 0)
    fail("HunyuanVideo config: hidden size {} is not a positive multiple of the head count {}", hidden, heads);
  if (!check_rope && !rope_known()) {
    // detection only: no RoPE split to check
  } else if (rope_dim[0] + rope_dim[1] + rope_dim[2] != head_dim())
    fail("HunyuanVideo config: rope_dim_list [{}, {}, {}] must sum to the head dim {}", rope_dim[0], rope_dim[1],
         rope_dim[2], head_dim());
  if (check_rope || rope_known())
    for (int64_t r : rope_dim)
      if (r <= 0 || r % 2 != 0) fail("HunyuanVideo config: rope_dim_list entries must be positive and even");
  if (mlp_dim <= 0 || refiner_mlp_dim <= 0 || double_blocks < 0 || single_blocks < 0 ||
      double_blocks + single_blocks == 0 || in_channels <= 0 || out_channels <= 0 || text_dim <= 0 ||
      text_dim_2 <= 0 || refiner_depth <= 0 || freq_dim <= 0 || freq_dim % 2 != 0)
    fail("HunyuanVideo config: a dimension or block count is zero or negative");
  for (int64_t p : patch)
    if (p <= 0) fail("HunyuanVideo config: patch size entries must be positive");
}

std::vector<std::pair<std::string, std::vector<int64_t>>> official_tensors(const HunyuanConfig& c) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> t;
  const int64_t h = c.hidden, hd = c.head_dim();
  auto linear = [&](const std::string& name, int64_t out, int64_t in, bool bias = true) {
    t.push_back({name + ".weight", {out, in}});
    if (bias) t.push_back({name + ".bias", {out}});
  };
  t.push_back({"img_in.proj.weight", {h, c.in_channels, c.patch[0], c.patch[1], c.patch[2]}});
  t.push_back({"img_in.proj.bias", {h}});
  // txt_in: SingleTokenRefiner
  linear("txt_in.input_embedder", h, c.text_dim);
  linear("txt_in.t_embedder.mlp.0", h, c.freq_dim);
  linear("txt_in.t_embedder.mlp.2", h, h);
  linear("txt_in.c_embedder.linear_1", h, c.text_dim);
  linear("txt_in.c_embedder.linear_2", h, h);
  for (int64_t i = 0; i < c.refiner_depth; ++i) {
    const std::string b = "txt_in.individual_token_refiner.blocks." + std::to_string(i) + ".";
    t.push_back({b + "norm1.weight", {h}});
    t.push_back({b + "norm1.bias", {h}});
    linear(b + "self_attn_qkv", 3 * h, h);
    linear(b + "self_attn_proj", h, h);
    t.push_back({b + "norm2.weight", {h}});
    t.push_back({b + "norm2.bias", {h}});
    linear(b + "mlp.fc1", c.refiner_mlp_dim, h);
    linear(b + "mlp.fc2", h, c.refiner_mlp_dim);
    linear(b + "adaLN_modulation.1", 2 * h, h);
  }
  linear("time_in.mlp.0", h, c.freq_dim);
  linear("time_in.mlp.2", h, h);
  linear("vector_in.in_layer", h, c.text_dim_2);
  linear("vector_in.out_layer", h, h);
  if (c.guidance_embed) {
    linear("guidance_in.mlp.0", h, c.freq_dim);
    linear("guidance_in.mlp.2", h, h);
  }
  for (int64_t i = 0; i < c.double_blocks; ++i) {
    const std::string b = "double_blocks." + std::to_string(i) + ".";
    for (const char* s : {"img", "txt"}) {
      const std::string p = b + s;
      linear(p + "_mod.linear", 6 * h, h);
      linear(p + "_attn_qkv", 3 * h, h, c.qkv_bias);
      t.push_back({p + "_attn_q_norm.weight", {hd}});
      t.push_back({p + "_attn_k_norm.weight", {hd}});
      linear(p + "_attn_proj", h, h, c.qkv_bias);
      linear(p + "_mlp.fc1", c.mlp_dim, h);
      linear(p + "_mlp.fc2", h, c.mlp_dim);
    }
  }
  for (int64_t i = 0; i < c.single_blocks; ++i) {
    const std::string b = "single_blocks." + std::to_string(i) + ".";
    linear(b + "linear1", 3 * h + c.mlp_dim, h);
    linear(b + "linear2", h, h + c.mlp_dim);
    t.push_back({b + "q_norm.weight", {hd}});
    t.push_back({b + "k_norm.weight", {hd}});
    linear(b + "modulation.linear", 3 * h, h);
  }
  linear("final_layer.linear", c.patch[0] * c.patch[1] * c.patch[2] * c.out_channels, h);
  linear("final_layer.adaLN_modulation.1", 2 * h, h);
  return t;
}

std::optional<Layout> detect_layout(const Checkpoint& ckpt) {
  if (ckpt.contains("img_in.proj.weight") &&
      (ckpt.contains("double_blocks.0.img_attn_qkv.weight") || ckpt.contains("single_blocks.0.linear1.weight")))
    return Layout::Official;
  if (ckpt.contains("x_embedder.proj.weight") && ckpt.contains("context_embedder.proj_in.weight") &&
      (ckpt.contains("transformer_blocks.0.attn.add_q_proj.weight") ||
       ckpt.contains("single_transformer_blocks.0.proj_mlp.weight")))
    return Layout::Diffusers;
  return std::nullopt;
}

namespace {
// 1 + the largest N of any "<prefix>N." tensor name (0 when there is none).
int64_t count_blocks(const Checkpoint& ckpt, const std::string& prefix) {
  int64_t n = 0;
  for (const auto& name : ckpt.names()) {
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    int64_t i = 0;
    size_t p = prefix.size();
    while (p < name.size() && name[p] >= '0' && name[p] <= '9' && i < 1000000) i = i * 10 + (name[p++] - '0');
    if (p > prefix.size() && p < name.size() && name[p] == '.') n = std::max(n, i + 1);
  }
  return n;
}
// A config.json beside the weights that says otherwise than the weights (a file from another
// model, or edited) is named instead of silently losing to the shapes.
void check_json_agrees(const nlohmann::json& j, const HunyuanConfig& c, int64_t head_dim, const std::string& path) {
  auto mismatch = [&](const char* key, const std::string& said, const std::string& held) {
    fail("config.json says \"{}\": {} but the weights ({}) hold {}; fix or remove config.json", key, said, path, held);
  };
  const std::pair<const char*, int64_t> ints[] = {
      {"hidden_size", c.hidden},          {"heads_num", c.heads},
      {"num_attention_heads", c.heads},   {"attention_head_dim", head_dim},
      {"mm_double_blocks_depth", c.double_blocks}, {"num_layers", c.double_blocks},
      {"mm_single_blocks_depth", c.single_blocks}, {"num_single_layers", c.single_blocks},
      {"num_refiner_layers", c.refiner_depth},     {"in_channels", c.in_channels},
      {"out_channels", c.out_channels},   {"text_states_dim", c.text_dim},
      {"text_embed_dim", c.text_dim},     {"text_states_dim_2", c.text_dim_2},
      {"pooled_projection_dim", c.text_dim_2}};
  for (const auto& [key, held] : ints)
    if (j.contains(key) && j[key].is_number_integer() && j[key].get<int64_t>() != held)
      mismatch(key, std::to_string(j[key].get<int64_t>()), std::to_string(held));
  for (const char* key : {"guidance_embed", "guidance_embeds"})
    if (j.contains(key) && j[key].is_boolean() && j[key].get<bool>() != c.guidance_embed)
      mismatch(key, j[key].get<bool>() ? "true" : "false",
               c.guidance_embed ? "a guidance embedding" : "no guidance embedding");
  for (const char* key : {"mlp_width_ratio", "mlp_ratio"})
    if (j.contains(key) && j[key].is_number() && c.double_blocks > 0 &&
        static_cast<int64_t>(static_cast<double>(c.hidden) * j[key].get<double>()) != c.mlp_dim)
      mismatch(key, j[key].dump(), fmt::format("an MLP of {} for hidden {}", c.mlp_dim, c.hidden));
  if (j.contains("patch_size")) {
    const auto& p = j["patch_size"];
    const bool triple = p.is_array() && p.size() == 3 && p[0].is_number_integer() && p[1].is_number_integer() &&
                        p[2].is_number_integer() &&
                        (p[0].get<int64_t>() != c.patch[0] || p[1].get<int64_t>() != c.patch[1] || p[2].get<int64_t>() != c.patch[2]);
    const bool single = p.is_number_integer() && (p.get<int64_t>() != c.patch[1] || p.get<int64_t>() != c.patch[2]);
    if (triple || single)
      mismatch("patch_size", p.dump(), fmt::format("[{}, {}, {}]", c.patch[0], c.patch[1], c.patch[2]));
  }
}

}  // namespace

HunyuanConfig detect_config(const Checkpoint& ckpt, Layout layout, const nlohmann::json* config_json,
                            bool require_rope) {
  HunyuanConfig c;
  if (config_json && config_json->is_object()) apply_json(c, *config_json);
  const bool diff = layout == Layout::Diffusers;
  auto shape = [&](const std::string& name, size_t dims) {
    if (!ckpt.contains(name)) fail("{}: tensor '{}' is missing; the checkpoint is incomplete", ckpt.path(), name);
    const auto& s = ckpt.info(name).shape;
    if (s.size() != dims)
      fail("{}: tensor '{}' should have {} dims, has {}", ckpt.path(), name, dims, s.size());
    for (int64_t d : s)
      if (d <= 0) fail("{}: tensor '{}' has an empty dimension", ckpt.path(), name);
    return s;
  };
  const auto pe = shape(diff ? "x_embedder.proj.weight" : "img_in.proj.weight", 5);
  c.hidden = pe[0];
  c.in_channels = pe[1];
  for (int i = 0; i < 3; ++i) c.patch[i] = pe[2 + i];
  c.double_blocks = count_blocks(ckpt, diff ? "transformer_blocks." : "double_blocks.");
  c.single_blocks = count_blocks(ckpt, diff ? "single_transformer_blocks." : "single_blocks.");
  if (c.double_blocks + c.single_blocks == 0)
    fail("{}: no double or single blocks found; the checkpoint is incomplete", ckpt.path());
  const std::string qn = c.double_blocks > 0 ? (diff ? "transformer_blocks.0.attn.norm_q.weight" : "double_blocks.0.img_attn_q_norm.weight")
                                             : (diff ? "single_transformer_blocks.0.attn.norm_q.weight" : "single_blocks.0.q_norm.weight");
  const int64_t hd = shape(qn, 1)[0];
  if (c.hidden % hd != 0) fail("{}: hidden size {} is no multiple of the head dim {} ('{}')", ckpt.path(), c.hidden, hd, qn);
  c.heads = c.hidden / hd;
  if (c.double_blocks > 0) {
    c.mlp_dim = shape(diff ? "transformer_blocks.0.ff.net.0.proj.weight" : "double_blocks.0.img_mlp.fc1.weight", 2)[0];
    c.qkv_bias = ckpt.contains(diff ? "transformer_blocks.0.attn.to_q.bias" : "double_blocks.0.img_attn_qkv.bias");
  } else {
    c.mlp_dim = diff ? shape("single_transformer_blocks.0.proj_mlp.weight", 2)[0]
                     : shape("single_blocks.0.linear1.weight", 2)[0] - 3 * c.hidden;
  }
  c.text_dim = shape(diff ? "context_embedder.proj_in.weight" : "txt_in.input_embedder.weight", 2)[1];
  c.text_dim_2 = shape(diff ? "time_text_embed.text_embedder.linear_1.weight" : "vector_in.in_layer.weight", 2)[1];
  c.freq_dim = shape(diff ? "time_text_embed.timestep_embedder.linear_1.weight" : "time_in.mlp.0.weight", 2)[1];
  c.guidance_embed = ckpt.contains(diff ? "time_text_embed.guidance_embedder.linear_1.weight" : "guidance_in.mlp.0.weight");
  const std::string rp = diff ? "context_embedder.token_refiner.refiner_blocks." : "txt_in.individual_token_refiner.blocks.";
  c.refiner_depth = count_blocks(ckpt, rp);
  if (c.refiner_depth == 0) fail("{}: no token refiner blocks ({}0.*); the checkpoint is incomplete", ckpt.path(), rp);
  c.refiner_mlp_dim = shape(rp + (diff ? "0.ff.net.0.proj.weight" : "0.mlp.fc1.weight"), 2)[0];
  const int64_t out = shape(diff ? "proj_out.weight" : "final_layer.linear.weight", 2)[0];
  const int64_t pv = c.patch[0] * c.patch[1] * c.patch[2];
  if (out % pv != 0) fail("{}: final projection rows {} are no multiple of the patch volume {}", ckpt.path(), out, pv);
  c.out_channels = out / pv;
  if (!has_rope(config_json) && hd != 128 && !require_rope) {
    c.rope_dim[0] = c.rope_dim[1] = c.rope_dim[2] = 0;
  } else if (!has_rope(config_json)) {
    if (hd != 128)
      fail("{}: head dim {} is not the published 128, so the RoPE split is unknown; put a config.json with "
           "\"rope_dim_list\" next to the weights", ckpt.path(), hd);
    c.rope_dim[0] = 16, c.rope_dim[1] = 56, c.rope_dim[2] = 56;
  }
  if (config_json && config_json->is_object()) check_json_agrees(*config_json, c, hd, ckpt.path());
  c.validate(require_rope);
  return c;
}

}  // namespace jenga::hunyuan
