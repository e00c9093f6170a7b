#include "io/fp8_weights.h"

#include <string_view>
#include <vector>

#include "core/error.h"

namespace jenga {

namespace {
bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

bool is_fp8_scale_tensor(const std::string& name) {
  for (std::string_view s : {".scale_weight", ".weight_scale", ".scale_input", ".input_scale", ".comfy_quant"})
    if (ends_with(name, s)) return true;
  return name == "scaled_fp8" || ends_with(name, ".scaled_fp8");
}

void apply_fp8_scale(const Checkpoint& ckpt, const std::string& name, Tensor& t) {
  if (!ends_with(name, ".weight")) return;
  const std::string base = name.substr(0, name.size() - 7);
  std::string scale_name;
  for (const char* s : {".scale_weight", ".weight_scale"})
    if (ckpt.contains(base + s)) scale_name = base + s;
  if (scale_name.empty()) return;  // plain fp8 cast, no scale
  const std::vector<float> scale = ckpt.load(scale_name, DType::F32).to_f32_vector();
  const int64_t rows = t.ndim() ? t.dim(0) : 1, per_row = rows ? t.numel() / rows : 0;
  float* v = t.data_as<float>();
  if (scale.size() == 1) {
    for (int64_t i = 0; i < t.numel(); ++i) v[i] *= scale[0];
  } else if (static_cast<int64_t>(scale.size()) == rows) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < per_row; ++i) v[r * per_row + i] *= scale[static_cast<size_t>(r)];
  } else {
    fail("{}: fp8 scale '{}' has {} values; expected 1 or {} (one per output row)", ckpt.path(), scale_name,
         scale.size(), rows);
  }
}

Tensor load_dequantized(const Checkpoint& ckpt, const std::string& name, DType want) {
  const TensorInfo& info = ckpt.info(name);
  if (!info.dtype || !is_fp8(*info.dtype)) return ckpt.load(name, want);
  Tensor t = ckpt.load(name, DType::F32);
  apply_fp8_scale(ckpt, name, t);
  return want == DType::F32 ? t : t.to(want);
}

}  // namespace jenga
