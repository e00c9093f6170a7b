#pragma once
// The Wan2.1 DiT forward on the CPU in f32 (the reference backend), with the Jenga plug-in
// points: a token order applied once after patch embedding and undone before the head, and a
// per-layer provider of the self-attention block-sparse layout. A CUDA forward sits beside this
// file and shares WanDit (config + weights) and DitForwardHooks.
#include <cstdint>
#include <functional>
#include <span>

#include "backend/block_sparse.h"
#include "core/tensor.h"
#include "models/wan/wan_dit.h"

namespace jenga::dist {
class Communicator;
}

namespace jenga::wan {

struct DitForwardHooks {
  // order[i] = raster index (f*H*W + h*W + w, token grid) of the i-th token of the sequence the
  // blocks see (e.g. a Hilbert curve order). Empty = raster order. RoPE follows the tokens.
  std::span<const int64_t> token_order;
  // Self-attention layout of `layer` (batch 1, `heads` heads, blocks over `tokens` in the
  // sequence order), or nullptr for dense. q, k: [tokens, heads, head_dim], after RMSNorm and
  // RoPE, so a mask builder can pool them. The layout must stay valid until attention ran.
  // Under sequence parallel, `heads` is this rank's head shard over the whole sequence.
  std::function<const BlockSparseLayout*(int layer, const float* q, const float* k, int64_t tokens, int64_t heads)>
      self_attn_layout;
  // Replaces the self-attention of `layer` when set and it returns true (Sparse VideoGen's
  // per-head placement): q, k, v: [tokens, heads, head_dim] after RMSNorm and RoPE; out:
  // [tokens, heads * head_dim]. Returning false runs the usual (dense or layout) attention.
  std::function<bool(int layer, const float* q, const float* k, const float* v, float* out, int64_t tokens)>
      self_attention;
  // Under sequence parallel only with one rank (the hook sees every head).
  // Called after each block with x: [tokens, dim] in sequence order (debugging, goldens); under
  // sequence parallel, this rank's shard of the tokens.
  std::function<void(int layer, const float* x, int64_t tokens)> after_block;
  // Step reuse (TeaCache): with `residual` set ([tokens, dim], sequence order; under sequence
  // parallel [local tokens, dim] of this rank's shard), either the blocks run and
  // residual := x_after - x_before, or (reuse_residual) they are skipped and x += residual.
  float* residual = nullptr;
  bool reuse_residual = false;
  // Ulysses sequence parallel (dist/ulysses.h) when set: every rank calls the forward with the
  // same inputs, holds a contiguous shard of the sequence-ordered tokens, exchanges heads
  // around self-attention, and gets the whole output. Null = one process.
  dist::Communicator* comm = nullptr;
};

// The timestep path: e [dim] (modulates the head) and e0 [6 * dim] (the blocks), in f32.
void wan_time_embedding_cpu(const WanDit& model, double t, float* e, float* e0);

// Throws jenga::Error naming the problem when x or context do not fit the model:
// x: [in_dim, F, H, W] f32 with F, H, W divisible by the patch size; context: [L, text_dim] f32,
// 1 <= L <= text_len; t finite.
void check_dit_inputs(const WanConfig& c, const Tensor& x, double t, const Tensor& context);

// One denoiser evaluation. x: [in_dim, F, H, W] latents; t: timestep (0..1000 scale); context:
// [L, text_dim] text embeddings, zero-padded to text_len as the official model does.
// Returns [out_dim, F, H, W] f32.
Tensor wan_forward_cpu(const WanDit& model, const Tensor& x, double t, const Tensor& context,
                       const DitForwardHooks& hooks = {});

}  // namespace jenga::wan
