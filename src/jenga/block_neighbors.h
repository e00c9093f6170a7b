#pragma once
// 3D block-neighbour sets (official gilbert_block_neighbor_mapping /
// sliced_gilbert_block_neighbor_mapping): curve position i belongs to block i / block_size;
// block b's neighbours are b itself plus the block of every token that is 26-adjacent in the
// (T, H, W) token grid to some token of b. Symmetric; stored as CSR with ascending indices.
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "jenga/gilbert_curve.h"

namespace jenga {

struct BlockNeighbors {
  int64_t blocks = 0;
  int block_size = 128;
  std::vector<int32_t> offsets;  // [blocks + 1]
  std::vector<int32_t> indices;  // neighbour blocks of each block, ascending

  std::span<const int32_t> of(int64_t block) const {
    return {indices.data() + offsets[block], indices.data() + offsets[block + 1]};
  }
  // The official dense bool matrix [blocks, blocks], row-major.
  std::vector<uint8_t> to_dense() const;
};

BlockNeighbors build_block_neighbors(const Curve& curve, int block_size = 128);
// Neighbour sets as the official code builds them for a spec: the official non-sliced
// neighbour mapping ignores a transpose order (it always uses the plain 3D curve), the sliced
// one honours it. Cached per (spec, block_size).
std::shared_ptr<const BlockNeighbors> cached_block_neighbors(const CurveSpec& spec, int block_size = 128);

}  // namespace jenga
