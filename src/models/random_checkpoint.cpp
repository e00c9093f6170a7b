#include "models/random_checkpoint.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"

namespace jenga {

bool name_ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void write_random_model_folder(const std::string& dir,
                               const std::vector<std::pair<std::string, std::vector<int64_t>>>& tensors,
                               const nlohmann::json& config, uint64_t seed, DType dtype,
                               const std::function<std::optional<RandomInit>(const std::string& name)>& special) {
  if (!dtype_is_float(dtype)) fail("random checkpoint: dtype must be a float type");
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail("{}: cannot create the folder ({})", dir, ec.message());

  SafetensorsWriter w;
  uint64_t offset = 0;
  for (const auto& [name, shape] : tensors) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    fill_normal(v, seed, offset);
    offset += static_cast<uint64_t>(n);
    RandomInit init;
    if (const auto s = special(name)) {
      init = *s;
    } else if (name_ends_with(name, ".weight")) {
      int64_t fan_in = 1;
      for (size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
      init.scale = 1.0f / std::sqrt(static_cast<float>(fan_in));
    }
    for (float& x : v) x = init.shift + init.scale * x;
    w.add(name, Tensor::from_f32(v, Shape(std::span<const int64_t>(shape)), dtype));
  }
  w.set_metadata("format", "pt");
  w.set_metadata("jenga", "random weights, not a trained model");
  w.write((fs::path(dir) / "diffusion_pytorch_model.safetensors").string());

  const std::string cfg = (fs::path(dir) / "config.json").string();
  const std::string tmp = cfg + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) fail("{}: cannot write", cfg);
    out << config.dump(2) << "\n";
    if (!out) fail("{}: write failed", cfg);
  }
  fs::rename(tmp, cfg, ec);
  if (ec) fail("{}: cannot move into place ({})", cfg, ec.message());
}

void rewrite_as_scaled_fp8(const std::string& path) {
  const Checkpoint f = Checkpoint::open(path);
  SafetensorsWriter w;
  for (const auto& name : f.names()) {
    const Tensor t = f.load(name, DType::F32);
    if (t.ndim() < 2 || !name_ends_with(name, ".weight")) {
      w.add(name, t.to(DType::BF16));
      continue;
    }
    std::vector<float> v = t.to_f32_vector();
    float amax = 0.0f;
    for (float x : v) amax = std::max(amax, std::fabs(x));
    const float s = amax > 0.0f ? amax / 448.0f : 1.0f;
    for (float& x : v) x /= s;
    w.add(name, Tensor::from_f32(v, t.shape(), DType::F8E4M3));
    const float scale[1] = {s};
    w.add(name.substr(0, name.size() - 7) + ".scale_weight", Tensor::from_f32(scale, Shape{1}));
  }
  w.set_metadata("format", "pt");
  w.set_metadata("jenga", "random weights, not a trained model (scaled fp8 e4m3)");
  w.write(path);
}

}  // namespace jenga
