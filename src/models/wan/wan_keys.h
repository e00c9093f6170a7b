#pragma once
// Key maps: the name a tensor of the official Wan2.1 DiT has in each published layout.
// One function per layout; all three take the official name (wan_config.h: official_tensors).
#include <string>
#include <vector>

#include "models/wan/wan_config.h"

namespace jenga {
class Checkpoint;
}

namespace jenga::wan {

inline constexpr const char* kComfyPrefix = "model.diffusion_model.";

// Official -> diffusers (`transformer/` of Wan-AI/Wan2.1-*-Diffusers, as written by diffusers'
// scripts/convert_wan_to_diffusers.py). Throws for a name outside the official model.
std::string diffusers_key(const std::string& official);
// Official -> ComfyUI single file: "model.diffusion_model." + official.
std::string comfyui_key(const std::string& official);
// Dispatch on the layout (official is the identity).
std::string layout_key(Layout layout, const std::string& official);

// Tensors that may sit next to the weights without being weights: fp8 scales of ComfyUI
// "scaled fp8" files (per weight "<w>.scale_weight" / "<w>.weight_scale", activation scales, the
// "scaled_fp8" marker), and tensors of other components in a ComfyUI all-in-one file.
bool is_auxiliary_tensor(Layout layout, const std::string& name);

// Throws one jenga::Error naming the first few missing and unexpected tensors (and how many)
// when the checkpoint does not hold exactly the tensors of `config` in `layout`.
void check_tensor_set(const Checkpoint& ckpt, Layout layout, const WanConfig& config);

}  // namespace jenga::wan
