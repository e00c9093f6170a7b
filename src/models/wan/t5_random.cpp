#include "models/wan/t5_random.h"

#include <cmath>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"
#include "io/safetensors.h"

namespace jenga::wan {

void write_random_t5(const std::string& path, const T5Config& c, uint64_t seed) {
  SafetensorsWriter w;
  uint64_t offset = 0;
  // shape [rows, cols]; fan_in = cols; norm: all ones.
  auto add = [&](const std::string& name, std::vector<int64_t> shape, bool norm = false) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> v(static_cast<size_t>(n), 1.0f);
    if (!norm) {
      fill_normal(v, seed, offset);
      offset += static_cast<uint64_t>(n);
      const float s = shape.size() == 2 ? 1.0f / std::sqrt(static_cast<float>(shape[1])) : 0.02f;
      for (float& x : v) x *= s;
    }
    w.add(name, Tensor::from_f32(v, Shape(std::span<const int64_t>(shape))));
  };
  add("token_embedding.weight", {c.vocab, c.dim});
  for (int64_t l = 0; l < c.layers; ++l) {
    const std::string p = "blocks." + std::to_string(l) + ".";
    add(p + "norm1.weight", {c.dim}, true);
    for (const char* q : {"q", "k", "v"}) add(p + "attn." + q + ".weight", {c.dim_attn, c.dim});
    add(p + "attn.o.weight", {c.dim, c.dim_attn});
    add(p + "pos_embedding.embedding.weight", {c.num_buckets, c.heads});
    add(p + "norm2.weight", {c.dim}, true);
    add(p + "ffn.gate.0.weight", {c.dim_ffn, c.dim});
    add(p + "ffn.fc1.weight", {c.dim_ffn, c.dim});
    add(p + "ffn.fc2.weight", {c.dim, c.dim_ffn});
  }
  add("norm.weight", {c.dim}, true);
  w.set_metadata("jenga", "random weights, not a trained model");
  w.write(path);
}

}  // namespace jenga::wan
