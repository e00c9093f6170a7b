#pragma once
// Compile-time shape of one attention CTA: 128 query rows (warps of MT x 16 rows: 8 warps with
// one m16 MMA row tile each, or 4 warps with two, FlashAttention-2's layout) against key tiles
// of kBN rows, head dim kD. Q, K and V tiles live in shared
// memory with 16-byte chunks XOR-swizzled by (row & 7) so ldmatrix reads are conflict-free.
#include <cuda_bf16.h>

namespace jenga::cuda::attn {

constexpr int kBlock = 128;  // the layout's query/key block (BlockSparseLayout 128 x 128)

template <int D, int BN, int MT = 1>
struct Traits {
  static_assert(D == 64 || D == 128, "head dim 64 or 128");
  static_assert(BN == 64 || BN == 128, "key tile 64 or 128");
  static constexpr int kD = D;
  static constexpr int kBM = kBlock;
  static constexpr int kBN = BN;
  static_assert(MT == 1 || MT == 2, "one or two m16 row tiles per warp");
  static constexpr int kMT = MT;
  static constexpr int kWarpRows = 16 * MT;
  static constexpr int kWarps = kBM / kWarpRows;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kChunks = D / 8;          // 16-byte chunks per row
  static constexpr int kSubTiles = kBlock / BN;  // key tiles per 128-key block
  static constexpr int kQElems = kBM * D;
  static constexpr int kKVElems = BN * D;
  static constexpr int kStages = 2;              // K/V double buffer
  static constexpr int kSmemBytes = (kQElems + kStages * 2 * kKVElems) * 2;
  // CTAs per SM the register budget is capped for (2 fits 2 x 96 KB of shared memory at BN 64).
  static constexpr int kMinBlocks = BN == 64 ? 2 : 1;
  // Q fragments live in registers only where the budget allows.
  static constexpr bool kQInRegs = MT == 1 && (kMinBlocks == 1 || D == 64);
};

// Element offset of (row, 16-byte chunk) in a swizzled [rows, D] bf16 tile.
template <int D>
__device__ __forceinline__ int swizzled(int row, int chunk) {
  return row * D + ((chunk ^ (row & 7)) << 3);
}

}  // namespace jenga::cuda::attn
