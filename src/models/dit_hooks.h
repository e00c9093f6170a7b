#pragma once
// The plug-in points of a DiT forward, the same for every model: the token order the blocks see,
// a per-layer self-attention layout (AttenCarve), a replacement self-attention (Sparse VideoGen),
// step reuse of the blocks' residual (TeaCache), Ulysses sequence parallel, and per-block taps.
// DitForwardHooks serve a host (CPU f32) forward, CudaDitHooks a device forward. A model's
// forward honours them; the denoise loop's device half (backend/denoise_backend.h) fills them.
#include <cstdint>
#include <functional>
#include <span>

#include "backend/block_sparse.h"

namespace jenga {
namespace dist {
class Communicator;
}

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
  // With self_attn_layout: an additive logit bias per (head, key block) of the layout just
  // returned, [heads, key_blocks], natural-log units, or null (Jenga's text amplifier on
  // HunyuanVideo's text key blocks). Valid until attention ran.
  std::function<const float*(int layer, int64_t heads, int64_t key_blocks)> key_block_bias;
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

// A block-sparse layout on the device for one layer's self-attention (CSR over (head, query
// block of 128), see backend/block_sparse.h); all null = dense.
struct DeviceBlockLayout {
  const int32_t* offsets = nullptr;
  const int32_t* indices = nullptr;
  const float* key_block_bias = nullptr;  // [heads, key blocks], natural-log units, optional
};

struct CudaDitHooks {
  // Called after q/k RMSNorm + RoPE with q, k: bf16 [tokens, heads, head_dim] rows `row_stride`
  // elements apart (device), on `stream`; returns the layer's layout (must stay valid until the
  // forward's work has run). Must not sync or allocate if the forward is graph-captured.
  std::function<DeviceBlockLayout(int layer, const void* q, const void* k, int64_t tokens,
                                  int64_t row_stride, void* stream)>
      self_attn_layout;
  // Replaces the self-attention of `layer` when set and it returns true (Sparse VideoGen): q, k,
  // v: bf16 [tokens, heads, head_dim] rows `row_stride` apart after RMSNorm + RoPE; out: bf16
  // [tokens, dim] rows `out_row_stride` apart; on `stream`, same rules as self_attn_layout.
  std::function<bool(int layer, const void* q, const void* k, const void* v, int64_t row_stride, void* out,
                     int64_t out_row_stride, int64_t tokens, void* stream)>
      self_attention;
  // Called after each block with the f32 residual stream x: [tokens, dim] (device, sequence
  // order) on `stream` (debugging, per-block parity).
  std::function<void(int layer, const float* x, int64_t tokens, void* stream)> after_block;
  // Step reuse (TeaCache): with `residual` set (f32 [tokens, dim], device, sequence order),
  // either the blocks run and residual := x_after - x_before, or (reuse_residual) they are
  // skipped and x += residual.
  float* residual = nullptr;
  bool reuse_residual = false;
  // Profiling (bench dit --breakdown): called on `stream` as each phase of the forward begins
  // (names are static strings; "end" after the last). Record a CUDA event, nothing heavier.
  std::function<void(const char* phase, void* stream)> mark;
};

}  // namespace jenga
