#pragma once
// The Wan2.1 VAE (official wan/modules/vae.py: WanVAE_, Encoder3d, Decoder3d) as plain layer
// lists whose structure is read from the checkpoint's official key names (base width, z_dim,
// stages, res blocks, which resamples are temporal), so tiny test VAEs load with no flags.
// Weights are held in f32, conv kernels repacked for the CPU backend.
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "backend/cpu/conv.h"

namespace jenga {
class Checkpoint;
}

namespace jenga::wan {

// CausalConv3d: temporal kernel 1 or 3 (then front-padded in time by 2, via the cache),
// symmetric spatial zero padding `pad`.
struct VaeCausalConv {
  cpu::PackedConv conv;
  int pad = 0;
  int cache_slot = -1;  // temporal cache slot when conv.kt == 3
};

struct VaeResBlock {
  std::vector<float> gamma1, gamma2;  // [in], [out]
  VaeCausalConv conv1, conv2;
  bool has_shortcut = false;
  VaeCausalConv shortcut;  // 1x1x1 when in != out
};

// Single-head self-attention over the pixels of each frame (middle block).
struct VaeAttnBlock {
  std::vector<float> gamma;  // [c]
  cpu::PackedConv to_qkv;    // 1x1, c -> 3c
  cpu::PackedConv proj;      // 1x1, c -> c
};

enum class ResampleMode { Upsample2d, Upsample3d, Downsample2d, Downsample3d };

struct VaeResample {
  ResampleMode mode = ResampleMode::Upsample2d;
  cpu::PackedConv spatial;    // Conv2d 3x3: c -> c/2 (up) or c -> c stride 2 (down)
  cpu::PackedConv time_conv;  // 3d modes: (3,1,1), c -> 2c (up) or c -> c stride 2 in time (down)
  int cache_slot = -1;
};

using VaeLayer = std::variant<VaeResBlock, VaeAttnBlock, VaeResample>;

// Encoder3d or Decoder3d: conv_in, layers (middle and stages in execution order), head.
struct VaeCoder {
  VaeCausalConv conv_in;
  std::vector<VaeLayer> layers;
  std::vector<float> head_gamma;
  VaeCausalConv conv_out;
  int cache_slots = 0;  // temporal caches one streaming pass needs
  int temporal_factor = 1, spatial_factor = 1;
};

struct WanVae {
  int64_t z_dim = 0, base_dim = 0;
  VaeCoder decoder;
  cpu::PackedConv post_quant;  // official `conv2`, 1x1x1 z -> z (applied before the decoder)
  bool has_encoder = false;
  VaeCoder encoder;
  cpu::PackedConv quant;  // official `conv1`, 1x1x1 2z -> 2z (after the encoder)
  std::string source;

  // Reads a VAE with the official key names (encoder.*, conv1, conv2, decoder.*); throws an
  // Error naming `ckpt.path()` if it is not one. The encoder is optional.
  static WanVae load(const Checkpoint& ckpt);
};

// True when the checkpoint looks like a Wan VAE (used to name the role of a wrong file).
bool looks_like_wan_vae(const Checkpoint& ckpt);

// Official per-channel latent statistics (WanVAE.__init__), z_dim 16.
extern const float kWanLatentMean[16];
extern const float kWanLatentStd[16];

}  // namespace jenga::wan
