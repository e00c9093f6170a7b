#include "pipeline/attention_mode.h"

#include "core/error.h"

namespace jenga {

const char* attention_mode_name(AttentionMode m) {
  return m == AttentionMode::dense ? "dense" : m == AttentionMode::jenga ? "jenga" : "svg";
}

AttentionMode resolve_attention(const std::string& flag, bool jenga_preset, const SvgOverrides& o) {
  AttentionMode m = jenga_preset ? AttentionMode::jenga : AttentionMode::dense;
  if (flag == "dense") m = AttentionMode::dense;
  else if (flag == "jenga") m = AttentionMode::jenga;
  else if (flag == "svg") m = AttentionMode::svg;
  else if (!flag.empty()) usage_fail("--attention {}: use dense, jenga or svg", flag);
  if (m == AttentionMode::jenga && !jenga_preset)
    usage_fail("--attention jenga needs a Jenga --preset (base, turbo, flash, 3stage)");
  if (m == AttentionMode::svg && jenga_preset)
    usage_fail("--attention svg runs the dense schedule (official SVG has no ProRes or step reuse); use --preset dense");
  if (m != AttentionMode::svg && o.any())
    usage_fail("--svg-sparsity / --first-times-fp / --first-layers-fp / --num-sampled-rows / --sample-mse-max-row "
               "need --attention svg");
  if (o.sparsity && !(*o.sparsity > 0 && *o.sparsity <= 1)) usage_fail("--svg-sparsity {}: must be in (0, 1]", *o.sparsity);
  if (o.first_times_fp && !(*o.first_times_fp >= 0 && *o.first_times_fp <= 1))
    usage_fail("--first-times-fp {}: must be in [0, 1]", *o.first_times_fp);
  if (o.first_layers_fp && !(*o.first_layers_fp >= 0 && *o.first_layers_fp <= 1))
    usage_fail("--first-layers-fp {}: must be in [0, 1]", *o.first_layers_fp);
  if (o.num_sampled_rows && (*o.num_sampled_rows < 1 || *o.num_sampled_rows > 4096))
    usage_fail("--num-sampled-rows {}: must be in [1, 4096]", *o.num_sampled_rows);
  if (o.sample_mse_max_row && *o.sample_mse_max_row < 1)
    usage_fail("--sample-mse-max-row {}: must be at least 1", *o.sample_mse_max_row);
  return m;
}

void svg_image_to_video_unsupported() {
  usage_fail("--attention svg: HunyuanVideo-I2V is not supported (the official SVG HunyuanVideo path is "
             "text-to-video); use --attention dense");
}

SvgSettings svg_defaults(SvgFamily f) {
  SvgSettings s;
  if (f == SvgFamily::hunyuan) s.sparsity = 0.25, s.first_times_fp = 0.1, s.first_layers_fp = 0.03;
  return s;
}

const char* svg_defaults_source(SvgFamily f) {
  return f == SvgFamily::hunyuan ? "svg-project/Sparse-VideoGen scripts/hyvideo/hyvideo_t2v_720p_svg.sh"
                                 : "svg-project/Sparse-VideoGen scripts/wan/wan_t2v_720p_svg.sh";
}

SvgSettings svg_settings(const SvgOverrides& o, uint64_t seed, SvgFamily f) {
  SvgSettings s = svg_defaults(f);
  s.sparsity = o.sparsity.value_or(s.sparsity);
  s.first_times_fp = o.first_times_fp.value_or(s.first_times_fp);
  s.first_layers_fp = o.first_layers_fp.value_or(s.first_layers_fp);
  s.num_sampled_rows = o.num_sampled_rows.value_or(s.num_sampled_rows);
  s.sample_mse_max_row = o.sample_mse_max_row.value_or(s.sample_mse_max_row);
  s.seed = seed;
  return s;
}

}  // namespace jenga
