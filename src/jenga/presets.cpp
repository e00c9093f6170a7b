#include "jenga/presets.h"

#include <algorithm>
#include <cctype>
#include <tuple>

#include "core/error.h"

namespace jenga {

std::string_view family_name(ModelFamily f) { return f == ModelFamily::Wan ? "wan" : "hunyuan"; }

namespace {

// jenga_hyvideo.py non_skip_steps and jenga_hyi2v.py step_calc.
const std::vector<int> kHunyuanT2VSteps = {0, 1, 2, 3, 4, 7, 10, 13, 16, 19, 22, 25, 26, 29, 32, 35, 38, 41, 43, 45, 46, 47, 49};
const std::vector<int> kHunyuanI2VSteps = {0,  1,  2,  3,  5,  7,  10, 13, 16, 19, 22, 25,
                                           28, 31, 34, 37, 40, 42, 44, 45, 46, 47, 48, 49};

Preset wan(std::string name, std::string script, std::string model, int w, int h, double p,
           std::vector<double> drops, bool turbo) {
  Preset x;
  x.name = std::move(name);
  x.family = ModelFamily::Wan;
  x.script = std::move(script);
  x.model = std::move(model);
  x.steps = 50;
  x.width = w;
  x.height = h;
  x.frames = 81;
  x.sa_drop_rates = std::move(drops);
  x.p_remain = p;
  x.wan_turbo = turbo;
  x.res_rates = turbo ? std::vector<double>{0.75, 1.0} : std::vector<double>{1.0, 1.0};
  x.flow_shift = 8.0;
  x.guide_scale = 6.0;
  x.teacache_thresh = 0.15;
  x.use_ret_steps = true;
  return x;
}

Preset hy(std::string name, std::string script, std::vector<double> drops, double p, std::vector<double> res,
          std::vector<double> steps, std::vector<double> shifts, int world = 1) {
  Preset x;
  x.name = std::move(name);
  x.family = ModelFamily::Hunyuan;
  x.script = std::move(script);
  x.model = "HYVideo-T/2-cfgdistill";
  x.steps = 50;
  x.width = 1280;
  x.height = 720;
  x.frames = 125;
  x.sa_drop_rates = std::move(drops);
  x.p_remain = p;
  x.res_rates = std::move(res);
  x.step_rates = std::move(steps);
  x.shifts = std::move(shifts);
  x.flow_shift = 7.0;
  x.guide_scale = 6.0;
  x.computed_steps = kHunyuanT2VSteps;
  x.world_size = world;
  x.text_blocks = 2;
  return x;
}

std::vector<Preset> make_table() {
  std::vector<Preset> t;
  t.push_back(wan("base-1.3b", "wan_1.3B_jenga_base.sh", "t2v-1.3B", 832, 480, 0.9, {0.75, 0.85}, false));
  t.push_back(wan("turbo-1.3b", "wan_1.3B_jenga_turbo.sh", "t2v-1.3B", 832, 480, 0.9, {0.75, 0.85}, true));
  t.push_back(wan("base-14b", "wan_14B_jenga_base.sh", "t2v-14B", 1280, 720, 0.8, {0.7, 0.8}, false));
  t.push_back(wan("turbo-14b", "wan_14B_jenga_turbo.sh", "t2v-14B", 1280, 720, 0.9, {0.5, 0.9}, true));
  // Not official for Wan: HunyuanVideo Flash's drop rates and top-p (hyvideo_jenga_flash.sh) and
  // 3Stage's resolutions, step split and drop rates (hyvideo_jenga_3stage.sh) on the Wan Turbo
  // loop (shift + 2 at each switch as Wan Turbo does; 3stage keeps Wan's top-p). docs/presets.md
  // has their measured drift.
  for (auto [size, model, w, h] : {std::tuple{"1.3b", "t2v-1.3B", 832, 480}, std::tuple{"14b", "t2v-14B", 1280, 720}}) {
    Preset f = wan(std::string("flash-") + size, "jenga.cpp: hyvideo_jenga_flash.sh settings on the Wan Turbo loop",
                   model, w, h, 0.5, {0.8, 0.95}, true);
    f.official = false;
    f.carried_from = "flash";
    t.push_back(f);
    Preset p = wan(std::string("3stage-") + size, "jenga.cpp: hyvideo_jenga_3stage.sh settings on the Wan Turbo loop",
                   model, w, h, 0.9, {0.75, 0.85, 0.85}, true);
    p.res_rates = {0.5, 0.75, 1.0};
    p.step_rates = {0.3, 0.5, 1.0};
    p.wan_switch_steps.clear();
    p.official = false;
    p.carried_from = "3stage";
    t.push_back(p);
  }

  t.push_back(hy("base", "hyvideo_jenga_base.sh", {0.75, 0.85}, 0.3, {1.0, 1.0}, {0.5, 1.0}, {7, 7}));
  t.push_back(hy("turbo", "hyvideo_jenga_turbo.sh", {0.7, 0.8}, 0.3, {0.75, 1.0}, {0.5, 1.0}, {7, 9}));
  t.push_back(hy("flash", "hyvideo_jenga_flash.sh", {0.8, 0.95}, 0.5, {0.75, 1.0}, {0.5, 1.0}, {7, 9}));
  t.push_back(hy("3stage", "hyvideo_jenga_3stage.sh", {0.75, 0.85, 0.85}, 0.3, {0.5, 0.75, 1.0}, {0.3, 0.5, 1.0},
                 {7, 9, 11}));
  t.push_back(hy("multigpu-base", "hyvideo_multigpu_jenga_base.sh", {0.75, 0.85}, 0.3, {1.0, 1.0}, {0.5, 1.0}, {7, 7}, 8));
  t.push_back(hy("multigpu-turbo", "hyvideo_multigpu_jenga_turbo.sh", {0.75, 0.85}, 0.3, {0.75, 1.0}, {0.5, 1.0},
                 {7, 9}, 8));
  t.push_back(hy("multigpu-flash", "hyvideo_multigpu_jenga_flash.sh", {0.8, 0.95}, 0.5, {0.75, 1.0}, {0.5, 1.0},
                 {7, 9}, 8));
  t.push_back(hy("multigpu-3stage", "hyvideo_multigpu_jenga_3stage.sh", {0.75, 0.85, 0.85}, 0.3, {0.5, 0.75, 1.0},
                 {0.3, 0.5, 1.0}, {7, 9, 11}, 8));
  Preset acc = hy("accvideo", "accvideo_jenga.sh", {0.7, 0.8}, 0.3, {0.75, 1.0}, {0.5, 1.0}, {7, 9});
  acc.model = "AccVideo t2v-5-steps";
  acc.steps = 5;
  t.push_back(acc);
  Preset i2v = hy("i2v-base", "hyi2v_jenga_base.sh", {0.75, 0.85}, 0.3, {1.0, 1.0}, {0.5, 1.0}, {7, 7});
  i2v.model = "HYVideo-T/2 (i2v, 720p)";
  i2v.flow_shift = 5.0;
  i2v.computed_steps = kHunyuanI2VSteps;
  i2v.text_blocks = 4;  // hyvideo_i2v block_sparse_attention default (not passed by the model)
  t.push_back(i2v);
  return t;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::span<const Preset> presets() {
  static const std::vector<Preset> table = make_table();
  return table;
}

const Preset& find_preset(ModelFamily family, const std::string& name) {
  std::string valid = "dense";  // the official loop: every caller's --preset takes it besides the table's plans
  for (const auto& p : presets()) {
    if (p.family != family) continue;
    if (p.name == lower(name)) return p;
    valid += ", " + p.name;
  }
  usage_fail("--preset {}: not a {} preset; use one of {}", name, family_name(family), valid);
}

std::vector<std::string> preset_short_names() {
  std::vector<std::string> out{"dense"};
  for (const auto& p : presets()) {
    std::string n = p.name;
    for (const std::string suffix : {"-1.3b", "-14b"})
      if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
        n.resize(n.size() - suffix.size());
    if (n.rfind("i2v-", 0) == 0) n.erase(0, 4);
    if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  }
  return out;
}

bool is_preset_name(const std::string& name) {
  const std::string n = lower(name);
  const auto shorts = preset_short_names();
  if (std::find(shorts.begin(), shorts.end(), n) != shorts.end()) return true;
  for (const auto& p : presets())
    if (p.name == n) return true;
  return false;
}

TeaCacheCoefficients wan_teacache_coefficients(const std::string& model, bool use_ret_steps) {
  const bool big = model.find("14B") != std::string::npos;
  if (!big && model.find("1.3B") == std::string::npos)
    usage_fail("TeaCache coefficients: model {} is neither t2v-1.3B nor t2v-14B", model);
  TeaCacheCoefficients c;
  if (use_ret_steps) {
    c.coefficients = big ? std::vector<double>{-3.03318725e+05, 4.90537029e+04, -2.65530556e+03, 5.87365115e+01,
                                               -3.15583525e-01}
                         : std::vector<double>{-5.21862437e+04, 9.23041404e+03, -5.28275948e+02, 1.36987616e+01,
                                               -4.99875664e-02};
    c.ret_steps = 10;
    c.cutoff_from_end = 0;
  } else {
    c.coefficients = big ? std::vector<double>{-5784.54975374, 5449.50911966, -1811.16591783, 256.27178429,
                                               -13.02252404}
                         : std::vector<double>{2.39676752e+03, -1.31110545e+03, 2.01331979e+02, -8.29855975e+00,
                                               1.37887774e-01};
    c.ret_steps = 2;
    c.cutoff_from_end = 2;
  }
  return c;
}

}  // namespace jenga
