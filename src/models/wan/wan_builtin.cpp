#include "models/wan/wan_builtin.h"

#include <filesystem>
#include <fstream>
#include <vector>
#include <algorithm>

#include "core/error.h"
#include "core/rng.h"
#include "io/safetensors.h"
#include "models/wan/tokenizer.h"
#include "models/wan/wan_config.h"
#include "models/wan/t5_random.h"
#include "models/wan/wan_tiny.h"

extern const unsigned char jenga_embed_tiny_spm[];
extern const size_t jenga_embed_tiny_spm_size;
extern const unsigned char jenga_embed_tiny_vae[];
extern const size_t jenga_embed_tiny_vae_size;

namespace jenga {
namespace fs = std::filesystem;

namespace {
void write_bytes(const fs::path& p, const unsigned char* data, size_t n) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n));
  if (!out) fail("{}: cannot write the built-in tiny model (is the temp folder writable?)", p.string());
}
}  // namespace

TinyModelPaths write_tiny_wan_folder(const std::string& dir, const wan::WanConfig& dit, uint64_t seed, DType dtype) {
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "google" / "umt5-xxl", ec);
  if (ec) fail("{}: cannot create the folder ({})", dir, ec.message());
  TinyModelPaths p;
  p.tokenizer = (fs::path(dir) / "google" / "umt5-xxl").string();
  p.t5 = (fs::path(dir) / "models_t5_umt5-xxl-enc-bf16.safetensors").string();
  p.vae = (fs::path(dir) / "Wan2.1_VAE.safetensors").string();
  p.dit = (fs::path(dir) / "diffusion_pytorch_model.safetensors").string();
  write_bytes(fs::path(p.tokenizer) / "spiece.model", jenga_embed_tiny_spm, jenga_embed_tiny_spm_size);
  // A random umT5 as wide as the DiT's text input, its vocabulary the tokenizer's (so every
  // prompt encodes); the tests' tiny VAE (16 latent channels, as every Wan DiT).
  wan::T5Config t5;
  t5.vocab = 1024;
  try {
    t5.vocab = std::max<int64_t>(wan::UmT5Tokenizer::open(p.tokenizer).vocab_size(), 1);
  } catch (const std::exception&) {  // built without sentencepiece: generate says so later
  }
  t5.dim = t5.dim_attn = dit.text_dim;
  t5.dim_ffn = 2 * dit.text_dim;
  t5.heads = dit.text_dim % 4 == 0 ? 4 : 1;
  t5.layers = 2;
  t5.num_buckets = 32;
  wan::write_random_t5(p.t5, t5, seed + 1);
  write_bytes(p.vae, jenga_embed_tiny_vae, jenga_embed_tiny_vae_size);
  wan::write_random_checkpoint(dir, dit, seed, dtype);
  return p;
}

TinyModelPaths write_tiny_wan_model(const std::string& dir) {
  wan::WanConfig c = wan::WanConfig::tiny();
  c.text_dim = 32;
  c.num_heads = 2;  // head dim 64: the CUDA kernels serve it too
  return write_tiny_wan_folder(dir, c, 1234, DType::F32);
}

}  // namespace jenga
