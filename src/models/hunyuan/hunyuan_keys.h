#pragma once
// Where each official HunyuanVideo DiT tensor lives in the diffusers layout
// (HunyuanVideoTransformer3DModel, as diffusers' convert_hunyuan_video_to_diffusers.py writes it).
#include <string>
#include <vector>

namespace jenga::hunyuan {

enum class Combine {
  One,         // the official tensor is parts[0] renamed
  ConcatRows,  // fused: the official tensor is the parts stacked along dim 0 (qkv, single linear1)
  SwapHalves,  // final_layer.adaLN_modulation.1: diffusers stores [scale; shift], official [shift; scale]
};

struct DiffusersSource {
  std::vector<std::string> parts;
  Combine combine = Combine::One;
};

// `official`: a name of official_tensors(); throws on a name it does not know.
DiffusersSource diffusers_source(const std::string& official);

}  // namespace jenga::hunyuan
