#pragma once
// The HunyuanVideo DiT forward on CUDA: bf16 weights and activations, f32 residual stream,
// norms, modulation vectors and the timestep / guidance / pooled-text path (f32 accumulation
// over bf16 weights); cuBLASLt GEMMs with fused epilogues; the shared attention kernel over the
// official varlen segments (image + valid text | padding text). prepare() allocates everything
// for a token grid once; forward() then only enqueues work (no allocation, host sync or
// logging), so a whole step can be captured in a CUDA graph.
//
// Sequence: [Li image tokens (token order) ; Lt text tokens], one f32 residual buffer for both
// streams of the double blocks and the joint stream of the single blocks (h = hidden).
//
// Sequence parallel (prepare with a device communicator, NCCL): Ulysses as the official
// multi-GPU Jenga (xDiT joint attention): each rank holds a contiguous shard of the image tokens
// in token order (dist::UlyssesDevice::token_split, as Wan's CUDA DiT) and every text token;
// q/k/v go all-to-all over heads around self-attention (text rows cut to the rank's heads, their
// output heads gathered); the final layer's rows are gathered, so every rank writes the whole
// output. Not yet run on several GPUs (see docs/ARCHITECTURE.md).
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "models/dit_hooks.h"
#include "models/hunyuan/hunyuan_config.h"

namespace jenga::dist {
class Communicator;
}

namespace jenga::hunyuan {

struct HunyuanDit;

// Why the CUDA DiT cannot run `c` (an odd head dim or one over 128; widths not multiples of 8),
// or "" when it can: the registry runs such a model on the CPU under --device auto.
std::string cuda_unsupported_reason(const HunyuanConfig& c);
// True when the CUDA DiT runs the model's attention padded (a head dim other than 64 or 128: test
// models, dense only, one process); --device auto keeps such a model on the CPU.
bool cuda_attention_padded(const HunyuanConfig& c);

// One prompt's conditioning on the device.
struct HunyuanTextDevice {
  const void* states = nullptr;  // bf16 [text_len, text_dim], rows >= valid zero or padding
  const float* mean = nullptr;   // f32 [text_dim]: mean of the valid rows (the refiner's context)
  const float* pooled = nullptr; // f32 [text_dim_2]: CLIP pooled vector
  int64_t valid = 0;             // real rows first (1 .. text_len)
};

class HunyuanDitCuda {
 public:
  // Uploads a loaded model (host f32 or bf16 matrices) as bf16 matrices. offload: every block's
  // matrices (GEMMs and modulation) stay in pinned host memory and stream through a ring of two
  // device buffers (the q/k norms and everything outside the blocks stay resident; a block's
  // modulation vectors are computed when it starts); the same output as resident, bit for bit.
  static std::unique_ptr<HunyuanDitCuda> from_model(const HunyuanDit& model, bool offload = false);
  // Random bf16 weights drawn on the GPU (Philox), scaled to keep activations O(1): benchmarks.
  // offload: as from_model's (each block drawn on the GPU, then moved to pinned host memory).
  static std::unique_ptr<HunyuanDitCuda> random(const HunyuanConfig& config, uint64_t seed, bool offload = false);
  ~HunyuanDitCuda();

  const HunyuanConfig& config() const;

  // Sizes the activations for frames x height x width TOKENS and text_len text rows, and uploads
  // the RoPE table and token order (order[i] = raster index of the i-th image token; empty =
  // raster). Allocates: once per resolution, outside the step loop.
  // token_replace: HunyuanVideo-I2V's condition in every later forward, as hunyuan_forward_cpu's:
  // the first latent frame's image tokens (found where the token order puts them) modulated from
  // time_in(0) + vector_in(pooled), no guidance term, in the double blocks' image stream and the
  // single blocks; and, under a Jenga layout, the text rows also attend over the zero rows the
  // I2V sparse kernel pads the sequence with (to a multiple of 128; jenga_i2v_pad_rows).
  // comm: sequence parallel over its ranks (a device communicator, on the forward's stream);
  // null = one process. Not with token_replace yet (fails).
  void prepare(int64_t frames, int64_t height, int64_t width, int64_t text_len,
               std::span<const int64_t> token_order = {}, bool token_replace = false,
               dist::Communicator* comm = nullptr);
  int64_t image_tokens() const;
  int64_t local_tokens() const;  // this rank's image tokens (all on one process)
  int64_t local_heads() const;   // this rank's heads of self-attention
  int64_t text_len() const;

  // x: [in_channels, F*pt, H*ph, W*pw] f32; t: [1] f32 timestep (device); guidance: the value
  // guidance_in embeds (cfg scale x 1000; ignored without a guidance embedding); out:
  // [out_channels, ...] f32. Enqueued on `stream`. hooks: self_attn_layout (per block, doubles
  // then singles: a layout over the attended segment of Li + valid rows, as the CPU reference;
  // under sequence parallel over this rank's heads), after_block (x [Li + Lt, h]; this rank's
  // image rows), residual (step reuse over the image tokens [Li, h]; this rank's), mark
  // (bench --breakdown), self_attention (Sparse VideoGen: replaces each block's whole joint
  // self-attention, q/k/v rows [Li + Lt] image first; one process, text-to-video only).
  void forward(const float* x, const float* t, const HunyuanTextDevice& text, float guidance, float* out,
               void* stream = nullptr, const CudaDitHooks* hooks = nullptr);

  // The time embedding time_in(t) [hidden] on the host (synchronises; not for the step loop).
  std::vector<float> time_embedding(double t);

  size_t weight_bytes() const;  // on the GPU (with offload: the resident part and the ring)
  bool offload() const;
  int offload_ring() const;               // device block buffers (0 without offload)
  size_t host_weight_bytes() const;       // pinned host bytes of the streamed blocks
  size_t streamed_block_bytes() const;    // one ring slot: the largest block
  size_t activation_bytes() const;
  // Multiply-add FLOPs (x2) of one forward at the prepared size, `valid` real text tokens.
  double dense_flops(int64_t valid) const;

 private:
  HunyuanDitCuda();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Uploads one prompt's conditioning: text_states [L, text_dim] f32 host (valid real rows first),
// zero-padded to text_len rows; pooled [text_dim_2]. Owns the device buffers.
struct HunyuanTextUpload {
  Tensor states, mean, pooled;  // device
  int64_t valid = 0;
  HunyuanTextDevice view() const;
};
HunyuanTextUpload upload_hunyuan_text(const HunyuanConfig& c, const float* text_states, int64_t rows, int64_t valid,
                                      const float* pooled, int64_t text_len);

// Host in, host out, for tests and `jenga debug dit-forward --device cuda`: the arguments of
// hunyuan_forward_cpu; out [C_out, F, H, W]. When `blocks` is given it receives each block's
// residual stream [Li + Lt, h] (image tokens first, raster order); with block_image_stride S > 1
// only image rows 0, S, 2S, ... are kept: [ceil(Li / S) + Lt, h] (full-size parity dumps).
Tensor hunyuan_forward_cuda(const HunyuanDit& model, const Tensor& x, float t, const float* text_states,
                            int64_t text_len, int64_t valid, const float* text_states_2, float guidance,
                            std::vector<Tensor>* blocks = nullptr, bool token_replace = false,
                            int64_t block_image_stride = 1);

}  // namespace jenga::hunyuan
