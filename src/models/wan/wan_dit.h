#pragma once
// A loaded Wan2.1 DiT: config + weights + where they came from. Backend-neutral: the CPU
// forward (wan_dit_cpu.h) and a device forward both take this.
#include <string>

#include "models/wan/wan_config.h"
#include "models/wan/wan_weights.h"

namespace jenga::wan {

struct WanDit {
  WanConfig config;
  Layout layout = Layout::Official;
  std::string source;  // the folder or file it was loaded from
  WanWeights weights;
};

// `path`: a checkpoint folder (official or diffusers `transformer/`, or a whole diffusers
// pipeline folder, whose transformer/ is used), a sharded index, or a single .safetensors file
// (e.g. ComfyUI). A config.json beside the weights is read when present, in the official
// (dim, num_heads, ...) or diffusers (num_attention_heads, ...) format; without one the shapes
// decide and the head dim is taken as 128 (every published Wan2.1 DiT).
// `matrix_dtype`: see load_wan_weights (F32 for the CPU forward, BF16 is enough for the GPU).
// `on_block`: see load_wan_weights (progress while loading).
WanDit load_wan_dit(const std::string& path, DType matrix_dtype = DType::F32,
                    const std::function<void(int64_t, int64_t)>& on_block = {});

}  // namespace jenga::wan
