#pragma once
// AttenCarve block selection on the CPU (f32), reproducing the official
// _build_block_index_with_importance_optimized + the block_sparse_attention wrapper:
//  - the sequence is zero-padded to a multiple of 128; blocks = ceil(N / 128); the last
//    text_blocks blocks are text, the others "normal" (vision);
//  - block means over 128 rows, the zero padding counted (the last block's sum is divided by 128);
//  - scores = qmean . kmean * D^-0.5 over normal key blocks, softmax, stable descending sort,
//    keep the `needed` most probable blocks, needed = max(#(cumsum <= p) + 1, top_k);
//  - OR the neighbour sets, first_frame_blocks x first_frame_blocks always kept, every
//    normal query block keeps all text key blocks;
//  - text query blocks attend densely (the official code runs them through dense attention).
// With CarveParams::bf16_rounding the means and scores are rounded as under bf16 autocast.
// The GPU mask builder must reproduce this exactly.
#include <cstdint>
#include <vector>

#include "backend/block_sparse.h"
#include "jenga/block_neighbors.h"

namespace jenga {

struct CarveParams {
  int64_t top_k = 0;             // floor on the kept blocks per row (official top_k)
  double p = 0.9;                // cumulative-probability threshold, >= 0 (0: the top block; >= 1: all)
  int64_t text_blocks = 0;       // trailing text blocks (Hunyuan 2, Wan 0)
  int64_t first_frame_blocks = 0;  // Wan: nb / 21
  const BlockNeighbors* neighbors = nullptr;  // optional, must cover the normal blocks exactly
  int block = 128;
  // Round the pooled means and the scaled scores to bf16 as the official builder does when it
  // runs under bf16 autocast (the official GPU pipelines: bf16 mean, bf16 bmm, bf16 scale, then
  // softmax and cumsum in f32): equal bf16 scores tie and the stable sort keeps the lower index.
  // false: f32 throughout (the official builder on f32 q/k; our CPU DiT).
  bool bf16_rounding = false;
};

// Per-row note for parity tests: true when a selection decision in this row is within `eps`
// of flipping (a cumulative sum within eps of p, or the last kept and first dropped
// probabilities within eps of each other).
struct CarveDiagnostics {
  double eps = 1e-6;
  std::vector<uint8_t> near_threshold;  // [B*H*normal_blocks]
};

struct CarveMask {
  int64_t batch = 0, heads = 0, blocks = 0, normal_blocks = 0;
  std::vector<uint8_t> onehot;  // [B, H, blocks, blocks], 1 = kept (text query rows all ones)
  BlockSparseLayout layout() const;
};

// q, k: [B, H, N, D] contiguous f32. Throws UsageError on bad parameters, Error on NaN/Inf.
CarveMask build_carve_mask(const float* q, const float* k, int64_t batch, int64_t heads, int64_t n,
                           int64_t head_dim, const CarveParams& params,
                           CarveDiagnostics* diagnostics = nullptr);

// The official per-model top_k and first_frame_blocks.
// Wan (model_mul.py): blocks = ceil(L / 128), top_k = int(blocks * (1 - drop)), ffb = blocks / 21.
int64_t wan_top_k(int64_t tokens, double drop_rate);
int64_t wan_first_frame_blocks(int64_t tokens);
// Hunyuan: top_k = int((1 - drop) * (image_tokens_per_rank / 128)) * world_size.
int64_t hunyuan_top_k(int64_t image_tokens, double drop_rate, int world_size = 1);

}  // namespace jenga
