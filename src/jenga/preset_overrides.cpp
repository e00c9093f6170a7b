#include "jenga/preset_overrides.h"

#include <cmath>

#include "core/error.h"

namespace jenga {

void check_jenga_overrides(const std::string& preset, const JengaOverrides& r) {
  for (double d : r.sa_drop_rates)
    if (!(d >= 0 && d < 1)) usage_fail("--sa-drop-rates {}: each rate must be in [0, 1)", d);
  if (r.sa_drop_rates.size() > 3) usage_fail("--sa-drop-rates: one rate per stage, at most 3");
  if (r.p_remain_rates && !(*r.p_remain_rates > 0 && *r.p_remain_rates <= 1))
    usage_fail("--p-remain-rates {}: must be in (0, 1]", *r.p_remain_rates);
  if (!r.res_rate_list.empty()) {
    if (r.res_rate_list.size() > 3 || r.res_rate_list.back() != 1.0)
      usage_fail("--res-rate-list: one rate per stage (at most 3), each in (0, 1], the last 1.0 (e.g. 0.75 1.0)");
    for (double x : r.res_rate_list)
      if (!(x > 0 && x <= 1)) usage_fail("--res-rate-list {}: each rate must be in (0, 1]", x);
  }
  if (!r.step_rate_list.empty()) {
    if (r.step_rate_list.size() > 3 || r.step_rate_list.back() != 1.0)
      usage_fail("--step-rate-list: one fraction of the steps per stage (at most 3), increasing, the last 1.0 "
                 "(e.g. 0.5 1.0)");
    for (size_t k = 0; k < r.step_rate_list.size(); ++k)
      if (!(r.step_rate_list[k] > 0 && r.step_rate_list[k] <= 1) || (k && r.step_rate_list[k] <= r.step_rate_list[k - 1]))
        usage_fail("--step-rate-list {}: fractions in (0, 1], increasing", r.step_rate_list[k]);
  }
  for (double s : r.scheduler_shift_list)
    if (!(s >= 0.01 && s <= 100)) usage_fail("--scheduler-shift-list {}: each shift must be between 0.01 and 100", s);
  if (r.scheduler_shift_list.size() > 3) usage_fail("--scheduler-shift-list: one shift per stage, at most 3");
  if (r.scale_txt_amp && !std::isfinite(*r.scale_txt_amp)) usage_fail("--scale-txt-amp: must be a number");
  if (r.teacache_thresh && !(*r.teacache_thresh >= 0)) usage_fail("--teacache-thresh {}: must be >= 0", *r.teacache_thresh);
  if ((preset.empty() || preset == "dense") && r.any())
    usage_fail("--sa-drop-rates / --p-remain-rates / --res-rate-list / --step-rate-list / --scheduler-shift-list / "
               "--scale-txt-amp / --teacache-thresh need a Jenga --preset (base, turbo, flash, 3stage)");
}

void check_wan_jenga_overrides(const JengaOverrides& r) {
  if (r.sa_drop_rates.size() > 2) usage_fail("--sa-drop-rates: Wan takes one or two rates (before / after step 25)");
  if (!r.res_rate_list.empty() && r.res_rate_list.size() != 2)
    usage_fail("--res-rate-list: Wan takes two rates, the first stage's in (0, 1] and 1.0 (e.g. 0.75 1.0)");
  if (!r.step_rate_list.empty() || !r.scheduler_shift_list.empty() || r.scale_txt_amp)
    usage_fail("--step-rate-list / --scheduler-shift-list / --scale-txt-amp are HunyuanVideo's; Wan's loop switches "
               "after step 25 with shift + 2");
}

}  // namespace jenga
