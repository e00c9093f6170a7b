#include "models/hunyuan/hunyuan_keys.h"

#include <utility>

#include "core/error.h"

namespace jenga::hunyuan {

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// "double_blocks.12.img_mlp.fc1.weight" with prefix "double_blocks." -> index "12", rest "img_mlp.fc1.weight".
bool split_block(const std::string& n, const std::string& prefix, std::string& index, std::string& rest) {
  if (!starts_with(n, prefix)) return false;
  const size_t dot = n.find('.', prefix.size());
  if (dot == std::string::npos) return false;
  index = n.substr(prefix.size(), dot - prefix.size());
  rest = n.substr(dot + 1);
  return true;
}

// "a.b.weight" -> {"a.b", ".weight"}
std::pair<std::string, std::string> split_param(const std::string& n) {
  const size_t dot = n.rfind('.');
  return {n.substr(0, dot), n.substr(dot)};
}

const std::pair<const char*, const char*> kTop[] = {
    {"img_in.proj", "x_embedder.proj"},
    {"time_in.mlp.0", "time_text_embed.timestep_embedder.linear_1"},
    {"time_in.mlp.2", "time_text_embed.timestep_embedder.linear_2"},
    {"guidance_in.mlp.0", "time_text_embed.guidance_embedder.linear_1"},
    {"guidance_in.mlp.2", "time_text_embed.guidance_embedder.linear_2"},
    {"vector_in.in_layer", "time_text_embed.text_embedder.linear_1"},
    {"vector_in.out_layer", "time_text_embed.text_embedder.linear_2"},
    {"txt_in.input_embedder", "context_embedder.proj_in"},
    {"txt_in.t_embedder.mlp.0", "context_embedder.time_text_embed.timestep_embedder.linear_1"},
    {"txt_in.t_embedder.mlp.2", "context_embedder.time_text_embed.timestep_embedder.linear_2"},
    {"txt_in.c_embedder.linear_1", "context_embedder.time_text_embed.text_embedder.linear_1"},
    {"txt_in.c_embedder.linear_2", "context_embedder.time_text_embed.text_embedder.linear_2"},
    {"final_layer.linear", "proj_out"},
};

const std::pair<const char*, const char*> kRefiner[] = {
    {"norm1", "norm1"},
    {"norm2", "norm2"},
    {"self_attn_proj", "attn.to_out.0"},
    {"mlp.fc1", "ff.net.0.proj"},
    {"mlp.fc2", "ff.net.2"},
    {"adaLN_modulation.1", "norm_out.linear"},
};

const std::pair<const char*, const char*> kDouble[] = {
    {"img_mod.linear", "norm1.linear"},
    {"txt_mod.linear", "norm1_context.linear"},
    {"img_attn_q_norm", "attn.norm_q"},
    {"img_attn_k_norm", "attn.norm_k"},
    {"txt_attn_q_norm", "attn.norm_added_q"},
    {"txt_attn_k_norm", "attn.norm_added_k"},
    {"img_attn_proj", "attn.to_out.0"},
    {"txt_attn_proj", "attn.to_add_out"},
    {"img_mlp.fc1", "ff.net.0.proj"},
    {"img_mlp.fc2", "ff.net.2"},
    {"txt_mlp.fc1", "ff_context.net.0.proj"},
    {"txt_mlp.fc2", "ff_context.net.2"},
};

const std::pair<const char*, const char*> kSingle[] = {
    {"linear2", "proj_out"},
    {"q_norm", "attn.norm_q"},
    {"k_norm", "attn.norm_k"},
    {"modulation.linear", "norm.linear"},
};

template <size_t N>
const char* lookup(const std::pair<const char*, const char*> (&table)[N], const std::string& key) {
  for (const auto& [a, b] : table)
    if (key == a) return b;
  return nullptr;
}

}  // namespace

DiffusersSource diffusers_source(const std::string& official) {
  const auto [base, param] = split_param(official);
  DiffusersSource s;
  if (base == "final_layer.adaLN_modulation.1") {
    s.parts = {"norm_out.linear" + param};
    s.combine = Combine::SwapHalves;
    return s;
  }
  if (const char* d = lookup(kTop, base)) {
    s.parts = {d + param};
    return s;
  }
  std::string index, rest;
  if (split_block(base, "txt_in.individual_token_refiner.blocks.", index, rest)) {
    const std::string p = "context_embedder.token_refiner.refiner_blocks." + index + ".";
    if (rest == "self_attn_qkv") {
      s.parts = {p + "attn.to_q" + param, p + "attn.to_k" + param, p + "attn.to_v" + param};
      s.combine = Combine::ConcatRows;
      return s;
    }
    if (const char* d = lookup(kRefiner, rest)) {
      s.parts = {p + d + param};
      return s;
    }
  } else if (split_block(base, "double_blocks.", index, rest)) {
    const std::string p = "transformer_blocks." + index + ".";
    if (rest == "img_attn_qkv" || rest == "txt_attn_qkv") {
      const bool img = rest[0] == 'i';
      s.parts = {p + (img ? "attn.to_q" : "attn.add_q_proj") + param, p + (img ? "attn.to_k" : "attn.add_k_proj") + param,
                 p + (img ? "attn.to_v" : "attn.add_v_proj") + param};
      s.combine = Combine::ConcatRows;
      return s;
    }
    if (const char* d = lookup(kDouble, rest)) {
      s.parts = {p + d + param};
      return s;
    }
  } else if (split_block(base, "single_blocks.", index, rest)) {
    const std::string p = "single_transformer_blocks." + index + ".";
    if (rest == "linear1") {
      s.parts = {p + "attn.to_q" + param, p + "attn.to_k" + param, p + "attn.to_v" + param, p + "proj_mlp" + param};
      s.combine = Combine::ConcatRows;
      return s;
    }
    if (const char* d = lookup(kSingle, rest)) {
      s.parts = {p + d + param};
      return s;
    }
  }
  fail("HunyuanVideo: no diffusers name known for the official tensor '{}'", official);
}

}  // namespace jenga::hunyuan
