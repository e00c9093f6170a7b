#pragma once
// The official Jenga flags a user may set over a preset (same names and meanings as the official
// scripts), for any model: checked before any heavy work, applied by the model's preset lookup.
#include <optional>
#include <string>
#include <vector>

namespace jenga {

struct JengaOverrides {
  std::vector<double> sa_drop_rates;  // per stage (Wan: before / after step 25)
  std::vector<double> res_rate_list;  // per stage, the last 1.0 (Wan: {r, 1.0})
  std::optional<double> p_remain_rates, teacache_thresh;  // teacache 0 = every forward computed
  // HunyuanVideo's ProRes lists (jenga_hyvideo.py --step-rate-list / --scheduler-shift-list) and
  // its text amplifier scale (--scale-txt-amp).
  std::vector<double> step_rate_list, scheduler_shift_list;
  std::optional<double> scale_txt_amp;
  bool any() const {
    return !sa_drop_rates.empty() || !res_rate_list.empty() || p_remain_rates || teacache_thresh ||
           !step_rate_list.empty() || !scheduler_shift_list.empty() || scale_txt_amp;
  }
};
// Throws UsageError on values no official loop can run (before any heavy work); a model's
// preset lookup checks what only it needs (e.g. wan_jenga_overrides below).
void check_jenga_overrides(const std::string& preset, const JengaOverrides& o);
// Wan2.1's loop: one or two drop rates, {r, 1.0}, no HunyuanVideo-only lists.
void check_wan_jenga_overrides(const JengaOverrides& o);

}  // namespace jenga
