#pragma once
// The HunyuanVideo causal 3D VAE (official hyvideo/vae: AutoencoderKLCausal3D, EncoderCausal3D,
// DecoderCausal3D) as plain layer lists, weights in f32 with conv kernels repacked for the CPU
// backend. Tensor names are the official ones, which diffusers' AutoencoderKLHunyuanVideo and
// ComfyUI's hunyuan_video_vae_bf16.safetensors share; a "vae." prefix (and a "state_dict."
// wrapper) is stripped as the official loader does.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backend/cpu/conv.h"
#include "core/tensor.h"
#include "io/frames.h"
#include "models/hunyuan/hunyuan_vae_config.h"

namespace jenga {
class Checkpoint;
}

namespace jenga::hunyuan {

struct HyVaeGroupNorm {
  std::vector<float> weight, bias;  // [c]
};

// CausalConv3d (replicate padding, kt - 1 frames in front) with its stride (t, s, s).
struct HyVaeConv {
  cpu::PackedConv conv;
  int tstride = 1, sstride = 1;
};

struct HyVaeResBlock {
  HyVaeGroupNorm norm1, norm2;  // [in], [out]
  HyVaeConv conv1, conv2;       // 3x3x3: in -> out, out -> out
  std::optional<HyVaeConv> shortcut;  // 1x1x1 when in != out (conv_shortcut)
};

// diffusers Attention(c, heads 1, GroupNorm, residual) over all tokens, frame-causal.
struct HyVaeAttention {
  HyVaeGroupNorm norm;
  cpu::PackedConv to_q, to_k, to_v, to_out;  // Linear [c, c] + bias as 1x1x1
};

struct HyVaeMidBlock {
  std::vector<HyVaeResBlock> resnets;              // attentions.size() + 1
  std::vector<std::optional<HyVaeAttention>> attentions;
};

// Encoder: resnets then an optional strided CausalConv3d (downsamplers.0.conv).
// Decoder: resnets then an optional nearest upsample (first frame spatially only) + CausalConv3d.
struct HyVaeStage {
  std::vector<HyVaeResBlock> resnets;
  std::optional<HyVaeConv> resample;
  int t_factor = 1, s_factor = 1;  // stride (down) or upsample factor (up)
};

struct HyVaeCoder {
  HyVaeConv conv_in;
  std::vector<HyVaeStage> stages;  // down_blocks (encoder) or up_blocks (decoder), run in order
  HyVaeMidBlock mid;
  HyVaeGroupNorm norm_out;
  HyVaeConv conv_out;
  int64_t time_factor = 1, space_factor = 1;  // product of the stages' factors
};

struct HunyuanVae {
  HunyuanVaeConfig config;
  HyVaeCoder decoder;
  cpu::PackedConv post_quant;  // 1x1x1 z -> z, before the decoder
  bool has_encoder = false;
  HyVaeCoder encoder;
  cpu::PackedConv quant_mean;  // the mean half of quant_conv (2z -> 2z): 2z -> z
  std::string source;          // weights path
  std::string layout;          // what the names looked like (for inspect)

  // `path`: a weights file (safetensors; .pt once Checkpoint reads it) or a folder holding one
  // plus config.json (official vae/ or diffusers vae/). A config.json beside a lone file is used
  // when it describes this VAE. Throws a one-line Error on anything the official class would
  // refuse (missing/unexpected/misshapen tensors, a config the weights contradict).
  static HunyuanVae load(const std::string& path);
  static HunyuanVae load(const Checkpoint& ckpt, const HunyuanVaeConfig& config);
};

// Every official tensor name and shape for a config (decoder and encoder), in load order.
std::vector<std::pair<std::string, std::vector<int64_t>>> hunyuan_vae_tensors(const HunyuanVaeConfig& config);

// True when the tensor names are this VAE's (official / diffusers / ComfyUI, optional prefix).
bool looks_like_hunyuan_vae(const Checkpoint& ckpt);

// The weights file and config.json for `path` (file or folder): folder -> its *.safetensors
// (or pytorch_model.pt), config.json inside; file -> itself, a config.json beside it if that
// is a HunyuanVideo VAE config.
struct HunyuanVaeFiles {
  std::string weights;  // what Checkpoint::open gets
  std::optional<std::string> config_json;
};
HunyuanVaeFiles resolve_hunyuan_vae_files(const std::string& path);

// The config for a checkpoint: config.json when given (checked against the shapes), else
// inferred from the shapes with published values for norm groups, compression, tiles, scaling.
HunyuanVaeConfig hunyuan_vae_config_for(const Checkpoint& ckpt, const std::optional<std::string>& config_json);

// Frames [3, F, H, W] (decoder output, [-1, 1] nominal) -> 8-bit RGB as the official writer
// does: (x / 2 + 0.5).clamp(0, 1) * 255, truncated (pipeline_hunyuan_video.py, save_videos_grid).
Frames hunyuan_frames_to_rgb(const Tensor& frames);

}  // namespace jenga::hunyuan
