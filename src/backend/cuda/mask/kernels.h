#pragma once
// Launchers of the mask-builder kernels (mask/*.cu); argument checks live in mask_api.cpp.
#include <cuda_runtime.h>

#include "backend/cuda/mask_builder.h"

namespace jenga::cuda::mask {

constexpr int kBlock = 128;

void launch_block_means(const BlockMeansArgs& a, cudaStream_t s);
// Both in one launch; q and k must share batch, heads and head dim.
void launch_block_means_pair(const BlockMeansArgs& q, const BlockMeansArgs& k, cudaStream_t s);
void launch_block_scores(const BlockScoresArgs& a, cudaStream_t s);
void launch_select_blocks(const BlockSelectArgs& a, cudaStream_t s);
size_t scan_workspace_bytes(int rows);
void launch_key_block_bias(float* bias, int heads, int k_blocks, int first_biased, float value, cudaStream_t s);
void launch_tally_kept(const int32_t* offsets, int rows, unsigned long long* total, cudaStream_t s);
void launch_compact_csr(const uint8_t* mask, const int32_t* counts, int rows, int k_blocks, void* ws,
                        size_t ws_bytes, int32_t* offsets, int32_t* indices, cudaStream_t s);

}  // namespace jenga::cuda::mask
