#pragma once
// The built-in tiny random Wan2.1 model: a 2-layer DiT, a random umT5, the tests' tiny VAE and
// SentencePiece model, written as the published Wan2.1-T2V-1.3B folder (same file names, the
// VAE and umT5 as the converted .safetensors), so every loader and the folder resolution run as
// they do for a real model. It makes noise-like videos: it proves the path works, nothing more.
// The registry (models/registry.h) opens it when no model is given.
#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "models/wan/wan_config.h"

namespace jenga {

struct TinyModelPaths {
  std::string dit, vae, t5, tokenizer;
};

// DIR/diffusion_pytorch_model.safetensors + config.json (a random DiT of `dit`'s shape, as
// `debug make-tiny` writes it), Wan2.1_VAE.safetensors, models_t5_umt5-xxl-enc-bf16.safetensors
// (text width dit.text_dim) and google/umt5-xxl/spiece.model. Creates DIR.
TinyModelPaths write_tiny_wan_folder(const std::string& dir, const wan::WanConfig& dit, uint64_t seed, DType dtype);

// The built-in model (2 heads of 64, text width 32, seed 1234) into `dir`.
TinyModelPaths write_tiny_wan_model(const std::string& dir);

}  // namespace jenga
