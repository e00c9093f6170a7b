#include "backend/block_sparse.h"

#include "core/error.h"

namespace jenga {

std::span<const int32_t> BlockSparseLayout::kept(int64_t b, int64_t h, int64_t qb) const {
  const int64_t r = row(b, h, qb);
  return {indices.data() + offsets[r], static_cast<size_t>(offsets[r + 1] - offsets[r])};
}

BlockSparseLayout BlockSparseLayout::dense(int64_t batch, int64_t heads, int64_t q_blocks,
                                           int64_t k_blocks, int block_m, int block_n) {
  BlockSparseLayout l;
  l.batch = batch, l.heads = heads, l.q_blocks = q_blocks, l.k_blocks = k_blocks;
  l.block_m = block_m, l.block_n = block_n;
  const int64_t rows = l.rows();
  l.offsets.resize(rows + 1);
  l.indices.resize(rows * k_blocks);
  for (int64_t r = 0; r <= rows; ++r) l.offsets[r] = static_cast<int32_t>(r * k_blocks);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < k_blocks; ++j) l.indices[r * k_blocks + j] = static_cast<int32_t>(j);
  return l;
}

BlockSparseLayout BlockSparseLayout::from_onehot(std::span<const uint8_t> mask, int64_t batch,
                                                 int64_t heads, int64_t q_blocks, int64_t k_blocks,
                                                 int block_m, int block_n) {
  if (static_cast<int64_t>(mask.size()) != batch * heads * q_blocks * k_blocks)
    fail("block mask has {} entries, expected {}x{}x{}x{}", mask.size(), batch, heads, q_blocks, k_blocks);
  BlockSparseLayout l;
  l.batch = batch, l.heads = heads, l.q_blocks = q_blocks, l.k_blocks = k_blocks;
  l.block_m = block_m, l.block_n = block_n;
  const int64_t rows = l.rows();
  l.offsets.resize(rows + 1);
  l.offsets[0] = 0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < k_blocks; ++j)
      if (mask[r * k_blocks + j]) l.indices.push_back(static_cast<int32_t>(j));
    l.offsets[r + 1] = static_cast<int32_t>(l.indices.size());
  }
  return l;
}

std::vector<uint8_t> BlockSparseLayout::to_onehot() const {
  std::vector<uint8_t> m(static_cast<size_t>(rows() * k_blocks), 0);
  for (int64_t r = 0; r < rows(); ++r)
    for (int32_t i = offsets[r]; i < offsets[r + 1]; ++i) m[r * k_blocks + indices[i]] = 1;
  return m;
}

double BlockSparseLayout::density() const {
  const double all = static_cast<double>(rows()) * static_cast<double>(k_blocks);
  return all > 0 ? static_cast<double>(indices.size()) / all : 0.0;
}

void BlockSparseLayout::validate() const {
  if (batch < 0 || heads < 0 || q_blocks < 0 || k_blocks < 0 || block_m <= 0 || block_n <= 0)
    fail("block layout: negative or zero sizes");
  if (static_cast<int64_t>(offsets.size()) != rows() + 1)
    fail("block layout: {} offsets for {} rows", offsets.size(), rows());
  if (offsets[0] != 0 || offsets.back() != static_cast<int32_t>(indices.size()))
    fail("block layout: offsets do not span the index list");
  for (int64_t r = 0; r < rows(); ++r) {
    if (offsets[r + 1] < offsets[r]) fail("block layout: offsets decrease at row {}", r);
    for (int32_t i = offsets[r]; i < offsets[r + 1]; ++i) {
      if (indices[i] < 0 || indices[i] >= k_blocks)
        fail("block layout: row {} keeps key block {} of {}", r, indices[i], k_blocks);
      if (i > offsets[r] && indices[i] <= indices[i - 1])
        fail("block layout: row {} is not strictly ascending", r);
    }
  }
}

}  // namespace jenga
