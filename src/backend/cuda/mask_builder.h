#pragma once
// GPU primitives for building a block-sparse attention layout (Jenga AttenCarve, see
// shared REFERENCE A.2) with no host round trip: pooled block means of Q and K, block scores,
// per-row softmax + top-p / top-k selection unioned with always-kept blocks and a neighbour
// list, then CSR compaction. Plain C++ (no CUDA types), device pointers, stream as void*.
// Nothing here allocates or synchronises: scratch comes from a caller-owned workspace.
#include <cstddef>
#include <cstdint>

namespace jenga::cuda {

// out[b, h, blk, :] = mean of rows [blk*128, blk*128 + 128) of src[b, h] (bf16, addressed by
// strides in elements like AttentionParams), for blk < n_blocks. f32 [batch, heads, n_blocks,
// head_dim]. A ragged last block is the mean of its valid rows, or with zero_padded the sum
// over 128 (what the official Wan path gets by zero-padding L to a multiple of 128).
struct BlockMeansArgs {
  const uint16_t* src = nullptr;
  int64_t batch_stride = 0, head_stride = 0, row_stride = 0;
  int batch = 1, heads = 1, len = 0, head_dim = 128;
  int n_blocks = 0;  // blocks to pool, <= ceil(len / 128)
  bool zero_padded = false;
  bool round_bf16 = false;  // each mean rounded to bf16 (torch's mean of bf16 under autocast)
  float* out = nullptr;
};
void block_means(const BlockMeansArgs& a, void* stream = nullptr);

// scores[g, i, j] = scale * qm[g, i, :] . km[g, j, :] for g < groups (batch*heads), i < nq,
// j < nk. qm [groups, qm_blocks, D] (uses its first nq rows), km [groups, km_blocks, D], f32,
// both 16-byte aligned, D a multiple of 32. Each score is the f32 fmaf chain over d = 0 .. D-1
// (from 0), times scale at the end: bit for bit what a plain f32 loop gives. round_bf16: the
// chain rounded to bf16, times scale, rounded to bf16 again (bf16 bmm, then the bf16 scale
// multiply, as the official builder under autocast).
struct BlockScoresArgs {
  const float* qm = nullptr;
  const float* km = nullptr;
  int groups = 1, qm_blocks = 0, km_blocks = 0, nq = 0, nk = 0, head_dim = 128;
  float scale = 1.0f;
  bool round_bf16 = false;
  float* scores = nullptr;  // [groups, nq, nk]
};
void block_scores(const BlockScoresArgs& a, void* stream = nullptr);

// Per row (g, qb) of the output mask [groups, q_blocks, k_blocks] (u8, 1 = kept):
// qb < select_q_blocks: P = softmax(scores[g, qb, :n_cols]); blocks sorted by P descending,
// C = cumulative sum; keep the first max(#(C <= prob_threshold) + 1, top_k) (capped at n_cols);
// then also every neighbour_indices[neighbor_offsets[qb] .. neighbor_offsets[qb+1]) (CSR over
// query blocks, shared by all g; nullptr = none) and every block in [always_begin, always_end)
// (the text blocks); and for qb < first_frame_blocks every key block < first_frame_blocks
// (Wan's first-frame rule).
// qb >= select_q_blocks (e.g. text query blocks): every key block. counts[g*q_blocks + qb] =
// kept blocks of the row.
struct BlockSelectArgs {
  const float* scores = nullptr;  // [groups, select_q_blocks, n_cols]
  int groups = 1, q_blocks = 0, select_q_blocks = 0, n_cols = 0, k_blocks = 0;
  float prob_threshold = 0.0f;
  int top_k = 1;
  int always_begin = 0, always_end = 0;
  int first_frame_blocks = 0;
  const int32_t* neighbor_offsets = nullptr;  // [select_q_blocks + 1]
  const int32_t* neighbor_indices = nullptr;
  uint8_t* mask = nullptr;
  int32_t* counts = nullptr;
  // 0: no sort: a bitwise search over the probabilities' f32 bits finds the needed-th largest
  // probability (with prob_threshold > 0 it also sums the mass at or above each candidate, exactly,
  // in fixed point x * 2^30), and the row keeps the sort's first `needed` blocks (ties: lower index
  // first). 1: the block radix sort + float scan (benchmarking). The two keep the same blocks except
  // where a cumulative sum lies within rounding (~1e-6) of prob_threshold.
  int method = 0;
};
void select_blocks(const BlockSelectArgs& a, void* stream = nullptr);

// CSR from the mask: offsets [rows + 1] (exclusive prefix sum of counts), indices ascending per
// row (capacity rows * k_blocks). Needs compact_workspace_bytes(rows) of scratch.
size_t compact_workspace_bytes(int rows);
void compact_csr(const uint8_t* mask, const int32_t* counts, int rows, int k_blocks, void* workspace,
                 size_t workspace_bytes, int32_t* offsets, int32_t* indices, void* stream = nullptr);

// *total += offsets[rows] (the kept blocks of a CSR layout) on the stream: a running count of
// the blocks attention computes, read once at the end instead of syncing per layer.
void tally_kept_blocks(const int32_t* offsets, int rows, unsigned long long* total, void* stream = nullptr);

// bias[h, j] = value for key blocks j >= first_biased, else 0 (h < heads, j < k_blocks): the
// attention kernel's key_block_bias (natural-log units) for HunyuanVideo's text amplifier on the
// text key blocks. One small launch on the stream, no allocation.
void fill_key_block_bias(float* bias, int heads, int k_blocks, int first_biased, float value, void* stream = nullptr);

// The whole chain for q, k [batch, len, heads, D] (strided like AttentionParams, q_len == k_len
// == len): image blocks are the first select_blocks (query and key), the rest (text) are kept
// by every image row and attend densely. Output: the layout's CSR over ceil(len/128) blocks.
struct BlockMaskArgs {
  const uint16_t* q = nullptr;
  const uint16_t* k = nullptr;
  int64_t q_batch_stride = 0, q_head_stride = 0, q_row_stride = 0;
  int64_t k_batch_stride = 0, k_head_stride = 0, k_row_stride = 0;
  int batch = 1, heads = 1, len = 0, head_dim = 128;
  int select_blocks = 0;  // image (normal) blocks; 0 = all
  bool zero_padded = false;
  // Pooled means and scores rounded to bf16 as the official builder under bf16 autocast (what
  // the official GPU pipelines run; CarveParams::bf16_rounding); false: f32 throughout.
  bool round_bf16 = false;
  float scale = 0.0f;  // score scale, usually head_dim^-1/2
  float prob_threshold = 0.0f;
  int top_k = 1;
  int first_frame_blocks = 0;  // Wan: query blocks < F keep key blocks < F
  const int32_t* neighbor_offsets = nullptr;  // device CSR over image query blocks, or nullptr
  const int32_t* neighbor_indices = nullptr;
  int32_t* offsets = nullptr;  // [batch*heads*ceil(len/128) + 1]
  int32_t* indices = nullptr;  // capacity batch*heads*ceil(len/128)^2
  // 0: Q and K means in one launch, the cut by the sort-free select (BlockSelectArgs::method 0);
  // 1: the earlier chain (two means launches, always the sort), for benchmarking.
  int method = 0;
};
size_t block_mask_workspace_bytes(const BlockMaskArgs& a);
void build_block_mask(const BlockMaskArgs& a, void* workspace, size_t workspace_bytes, void* stream = nullptr);

}  // namespace jenga::cuda
