#pragma once
// The GPU AttenCarve chain (cuda::build_block_mask: what the CUDA denoisers build per layer) on
// host q/k, returned as the CPU builder's CarveMask, for `jenga debug carve-mask --device cuda`
// and parity checks against the official mask builder. Uploads, builds and synchronises: never
// for the step loop.
#include <cstdint>

#include "jenga/carve_mask.h"

namespace jenga::cuda {

// q, k: host bf16 [B, H, N, D] contiguous (D 64 or 128); params as build_carve_mask's
// (block 128; the last text_blocks blocks are text; zero padding to a multiple of 128 counted).
CarveMask build_carve_mask_gpu(const uint16_t* q, const uint16_t* k, int64_t batch, int64_t heads, int64_t n,
                               int64_t head_dim, const CarveParams& params);

}  // namespace jenga::cuda
