#pragma once
// The official Jenga flags a user may set over a preset (same names and meanings as the official
// scripts), for any model: checked before any heavy work, applied by the model's preset lookup.
#include <optional>
#include <string>
#include <vector>

namespace jenga {

struct JengaOverrides {
  std::vector<double> sa_drop_rates;  // one or two (before / after step 25)
  std::vector<double> res_rate_list;  // {r, 1.0}
  std::optional<double> p_remain_rates, teacache_thresh;  // teacache 0 = every forward computed
  bool any() const { return !sa_drop_rates.empty() || !res_rate_list.empty() || p_remain_rates || teacache_thresh; }
};
// Throws UsageError on values the official loop cannot run (before any heavy work).
void check_jenga_overrides(const std::string& preset, const JengaOverrides& o);

}  // namespace jenga
