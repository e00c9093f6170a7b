#include "jenga/preset_overrides.h"

#include "core/error.h"

namespace jenga {

void check_jenga_overrides(const std::string& preset, const JengaOverrides& r) {
  for (double d : r.sa_drop_rates)
    if (!(d >= 0 && d < 1)) usage_fail("--sa-drop-rates {}: each rate must be in [0, 1)", d);
  if (r.sa_drop_rates.size() > 2) usage_fail("--sa-drop-rates: Wan takes one or two rates (before / after step 25)");
  if (r.p_remain_rates && !(*r.p_remain_rates > 0 && *r.p_remain_rates <= 1))
    usage_fail("--p-remain-rates {}: must be in (0, 1]", *r.p_remain_rates);
  if (!r.res_rate_list.empty() &&
      (r.res_rate_list.size() != 2 || r.res_rate_list[1] != 1.0 || !(r.res_rate_list[0] > 0 && r.res_rate_list[0] <= 1)))
    usage_fail("--res-rate-list: Wan takes two rates, the first stage's in (0, 1] and 1.0 (e.g. 0.75 1.0)");
  if (r.teacache_thresh && !(*r.teacache_thresh >= 0)) usage_fail("--teacache-thresh {}: must be >= 0", *r.teacache_thresh);
  if ((preset.empty() || preset == "dense") && r.any())
    usage_fail("--sa-drop-rates / --p-remain-rates / --res-rate-list / --teacache-thresh need a Jenga --preset "
               "(base, turbo, flash)");
}

}  // namespace jenga
