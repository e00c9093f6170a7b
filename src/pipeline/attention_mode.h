#pragma once
// `--attention dense|jenga|svg` and the Sparse VideoGen settings of the denoising loop. SVG runs
// the dense (plain Wan2.1) schedule: the official SVG pipeline has no ProRes and no step reuse.
#include <cstdint>
#include <optional>
#include <string>

#include "jenga/svg/svg_classify.h"

namespace jenga {

enum class AttentionMode { dense, jenga, svg };
const char* attention_mode_name(AttentionMode m);

// Official flags of svg-project/Sparse-VideoGen wan_t2v_inference.py. Defaults: its Wan2.1 T2V
// script scripts/wan/wan_t2v_720p_svg.sh (sparsity 0.3, first_times_fp 0.2, first_layers_fp 0.03,
// num_sampled_rows 64); sample_mse_max_row from the Python default (the script leaves it).
// Python defaults where they differ: sparsity 0.25, first_times_fp 0.075, first_layers_fp 0.025.
struct SvgSettings {
  double sparsity = 0.3, first_times_fp = 0.2, first_layers_fp = 0.03;
  int64_t num_sampled_rows = 64, sample_mse_max_row = 10000;
  uint64_t seed = 42;  // Philox stream of the sampled rows (svg::sample_rows), fixed for the run
  svg::SvgParams params() const { return {num_sampled_rows, sample_mse_max_row, sparsity}; }
};

// What a user gave on the command line; unset = the default above.
struct SvgOverrides {
  std::optional<double> sparsity, first_times_fp, first_layers_fp;
  std::optional<int64_t> num_sampled_rows, sample_mse_max_row;
  bool any() const { return sparsity || first_times_fp || first_layers_fp || num_sampled_rows || sample_mse_max_row; }
};

// `flag`: "" (what the preset implies: jenga for a Jenga preset, else dense), dense, jenga or svg.
// jenga_preset: a Jenga --preset (base, turbo, ...) is set. Throws UsageError on combinations the
// loop cannot run (svg with a Jenga preset, jenga without one, SVG flags without svg, bad values).
AttentionMode resolve_attention(const std::string& flag, bool jenga_preset, const SvgOverrides& o);
// The settings with the overrides applied (values checked by resolve_attention).
SvgSettings svg_settings(const SvgOverrides& o, uint64_t seed);

}  // namespace jenga
