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

// Official flags of svg-project/Sparse-VideoGen wan_t2v_inference.py / hyvideo_t2v_inference.py.
// Defaults (svg_defaults): Wan2.1, its T2V script scripts/wan/wan_t2v_720p_svg.sh (sparsity 0.3,
// first_times_fp 0.2, first_layers_fp 0.03, num_sampled_rows 64); HunyuanVideo,
// scripts/hyvideo/hyvideo_t2v_720p_svg.sh (sparsity 0.25, first_times_fp 0.1, first_layers_fp
// 0.03, num_sampled_rows 64); sample_mse_max_row from the Python default (the scripts leave it).
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
// Which official script gives the defaults: Wan2.1's, or HunyuanVideo's (a DiT whose text rows
// join the self-attention sequence).
enum class SvgFamily { wan, hunyuan };
SvgSettings svg_defaults(SvgFamily f);
const char* svg_defaults_source(SvgFamily f);  // the official script, for reports
// UsageError: SVG with an image condition on HunyuanVideo (the official SVG path is text-to-video).
[[noreturn]] void svg_image_to_video_unsupported();
// The family's defaults with the overrides applied (values checked by resolve_attention).
SvgSettings svg_settings(const SvgOverrides& o, uint64_t seed, SvgFamily f = SvgFamily::wan);

}  // namespace jenga
