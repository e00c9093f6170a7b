#pragma once
// Which work a CTA does: one (batch, head, query block of 128), and the key tiles it visits.
// Sparse and dense differ only here: dense walks every key tile, sparse walks the CSR row's
// kept 128-key blocks (each split into kSubTiles tiles), skipping tiles wholly past k_len.
#include <cstdint>

#include "backend/cuda/attention.h"
#include "backend/cuda/attention/traits.cuh"

namespace jenga::cuda::attn {

struct WorkTile {
  int b, h, qb;
};

// Grid (q_blocks, heads, batch), query blocks fastest so CTAs running together share a head's
// K/V in L2.
__device__ __forceinline__ WorkTile work_tile() {
  return {static_cast<int>(blockIdx.z), static_cast<int>(blockIdx.y), static_cast<int>(blockIdx.x)};
}

template <class T>
struct KeyTiles {
  const int32_t* kept = nullptr;  // this row's kept key blocks, nullptr = dense
  int count = 0;                  // key tiles to visit

  __device__ __forceinline__ KeyTiles(const AttentionParams& p, const WorkTile& w) {
    const int k_blocks = (p.k_len + kBlock - 1) / kBlock;
    const int last_tiles = (p.k_len - (k_blocks - 1) * kBlock + T::kBN - 1) / T::kBN;  // ragged block
    if (p.block_offsets == nullptr) {
      count = (k_blocks - 1) * T::kSubTiles + last_tiles;
      return;
    }
    const int q_blocks = (p.q_len + kBlock - 1) / kBlock;
    const int64_t row = (static_cast<int64_t>(w.b) * p.heads + w.h) * q_blocks + w.qb;
    const int begin = p.block_offsets[row], end = p.block_offsets[row + 1];
    kept = p.block_indices + begin;
    const int n = end - begin;
    count = n * T::kSubTiles;
    // Indices ascend, so only the row's last kept block can be the ragged final one.
    if (n > 0 && kept[n - 1] == k_blocks - 1) count -= T::kSubTiles - last_tiles;
  }
  __device__ __forceinline__ int block(int t) const {
    return kept ? kept[t / T::kSubTiles] : t / T::kSubTiles;
  }
  __device__ __forceinline__ int key0(int t) const {
    return block(t) * kBlock + (t % T::kSubTiles) * T::kBN;
  }
};

}  // namespace jenga::cuda::attn
