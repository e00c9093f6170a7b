#include "models/hunyuan/hunyuan_presets.h"

#include "core/error.h"
#include "jenga/schedule.h"

namespace jenga::hunyuan {

std::optional<Preset> hunyuan_preset_for(const std::string& name, bool accvideo, const JengaOverrides& o, int steps,
                                         bool i2v);

std::optional<Preset> hunyuan_preset_for(const std::string& name, Release release, const JengaOverrides& o, int steps) {
  return hunyuan_preset_for(release == Release::I2V && name == "base" ? std::string("i2v-base") : name,
                            release == Release::AccVideo, o, steps, release == Release::I2V);
}

std::optional<Preset> hunyuan_preset_for(const std::string& name, bool accvideo, const JengaOverrides& o, int steps) {
  return hunyuan_preset_for(name, accvideo, o, steps, false);
}

std::optional<Preset> hunyuan_preset_for(const std::string& name, bool accvideo, const JengaOverrides& o, int steps,
                                         bool i2v) {
  check_jenga_overrides(name, o);
  if (name.empty() || name == "dense") return std::nullopt;
  Preset p = find_preset(ModelFamily::Hunyuan, name);
  if (p.name == "i2v-base" && !i2v) usage_fail("--preset i2v-base is HunyuanVideo-I2V's; this DiT is text-to-video");
  if (i2v && p.name != "i2v-base")
    usage_fail("--preset {}: HunyuanVideo-I2V runs --preset base (jenga_hyi2v.py, hyi2v_jenga_base.sh) or dense", name);
  if (accvideo && p.name != "accvideo")
    usage_fail("--preset {}: the AccVideo DiT runs --preset accvideo (accvideo_jenga.sh, 5 steps) or dense", name);
  if (!accvideo && p.name == "accvideo")
    usage_fail("--preset accvideo is for the AccVideo DiT (accvideo-t2v-5-steps); pass it with --diffusion-model "
               "(or add --accvideo)");
  if (o.teacache_thresh)
    usage_fail("--teacache-thresh: HunyuanVideo's Jenga reuses steps by the fixed list of jenga_hyvideo.py, not TeaCache");
  if (!o.sa_drop_rates.empty()) p.sa_drop_rates = o.sa_drop_rates;
  if (o.p_remain_rates) p.p_remain = *o.p_remain_rates;
  if (!o.res_rate_list.empty()) p.res_rates = o.res_rate_list;
  if (!o.step_rate_list.empty()) p.step_rates = o.step_rate_list;
  if (!o.scheduler_shift_list.empty()) p.shifts = o.scheduler_shift_list;
  if (o.scale_txt_amp) p.scale_txt_amp = *o.scale_txt_amp;
  const size_t stages = p.res_rates.size();
  if (p.step_rates.size() != stages || p.shifts.size() != stages)
    usage_fail("--res-rate-list, --step-rate-list and --scheduler-shift-list need one entry per stage (got {}, {} and {})",
               p.res_rates.size(), p.step_rates.size(), p.shifts.size());
  if (p.sa_drop_rates.size() < stages || (!o.sa_drop_rates.empty() && o.sa_drop_rates.size() != stages))
    usage_fail("--sa-drop-rates: one rate per stage ({} stages, got {})", stages, p.sa_drop_rates.size());
  if (steps > 0) p.steps = steps;
  (void)build_plan(p, p.steps);  // step counts the stage switches cannot take fail now
  return p;
}

}  // namespace jenga::hunyuan
