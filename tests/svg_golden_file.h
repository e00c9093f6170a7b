#pragma once
// A Sparse VideoGen golden from tools/golden/svg_golden.py (Wan) or svg_hunyuan_golden.py
// (HunyuanVideo, name "hy_*"): q/k/v [heads, sequence, dim], the official sampled rows, grid
// [frames, frame_tokens, rows, sample_mse_max_row(, text, valid text)] and the official outputs.
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "jenga/svg/svg_classify.h"
#include "jenga/svg/svg_masks.h"

namespace jenga::test {

struct SvgGolden {
  std::shared_ptr<SafetensorsFile> f;
  svg::SvgGrid grid;
  int64_t heads = 0, dim = 0;
  svg::SvgParams params;
  std::vector<float> q, k, v;
  std::vector<int32_t> rows;

  std::vector<float> f32(const std::string& name) const {
    const Tensor t = f->load(name, DType::F32);
    return {t.data_as<float>(), t.data_as<float>() + t.numel()};
  }
  std::vector<int32_t> i32(const std::string& name) const {
    const Tensor t = f->load(name);
    return {t.data_as<int32_t>(), t.data_as<int32_t>() + t.numel()};
  }
  std::string meta(const std::string& key) const { return f->header().metadata.at(key); }
};

// Bit i of a numpy.packbits (big-endian) array.
inline bool packed_bit(const Tensor& packed, int64_t i) { return (packed.data_as<uint8_t>()[i / 8] >> (7 - i % 8)) & 1; }

inline SvgGolden load_svg_golden(const std::string& name) {
  SvgGolden g;
  g.f = SafetensorsFile::open(std::string(JENGA_TEST_DATA) + "/svg/" + name + ".safetensors");
  const Tensor q = g.f->load("q", DType::F32);
  const Tensor grid = g.f->load("grid");
  const int64_t* gr = grid.data_as<int64_t>();
  g.grid.frames = gr[0], g.grid.frame_tokens = gr[1];
  if (grid.numel() >= 6) g.grid.rules = svg::SvgRules::hunyuan, g.grid.text = gr[4], g.grid.text_valid = gr[5];
  g.params.num_sampled_rows = gr[2];
  g.params.sample_mse_max_row = gr[3];
  g.params.sparsity = std::stod(g.meta("sparsity"));
  g.heads = q.dim(0);
  g.dim = q.dim(2);
  g.q = g.f32("q");
  g.k = g.f32("k");
  g.v = g.f32("v");
  g.rows = g.i32("sampled_rows");
  return g;
}

}  // namespace jenga::test
