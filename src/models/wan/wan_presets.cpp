#include "models/wan/wan_presets.h"

#include "jenga/schedule.h"

namespace jenga {

std::optional<Preset> wan_preset_for(const std::string& name, const std::string& size_name, const JengaOverrides& o,
                                     int steps) {
  check_jenga_overrides(name, o);
  check_wan_jenga_overrides(o);
  if (name.empty() || name == "dense") return std::nullopt;
  const std::string size = size_name == "14B" ? "14b" : "1.3b";
  std::string full = name;
  if (name.find('-') == std::string::npos) full = name + "-" + size;
  Preset p = find_preset(ModelFamily::Wan, full);
  if (!o.sa_drop_rates.empty()) p.sa_drop_rates = o.sa_drop_rates;
  if (o.p_remain_rates) p.p_remain = *o.p_remain_rates;
  if (!o.res_rate_list.empty()) {
    p.res_rates = o.res_rate_list;
    p.wan_turbo = o.res_rate_list[0] != 1.0;
  }
  if (o.teacache_thresh) p.teacache_thresh = *o.teacache_thresh;
  // The step count must fit the preset's stage switches: checked now, before any heavy work.
  Preset sized = p;
  (void)build_plan(sized, steps);
  return p;
}

}  // namespace jenga
