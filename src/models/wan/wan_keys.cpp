#include "models/wan/wan_keys.h"

#include <set>
#include <string_view>
#include <utility>

#include "core/error.h"
#include "io/fp8_weights.h"
#include "io/safetensors.h"

namespace jenga::wan {

namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

// (official prefix, diffusers prefix) outside the blocks; the first match wins.
constexpr std::pair<std::string_view, std::string_view> kTopLevel[] = {
    {"patch_embedding.", "patch_embedding."},
    {"text_embedding.0.", "condition_embedder.text_embedder.linear_1."},
    {"text_embedding.2.", "condition_embedder.text_embedder.linear_2."},
    {"time_embedding.0.", "condition_embedder.time_embedder.linear_1."},
    {"time_embedding.2.", "condition_embedder.time_embedder.linear_2."},
    {"time_projection.1.", "condition_embedder.time_proj."},
    {"head.head.", "proj_out."},
    {"img_emb.proj.0.", "condition_embedder.image_embedder.norm1."},
    {"img_emb.proj.1.", "condition_embedder.image_embedder.ff.net.0.proj."},
    {"img_emb.proj.3.", "condition_embedder.image_embedder.ff.net.2."},
    {"img_emb.proj.4.", "condition_embedder.image_embedder.norm2."},
};

// Inside "blocks.N.": (official, diffusers) prefixes of the rest of the name. The official
// norm3 (affine, before cross-attention) is diffusers' norm2.
constexpr std::pair<std::string_view, std::string_view> kInBlock[] = {
    {"self_attn.q.", "attn1.to_q."},
    {"self_attn.k.", "attn1.to_k."},
    {"self_attn.v.", "attn1.to_v."},
    {"self_attn.o.", "attn1.to_out.0."},
    {"self_attn.norm_q.", "attn1.norm_q."},
    {"self_attn.norm_k.", "attn1.norm_k."},
    {"cross_attn.q.", "attn2.to_q."},
    {"cross_attn.k.", "attn2.to_k."},
    {"cross_attn.v.", "attn2.to_v."},
    {"cross_attn.o.", "attn2.to_out.0."},
    {"cross_attn.norm_q.", "attn2.norm_q."},
    {"cross_attn.norm_k.", "attn2.norm_k."},
    {"cross_attn.k_img.", "attn2.add_k_proj."},
    {"cross_attn.v_img.", "attn2.add_v_proj."},
    {"cross_attn.norm_k_img.", "attn2.norm_added_k."},
    {"norm3.", "norm2."},
    {"ffn.0.", "ffn.net.0.proj."},
    {"ffn.2.", "ffn.net.2."},
};

}  // namespace

std::string diffusers_key(const std::string& official) {
  if (official == "head.modulation") return "scale_shift_table";
  for (const auto& [from, to] : kTopLevel)
    if (starts_with(official, from)) return std::string(to) + official.substr(from.size());
  if (starts_with(official, "blocks.")) {
    const size_t dot = official.find('.', 7);
    if (dot != std::string::npos) {
      const std::string block = official.substr(0, dot + 1);  // "blocks.N."
      const std::string rest = official.substr(dot + 1);
      if (rest == "modulation") return block + "scale_shift_table";
      for (const auto& [from, to] : kInBlock)
        if (starts_with(rest, from)) return block + std::string(to) + rest.substr(from.size());
    }
  }
  fail("no diffusers name for the official Wan tensor '{}' (internal key map gap, please report)", official);
}

std::string comfyui_key(const std::string& official) { return kComfyPrefix + official; }

std::string layout_key(Layout layout, const std::string& official) {
  switch (layout) {
    case Layout::Official: return official;
    case Layout::Diffusers: return diffusers_key(official);
    case Layout::ComfyUI: return comfyui_key(official);
  }
  return official;
}

bool is_auxiliary_tensor(Layout layout, const std::string& name) {
  if (layout == Layout::Diffusers) return ends_with(name, ".norm_added_q.weight");  // diffusers ignores it too
  if (layout != Layout::ComfyUI) return false;
  if (!starts_with(name, kComfyPrefix)) return true;  // VAE / text encoder of an all-in-one file
  return is_fp8_scale_tensor(name);
}

void check_tensor_set(const Checkpoint& ckpt, Layout layout, const WanConfig& config) {
  std::set<std::string> expected;
  for (const auto& [name, shape] : official_tensors(config)) expected.insert(layout_key(layout, name));
  std::vector<std::string> missing, unexpected;
  for (const auto& n : expected)
    if (!ckpt.contains(n)) missing.push_back(n);
  for (const auto& n : ckpt.names())
    if (!expected.count(n) && !is_auxiliary_tensor(layout, n)) unexpected.push_back(n);
  if (missing.empty() && unexpected.empty()) return;
  const std::string what = describe_tensor_set_diff(missing, unexpected);
  fail("{}: not a complete Wan2.1 {} DiT in the {} layout ({} layers, dim {}): {}; use an unmodified "
       "checkpoint (with all its shards)",
       ckpt.path(), config.model_type, layout_name(layout), config.num_layers, config.dim, what);
}

}  // namespace jenga::wan
