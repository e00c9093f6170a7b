#pragma once
// A random model folder for tests and benchmarks: diffusion_pytorch_model.safetensors with the
// given tensors (one Philox stream, tensors take consecutive ranges) and a config.json, each written
// to a temporary name and moved into place. Shared by the Wan and HunyuanVideo tiny-model writers.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dtype.h"

namespace jenga {

// value = shift + scale * N(0, 1)
struct RandomInit {
  float scale = 0.02f, shift = 0.0f;
};

bool name_ends_with(const std::string& s, const std::string& suffix);

// `special` picks the init of tensors that need their own (norm scales, modulation); the rest get
// 1/sqrt(fan_in) for ".weight" tensors and 0.02 otherwise, which keeps activations O(1).
void write_random_model_folder(const std::string& dir,
                               const std::vector<std::pair<std::string, std::vector<int64_t>>>& tensors,
                               const nlohmann::json& config, uint64_t seed, DType dtype,
                               const std::function<std::optional<RandomInit>(const std::string& name)>& special);

// Rewrites the safetensors file `path` in ComfyUI's scaled-fp8 form (what its *_fp8_scaled
// files hold): every matrix (a ".weight" of 2+ dims) as fp8 e4m3 of w / s beside
// "X.scale_weight" = [s] (f32), s = max|w| / 448 (the e4m3 range), every other tensor bf16.
void rewrite_as_scaled_fp8(const std::string& path);

}  // namespace jenga
