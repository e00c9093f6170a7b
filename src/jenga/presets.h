#pragma once
// Jenga presets: every value of the official scripts (dvlab-research/Jenga scripts/*.sh and
// the defaults they rely on) as one data table. Code reads the table; it never special-cases
// a preset by name.
#include <span>
#include <string>
#include <vector>

namespace jenga {

enum class ModelFamily { Wan, Hunyuan };
std::string_view family_name(ModelFamily f);  // "wan", "hunyuan"

struct Preset {
  std::string name;    // "base", "turbo", "flash", "3stage", "multigpu-base", ...
  ModelFamily family;
  std::string script;  // the official script it transcribes
  // false: a jenga.cpp preset that carries a HunyuanVideo preset's settings over to Wan
  // (`carried_from` names it); its values are ours, not an official script's.
  bool official = true;
  std::string carried_from;
  std::string model;   // "t2v-1.3B", "t2v-14B", "HYVideo-T/2-cfgdistill", ...
  int steps = 50;
  int width = 1280, height = 720, frames = 125;  // pixels
  std::vector<double> sa_drop_rates;  // per stage
  double p_remain = 0.5;              // top-p threshold of AttenCarve
  // ProRes. Hunyuan: res-rate-list / step-rate-list / scheduler-shift-list. Wan: turbo means a
  // fixed 0.75 first stage, switch after step 25 and shift + 2 (hard-coded in jenga_wan.py).
  std::vector<double> res_rates = {1.0};
  std::vector<double> step_rates = {1.0};
  std::vector<double> shifts;  // Hunyuan scheduler-shift-list (unused by Wan)
  double flow_shift = 7.0;     // initial shift (Hunyuan --flow-shift, Wan --sample_shift)
  bool wan_turbo = false;
  // Wan: steps after which the next stage starts. The official loop hard-codes 25 (whatever the
  // step count); empty = int(steps * step_rates[k]) as HunyuanVideo does (3stage).
  std::vector<int> wan_switch_steps = {25};
  double guide_scale = 6.0;    // Wan --sample_guide_scale, Hunyuan --embedded-cfg-scale
  // Step reuse. Wan: TeaCache; Hunyuan: a fixed list of computed steps.
  double teacache_thresh = 0.0;
  bool use_ret_steps = false;
  std::vector<int> computed_steps;  // Hunyuan; others reuse the cached residual
  int world_size = 1;               // Hunyuan sequence parallel (ulysses degree)
  int text_blocks = 0;              // AttenCarve text blocks (Hunyuan --txt-block-num)
  double scale_txt_amp = 1.0;       // Hunyuan --scale-txt-amp
};

std::span<const Preset> presets();
// Case-insensitive; throws UsageError listing the valid names.
const Preset& find_preset(ModelFamily family, const std::string& name);
// The names --preset takes before a model is known: dense and every preset's short form (the
// models add their own part: Wan's -1.3b / -14b by its size, HunyuanVideo-I2V's i2v- prefix).
// Which ones a given model runs, it says once loaded (Geometry::presets).
std::vector<std::string> preset_short_names();
// A name some model takes for --preset: a short name above or a preset's full name.
bool is_preset_name(const std::string& name);

// TeaCache rescale polynomials of jenga_wan.py (numpy poly1d order: highest power first).
struct TeaCacheCoefficients {
  std::vector<double> coefficients;
  int ret_steps = 0;         // forward calls always computed at the start (2 per step: cond, uncond)
  int cutoff_from_end = 0;   // calls always computed at the end: cutoff = 2 * steps - this
};
// model: "t2v-1.3B" or "t2v-14B".
TeaCacheCoefficients wan_teacache_coefficients(const std::string& model, bool use_ret_steps);

}  // namespace jenga
