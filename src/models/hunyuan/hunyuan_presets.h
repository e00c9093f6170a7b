#pragma once
// HunyuanVideo's --preset names: the official Jenga scripts (hyvideo_jenga_{base,turbo,flash,
// 3stage}.sh, the multi-GPU ones, accvideo_jenga.sh) with the official flags applied over them.
#include <optional>
#include <string>

#include "jenga/preset_overrides.h"
#include "models/hunyuan/hunyuan_folder.h"
#include "jenga/presets.h"

namespace jenga::hunyuan {

// `accvideo`: the DiT is AccVideo's 5-step distillation (it takes "accvideo"; the T2V DiT takes
// the others). "dense" gives none. steps <= 0: the preset's. UsageError on anything the
// official loop cannot run.
std::optional<Preset> hunyuan_preset_for(const std::string& name, bool accvideo, const JengaOverrides& o, int steps);
// By release: I2V runs "base" (= i2v-base, jenga_hyi2v.py's hyi2v_jenga_base.sh) and dense.
std::optional<Preset> hunyuan_preset_for(const std::string& name, Release release, const JengaOverrides& o, int steps);

}  // namespace jenga::hunyuan
