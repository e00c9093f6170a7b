#pragma once
// Tensor access for the HunyuanVideo text encoders over the published files: a folder of
// safetensors shards + index (official text_encoder/, diffusers text_encoder/), or one file
// (ComfyUI llava_llama3_fp16 / _fp8_scaled, clip_l). Names are relative to a prefix found in
// the file ("model." for LlamaForCausalLM saves, "" for LlamaModel, "text_model." for CLIP, any
// other wrapper prefix likewise). ComfyUI's scaled fp8 weights are dequantised with their
// per-tensor scale (`<layer>.scale_weight`, or `<layer>.weight_scale`) on load.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/safetensors.h"

namespace jenga::hunyuan {

class EncoderWeights {
 public:
  EncoderWeights() = default;
  // `anchor`: a tensor name every such encoder has (e.g. "embed_tokens.weight"); the prefix is
  // what comes before it in the first name ending with it for which prefix + `also` exists too.
  static std::optional<EncoderWeights> find(std::shared_ptr<Checkpoint> ckpt, const std::string& anchor,
                                            const std::string& also);
  static std::optional<std::string> find_prefix(const Checkpoint& ckpt, const std::string& anchor, const std::string& also);

  bool has(const std::string& name) const { return ckpt_->contains(prefix_ + name); }
  std::vector<int64_t> shape(const std::string& name) const;  // throws naming the file if missing
  // The tensor as f32, shape-checked (scaled fp8 dequantised).
  std::vector<float> f32(const std::string& name, const std::vector<int64_t>& shape) const;
  // Rows `ids` of a [rows, dim] table (the token embedding) as f32 into out: [ids.size(), dim].
  void gather_rows(const std::string& name, std::span<const int64_t> ids, int64_t dim, float* out) const;

  // The tensor as stored (a view of the mapped file where possible) and its fp8 scale, if any:
  // for uploads that keep the file's dtype.
  Tensor raw(const std::string& name) const { return ckpt_->load(prefix_ + name, std::nullopt); }
  std::optional<float> scale(const std::string& name) const { return scale_of(prefix_ + name); }

  const std::string& prefix() const { return prefix_; }
  const std::string& path() const { return ckpt_->path(); }
  const Checkpoint& checkpoint() const { return *ckpt_; }

 private:
  std::optional<float> scale_of(const std::string& full_name) const;
  std::shared_ptr<Checkpoint> ckpt_;
  std::string prefix_;
};

// Opens a file or folder as a Checkpoint with clear errors (missing path, PyTorch pickle).
std::shared_ptr<Checkpoint> open_encoder_checkpoint(const std::string& path);

// config.json beside the weights (in the folder, or the folder of a model*.safetensors /
// *.index.json file), or null when there is none. A config with a nested "text_config" (LLaVA, CLIPModel) yields that part
// (`field_prefix` then "text_config."); a LLaVA config without one is a one-line error.
nlohmann::json encoder_config_json(const std::string& path, std::string* field_prefix = nullptr);

}  // namespace jenga::hunyuan
