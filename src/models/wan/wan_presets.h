#pragma once
// Wan2.1's --preset names: the official Jenga Wan scripts (base, turbo) and the HunyuanVideo
// settings carried onto the Wan loop (flash, 3stage), per model size.
#include <optional>
#include <string>

#include "jenga/preset_overrides.h"
#include "jenga/presets.h"

namespace jenga {

// Resolves `--preset NAME` for a Wan model of `size_name` ("1.3B" / "14B") with the overrides
// applied: "dense" gives none. `steps` is checked against the preset's stage switch.
std::optional<Preset> wan_preset_for(const std::string& name, const std::string& size_name,
                                     const JengaOverrides& overrides = {}, int steps = 50);

}  // namespace jenga
