#pragma once
// umT5 encoder (official wan/modules/t5.py: T5Encoder as built by umt5_xxl, used through
// T5EncoderModel): per-layer relative position buckets, RMS T5 norm, gated-GELU FFN, no
// attention scaling. CPU f32; weights are read layer by layer from the checkpoint when
// encoding, so the 11 GB bf16 XXL encoder never needs a full f32 copy in memory.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace jenga {
class Checkpoint;
}

namespace jenga::wan {

struct T5Config {
  int64_t vocab = 0, dim = 0, dim_attn = 0, dim_ffn = 0, heads = 0, layers = 0, num_buckets = 0;
  int64_t max_dist = 128;  // fixed in the official T5RelativeEmbedding
  bool shared_pos = false;
  int64_t head_dim() const { return dim_attn / heads; }
  // The official umt5_xxl encoder (Wan2.1's text encoder).
  static T5Config umt5_xxl() { return {256384, 4096, 4096, 10240, 64, 24, 32, 128, false}; }
};

// Checks ids and mask as T5Encoder::encode does (same length, mask 0/1, ids in the vocabulary
// up to the last token) and returns how many rows the encoder must compute: rows past the last
// token are padded queries no returned row depends on. `valid` receives sum(mask).
int64_t t5_check_input(std::span<const int64_t> ids, std::span<const int64_t> mask, int64_t vocab, int64_t& valid);

enum class T5Layout { Official, Diffusers };

// The official bidirectional relative position bucket of (key - query) distance `rel`.
int64_t t5_relative_bucket(int64_t rel, int64_t num_buckets, int64_t max_dist);

class T5Encoder {
 public:
  // A checkpoint with the official key names (token_embedding.weight, blocks.{i}.attn.q.weight,
  // ...) or the diffusers text_encoder/ (HF UMT5EncoderModel) names; config from the shapes.
  // Throws an Error naming the file if it is neither.
  static T5Encoder open(const std::string& path);

  const T5Config& config() const { return cfg_; }
  T5Layout layout() const { return layout_; }

  // ids, mask: [L] (mask 1 = token, 0 = padding). Returns the context [sum(mask), dim] f32: the
  // first sum(mask) rows of the encoder output with padded keys masked, as T5EncoderModel does.
  Tensor encode(std::span<const int64_t> ids, std::span<const int64_t> mask) const;

  // One weight by its official name, shape-checked, in the file's dtype (a view of the mapped
  // file where possible): what the CUDA encoder uploads. Throws naming the file and tensor.
  Tensor weight(const std::string& official, std::vector<int64_t> shape) const;

 private:
  std::string name(const std::string& official) const;  // official key -> key in this file
  std::vector<float> load(const std::string& official, std::vector<int64_t> shape) const;

  std::shared_ptr<Checkpoint> ckpt_;
  T5Config cfg_;
  T5Layout layout_ = T5Layout::Official;
};

// True when the checkpoint looks like a umT5 encoder (either layout).
bool looks_like_t5_encoder(const Checkpoint& ckpt);

}  // namespace jenga::wan
