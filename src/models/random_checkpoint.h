#pragma once
// A random model folder for tests and benchmarks: diffusion_pytorch_model.safetensors with the
// given tensors (one Philox stream, tensors take consecutive ranges) and a config.json, each written
// to a temporary name and moved into place. Shared by the Wan and HunyuanVideo tiny-model writers.
// Files are streamed: values are made chunk by chunk (OpenMP over the chunk) while a second thread
// writes the previous chunk, so a full-size model (tens of GB) never sits in memory.
#include <cstdint>
#include <functional>
#include <map>
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

using TensorShapes = std::vector<std::pair<std::string, std::vector<int64_t>>>;
using SpecialInit = std::function<std::optional<RandomInit>(const std::string& name)>;

struct RandomTensor {
  std::string name;
  std::vector<int64_t> shape;
  RandomInit init;
};

// Each tensor's init: `special`'s, else 1/sqrt(fan_in) for ".weight" tensors and 0.02 otherwise.
std::vector<RandomTensor> random_tensor_plan(const TensorShapes& tensors, const SpecialInit& special);

// Writes one safetensors file of `tensors` in `dtype` (path + ".tmp", then renamed): element i of
// the data comes from Philox stream `seed` at counter `offset` + i (tensors take consecutive
// ranges). Returns the counter after the last tensor, for the next file of the same stream.
uint64_t write_random_safetensors(const std::string& path, const std::vector<RandomTensor>& tensors, uint64_t seed,
                                  uint64_t offset, DType dtype, const std::map<std::string, std::string>& metadata);

// The same tensors as `shards` files "model-0000k-of-0000n.safetensors" in `dir` (split where
// the bytes so far pass k/n of the total) + "model.safetensors.index.json", as Hugging Face's
// save_pretrained lays out a large model; one Philox stream over all shards.
void write_random_sharded(const std::string& dir, const std::vector<RandomTensor>& tensors, uint64_t seed, DType dtype,
                          int shards, const std::map<std::string, std::string>& metadata);

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
