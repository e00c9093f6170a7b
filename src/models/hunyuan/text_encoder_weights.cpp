#include "models/hunyuan/text_encoder_weights.h"

#include <filesystem>

#include "core/error.h"
#include "io/json_file.h"
#include "models/hunyuan/tokenizer_files.h"

namespace fs = std::filesystem;

namespace jenga::hunyuan {

std::optional<std::string> EncoderWeights::find_prefix(const Checkpoint& ckpt, const std::string& anchor,
                                                       const std::string& also) {
  for (const auto& n : ckpt.names()) {
    if (n.size() < anchor.size() || n.compare(n.size() - anchor.size(), anchor.size(), anchor) != 0) continue;
    const std::string p = n.substr(0, n.size() - anchor.size());
    if ((p.empty() || p.back() == '.') && ckpt.contains(p + also)) return p;
  }
  return std::nullopt;
}

std::optional<EncoderWeights> EncoderWeights::find(std::shared_ptr<Checkpoint> ckpt, const std::string& anchor,
                                                   const std::string& also) {
  auto p = find_prefix(*ckpt, anchor, also);
  if (!p) return std::nullopt;
  EncoderWeights w;
  w.ckpt_ = std::move(ckpt);
  w.prefix_ = *p;
  return w;
}

std::vector<int64_t> EncoderWeights::shape(const std::string& name) const {
  const std::string n = prefix_ + name;
  if (!ckpt_->contains(n)) fail("{}: tensor {} is missing; the text encoder file is incomplete or of another model", path(), n);
  return ckpt_->info(n).shape;
}

std::optional<float> EncoderWeights::scale_of(const std::string& full) const {
  const size_t dot = full.rfind('.');
  if (dot == std::string::npos || full.substr(dot) != ".weight") return std::nullopt;
  const std::string base = full.substr(0, dot);
  for (const char* s : {".scale_weight", ".weight_scale"}) {
    const std::string n = base + s;
    if (!ckpt_->contains(n)) continue;
    const auto v = ckpt_->load(n, std::nullopt).to_f32_vector();
    if (v.size() != 1) fail("{}: {} has {} values; only a per-tensor scale is supported", path(), n, v.size());
    return v[0];
  }
  return std::nullopt;
}

std::vector<float> EncoderWeights::f32(const std::string& name, const std::vector<int64_t>& want) const {
  const std::string n = prefix_ + name;
  const auto got = shape(name);
  if (got != want)
    fail("{}: tensor {} has shape {}, expected {} (config.json and weights disagree?)", path(), n,
         Shape(std::span<const int64_t>(got)).str(), Shape(std::span<const int64_t>(want)).str());
  auto v = ckpt_->load(n, std::nullopt).to_f32_vector();
  if (const auto s = scale_of(n))
    for (float& x : v) x *= *s;
  return v;
}

void EncoderWeights::gather_rows(const std::string& name, std::span<const int64_t> ids, int64_t dim, float* out) const {
  const std::string n = prefix_ + name;
  const auto sh = shape(name);
  if (sh.size() != 2 || sh[1] != dim) fail("{}: tensor {} is not a [rows, {}] table", path(), n, dim);
  const Tensor t = ckpt_->load(n, std::nullopt);  // a view of the mapped file where possible
  const size_t es = dtype_size(t.dtype());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= sh[0]) fail("token id {} at position {} is outside the vocabulary [0, {})", ids[i], i, sh[0]);
    convert(static_cast<const uint8_t*>(t.data()) + static_cast<size_t>(ids[i] * dim) * es, t.dtype(),
            out + static_cast<int64_t>(i) * dim, DType::F32, static_cast<size_t>(dim));
  }
  if (const auto s = scale_of(n))
    for (size_t i = 0; i < ids.size() * static_cast<size_t>(dim); ++i) out[i] *= *s;
}

std::shared_ptr<Checkpoint> open_encoder_checkpoint(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail("{}: no such file or folder", path);
  return std::make_shared<Checkpoint>(Checkpoint::open(path));
}

nlohmann::json encoder_config_json(const std::string& path, std::string* field_prefix) {
  std::error_code ec;
  // A single file's folder is trusted only for HF-style names (model.safetensors, an index);
  // ComfyUI's single files sit among unrelated models.
  const fs::path p(path);
  const std::string fname = p.filename().string();
  const bool hf_file = fname.starts_with("model") || fname.ends_with(".index.json");
  if (!fs::is_directory(p, ec) && !hf_file) return nullptr;
  const fs::path dir = fs::is_directory(p, ec) ? p : p.parent_path();
  const fs::path cfg = dir / "config.json";
  if (!json_file_present(cfg.string())) return nullptr;
  auto j = read_tokenizer_json(cfg.string());
  if (j.is_object() && j.contains("text_config") && j["text_config"].is_object()) {
    if (field_prefix) *field_prefix = "text_config.";
    return j["text_config"];
  }
  const bool llava = j.is_object() && (j.contains("vision_config") || (j.contains("model_type") && j["model_type"] == "llava"));
  if (llava)
    fail("{}: config.json has no text_config (the language model's shapes; transformers would build Llama's defaults); "
         "copy the model's config.json", cfg.string());
  return j;
}

}  // namespace jenga::hunyuan
