#include "models/wan/wan_weights.h"

#include <map>

#include "core/error.h"
#include "core/interrupt.h"
#include "io/fp8_weights.h"
#include "io/safetensors.h"
#include "models/wan/wan_keys.h"

namespace jenga::wan {

namespace {

bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

class Loader {
 public:
  Loader(const Checkpoint& ckpt, Layout layout, const WanConfig& config, DType dtype)
      : ckpt_(ckpt), layout_(layout), dtype_(dtype) {
    for (auto& [name, shape] : official_tensors(config)) shapes_[name] = shape;
  }

  Tensor get(const std::string& official) {
    const auto it = shapes_.find(official);
    JENGA_ASSERT(it != shapes_.end());
    const std::string name = layout_key(layout_, official);
    const TensorInfo& info = ckpt_.info(name);
    if (info.shape != it->second)
      fail("{}: tensor '{}' has shape {} but this Wan config needs {}; the checkpoint and its "
           "config.json disagree", ckpt_.path(), name, Shape(std::span<const int64_t>(info.shape)).str(),
           Shape(std::span<const int64_t>(it->second)).str());
    if (!info.dtype || !dtype_is_float(*info.dtype))
      fail("{}: tensor '{}' is stored as {}, which is no float type jenga reads", ckpt_.path(), name,
           info.dtype_name);
    const bool matrix = it->second.size() >= 2 && ends_with(official, ".weight") && !official.starts_with("time_");
    const DType want = matrix ? dtype_ : DType::F32;
    return load_dequantized(ckpt_, name, want);  // ComfyUI fp8 files: decoded, scaled
  }

  LinearWeights linear(const std::string& official) {
    return {get(official + ".weight"), get(official + ".bias")};
  }

 private:
  const Checkpoint& ckpt_;
  Layout layout_;
  DType dtype_;
  std::map<std::string, std::vector<int64_t>> shapes_;
};

}  // namespace

WanWeights load_wan_weights(const Checkpoint& ckpt, Layout layout, const WanConfig& config, DType dtype,
                            const std::function<void(int64_t, int64_t)>& on_block) {
  config.validate();
  if (config.model_type != "t2v")
    fail("{}: {} Wan checkpoints (image conditioning) are not supported yet; use a text-to-video "
         "(t2v) DiT", ckpt.path(), config.model_type);
  check_tensor_set(ckpt, layout, config);
  Loader L(ckpt, layout, config, dtype);
  WanWeights w;
  w.patch_w = L.get("patch_embedding.weight");
  w.patch_b = L.get("patch_embedding.bias");
  w.text0 = L.linear("text_embedding.0");
  w.text2 = L.linear("text_embedding.2");
  w.time0 = L.linear("time_embedding.0");
  w.time2 = L.linear("time_embedding.2");
  w.time_proj = L.linear("time_projection.1");
  w.blocks.resize(static_cast<size_t>(config.num_layers));
  for (int64_t i = 0; i < config.num_layers; ++i) {
    check_interrupt();  // loading 14B takes a while: Ctrl-C between blocks
    const std::string b = "blocks." + std::to_string(i) + ".";
    WanBlockWeights& k = w.blocks[static_cast<size_t>(i)];
    k.modulation = L.get(b + "modulation");
    k.sa_q = L.linear(b + "self_attn.q");
    k.sa_k = L.linear(b + "self_attn.k");
    k.sa_v = L.linear(b + "self_attn.v");
    k.sa_o = L.linear(b + "self_attn.o");
    k.sa_norm_q = L.get(b + "self_attn.norm_q.weight");
    k.sa_norm_k = L.get(b + "self_attn.norm_k.weight");
    k.norm3_w = L.get(b + "norm3.weight");
    k.norm3_b = L.get(b + "norm3.bias");
    k.ca_q = L.linear(b + "cross_attn.q");
    k.ca_k = L.linear(b + "cross_attn.k");
    k.ca_v = L.linear(b + "cross_attn.v");
    k.ca_o = L.linear(b + "cross_attn.o");
    k.ca_norm_q = L.get(b + "cross_attn.norm_q.weight");
    k.ca_norm_k = L.get(b + "cross_attn.norm_k.weight");
    k.ffn0 = L.linear(b + "ffn.0");
    k.ffn2 = L.linear(b + "ffn.2");
    if (on_block) on_block(i + 1, config.num_layers);
  }
  w.head_modulation = L.get("head.modulation");
  w.head = L.linear("head.head");
  return w;
}

}  // namespace jenga::wan
