#pragma once
// The Wan2.1 DiT forward on CUDA: bf16 weights and activations, f32 residual stream, norms,
// modulation and timestep path; cuBLASLt GEMMs with fused epilogues; the shared attention
// kernel (dense, or block-sparse through a per-layer hook). prepare() allocates everything for
// a latent size once; forward() then only enqueues work (no allocation, no host sync), so a
// whole step can be captured in a CUDA graph.
//
// Offload (from_model / random with offload = true): each block's seven matrices and their
// biases (one packed buffer per block, 99.9% of the weights) stay in pinned host memory and are
// streamed into a ring of two device block buffers (backend/cuda/offload_ring.h): the copy of
// block i+1 runs while block i computes, and block i+2's copy starts once block i has read its
// matrices. Everything else (patch, text and time embeddings, head, the per-block norm and
// modulation vectors) stays on the GPU. Same kernels, same bytes, same 256-byte alignment: the
// output is bit-identical to the resident DiT's.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "models/dit_hooks.h"
#include "models/wan/wan_config.h"

namespace jenga {
class Tensor;
namespace dist {
class Communicator;
}
}

namespace jenga::wan {

struct WanDit;

// The hook types are model-neutral (models/dit_hooks.h); these names stay for existing callers.
using jenga::CudaDitHooks;
using jenga::DeviceBlockLayout;

class WanDitCuda {
 public:
  // Uploads a loaded model (host f32 or bf16 matrices) to the GPU; offload: the blocks' matrices
  // to pinned host memory instead (see above).
  static std::unique_ptr<WanDitCuda> from_model(const WanDit& model, bool offload = false);
  // Random weights drawn on the GPU (Philox), scaled as debug make-tiny's: for benchmarks. The
  // same values with or without offload.
  static std::unique_ptr<WanDitCuda> random(const WanConfig& config, uint64_t seed, bool offload = false);
  ~WanDitCuda();

  const WanConfig& config() const;

  // Sizes the activations for a latent of frames x height x width TOKENS and uploads the RoPE
  // table and token order (order[i] = raster index of the i-th token; empty = raster).
  // Allocates: call once per resolution, outside the step loop.
  // comm (device buffers, e.g. NCCL on the forward's stream): Ulysses sequence parallel. This
  // rank keeps local_tokens() tokens of the sequence order (dist/ulysses_cuda.h's split); around
  // self-attention two all-to-alls exchange sequence and head shards; the self-attention hook
  // then sees all tokens and local_heads() heads; residual / after_block see the shard; the
  // head output is all-gathered, so `out` is whole on every rank.
  void prepare(int64_t frames, int64_t height, int64_t width, std::span<const int64_t> token_order = {},
               dist::Communicator* comm = nullptr);
  int64_t local_tokens() const;
  int64_t local_heads() const;

  // x: [in_dim, F*pt, H*ph, W*pw] f32; t: [1] f32 timestep; context: [text_len, text_dim] bf16,
  // zero-padded rows after the prompt's tokens (as official); out: [out_dim, ...] f32.
  // All device pointers; enqueued on `stream` (nullptr = default).
  void forward(const float* x, const float* t, const void* context, float* out, void* stream = nullptr,
               const CudaDitHooks* hooks = nullptr);

  // The timestep path for t on the host (synchronises; not for the step loop): e [dim] when
  // !projected, else e0 [6 * dim] (the TeaCache indicator).
  std::vector<float> time_embedding(double t, bool projected);

  // Attention kernel path for self- and cross-attention (see backend/cuda/attention.h:
  // 0 = default, 1 = mma.sync); for benchmarks and bring-up.
  void set_attention_path(int path);

  // Weight bytes held on the GPU: everything without offload; with it, the resident weights
  // plus the ring of offload_ring() block buffers.
  size_t weight_bytes() const;
  bool offload() const;
  int offload_ring() const;           // device block buffers (0 without offload)
  size_t streamed_block_bytes() const;  // one block's packed matrices + biases (what is streamed)
  size_t host_weight_bytes() const;     // pinned host bytes of the streamed blocks (0 without offload)
  size_t activation_bytes() const;
  // Multiply-add FLOPs of one forward at the prepared size with dense attention (x2 counted).
  double dense_flops() const;

 private:
  WanDitCuda();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Host in, host out, for tests and `jenga debug dit-forward --device cuda`: x: [in_dim, F, H, W]
// f32, context: [L, text_dim] f32 (zero-padded to text_len here), t a timestep. When `blocks`
// is given it receives each block's residual stream [tokens, dim] (raster order).
Tensor wan_forward_cuda(const WanDit& model, const Tensor& x, double t, const Tensor& context,
                        std::vector<Tensor>* blocks = nullptr);

}  // namespace jenga::wan
