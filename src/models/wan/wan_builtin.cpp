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
#include "models/wan/wan_tiny.h"

extern const unsigned char jenga_embed_tiny_spm[];
extern const size_t jenga_embed_tiny_spm_size;
extern const unsigned char jenga_embed_tiny_t5[];
extern const size_t jenga_embed_tiny_t5_size;
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

TinyModelPaths write_tiny_wan_model(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "google" / "umt5-xxl", ec);
  if (ec) fail("{}: cannot create the folder ({})", dir, ec.message());
  TinyModelPaths p;
  p.tokenizer = (fs::path(dir) / "google" / "umt5-xxl" / "spiece.model").string();
  p.t5 = (fs::path(dir) / "t5.safetensors").string();
  p.vae = (fs::path(dir) / "vae.safetensors").string();
  p.dit = (fs::path(dir) / "dit").string();
  write_bytes(p.tokenizer, jenga_embed_tiny_spm, jenga_embed_tiny_spm_size);
  // The tests' tiny umT5 has a 300-token vocabulary; the built-in model widens its embedding
  // to the tokenizer's vocabulary (extra rows random) so every prompt encodes.
  const std::string t5_small = (fs::path(dir) / "t5_small.safetensors").string();
  write_bytes(t5_small, jenga_embed_tiny_t5, jenga_embed_tiny_t5_size);
  {
    const int64_t vocab = wan::UmT5Tokenizer::open(p.tokenizer).vocab_size();
    auto small = SafetensorsFile::open(t5_small);
    SafetensorsWriter w;
    for (const auto& t : small->header().tensors) {
      if (t.name != "token_embedding.weight") {
        w.add(t.name, small->load(t.name));
        continue;
      }
      const Tensor e = small->load(t.name, DType::F32);
      const int64_t rows = std::max(vocab, e.dim(0)), dim = e.dim(1);
      std::vector<float> v(static_cast<size_t>(rows * dim));
      fill_normal(v, 4321);
      std::copy(e.data_as<float>(), e.data_as<float>() + e.numel(), v.begin());
      w.add(t.name, Tensor::from_f32(v, Shape{rows, dim}));
    }
    small.reset();
    w.write(p.t5);
    fs::remove(t5_small, ec);
  }
  write_bytes(p.vae, jenga_embed_tiny_vae, jenga_embed_tiny_vae_size);
  wan::WanConfig c = wan::WanConfig::tiny();
  c.text_dim = 32;  // the tiny umT5's width
  c.num_heads = 2;  // head dim 64: the CUDA kernels serve it too
  wan::write_random_checkpoint(p.dit, c, 1234, DType::F32);
  return p;
}

}  // namespace jenga
