#pragma once
// The block-sparse attention layout every mask policy emits and every attention kernel reads:
// per (batch, head, query block) the ascending list of kept key-block indices, as CSR.
// Blocks are block_m query rows x block_n key columns (128 x 128 unless stated); the last
// block of each side may be ragged (kernels mask it, callers never pad).
#include <cstdint>
#include <span>
#include <vector>

namespace jenga {

struct BlockSparseLayout {
  int64_t batch = 0, heads = 0;
  int64_t q_blocks = 0, k_blocks = 0;
  int block_m = 128, block_n = 128;
  std::vector<int32_t> offsets;  // [batch*heads*q_blocks + 1]
  std::vector<int32_t> indices;  // kept key blocks, ascending within a row

  int64_t rows() const { return batch * heads * q_blocks; }
  // Row of (b, h, qb) in offsets.
  int64_t row(int64_t b, int64_t h, int64_t qb) const { return (b * heads + h) * q_blocks + qb; }
  std::span<const int32_t> kept(int64_t b, int64_t h, int64_t qb) const;

  // Every block kept.
  static BlockSparseLayout dense(int64_t batch, int64_t heads, int64_t q_blocks, int64_t k_blocks,
                                 int block_m = 128, int block_n = 128);
  // From a one-hot u8 mask [batch, heads, q_blocks, k_blocks] (nonzero = kept), the official
  // Jenga layout.
  static BlockSparseLayout from_onehot(std::span<const uint8_t> mask, int64_t batch, int64_t heads,
                                       int64_t q_blocks, int64_t k_blocks, int block_m = 128,
                                       int block_n = 128);
  std::vector<uint8_t> to_onehot() const;
  // Kept blocks / all blocks.
  double density() const;
  // Throws jenga::Error when offsets/indices are inconsistent or out of range.
  void validate() const;
};

}  // namespace jenga
