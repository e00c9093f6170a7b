#pragma once
// The built-in tiny random Wan2.1 model: a 2-layer DiT plus the tests' tiny umT5, VAE and
// SentencePiece model, written to a folder so every loader runs as it does for a real model.
// It makes noise-like videos: it proves the whole path works, not that a model is any good.
// The registry (models/registry.h) opens it when no model is given.
#include <string>

namespace jenga {

struct TinyModelPaths {
  std::string dit, vae, t5, tokenizer;
};

// Writes the components into `dir` (created) and returns their paths.
TinyModelPaths write_tiny_wan_model(const std::string& dir);

}  // namespace jenga
