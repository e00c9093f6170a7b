#include "models/hunyuan/hunyuan_tiny.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "io/safetensors.h"

namespace jenga::hunyuan {

namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

void write_random_checkpoint(const std::string& dir, const HunyuanConfig& config, uint64_t seed, DType dtype) {
  config.validate();
  if (!dtype_is_float(dtype)) fail("random checkpoint: dtype must be a float type");
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail("{}: cannot create the folder ({})", dir, ec.message());

  SafetensorsWriter w;
  uint64_t offset = 0;  // one Philox stream, tensors take consecutive ranges
  for (const auto& [name, shape] : official_tensors(config)) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    fill_normal(v, seed, offset);
    offset += static_cast<uint64_t>(n);
    // Scales that keep activations O(1) through the network (the official init zeroes the
    // modulation and final layers, which would make every test compare zeros).
    float scale = 0.02f, shift = 0.0f;
    if (ends_with(name, "norm.weight") || ends_with(name, "norm1.weight") || ends_with(name, "norm2.weight")) {
      scale = 0.1f;  // q/k RMSNorm scales, refiner LayerNorm scales
      shift = 1.0f;
    } else if (ends_with(name, ".weight")) {
      int64_t fan_in = 1;
      for (size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
      scale = 1.0f / std::sqrt(static_cast<float>(fan_in));
    }
    for (float& x : v) x = shift + scale * x;
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
    out << config.to_json().dump(2) << "\n";
    if (!out) fail("{}: write failed", cfg);
  }
  fs::rename(tmp, cfg, ec);
  if (ec) fail("{}: cannot move into place ({})", cfg, ec.message());
}

}  // namespace jenga::hunyuan
