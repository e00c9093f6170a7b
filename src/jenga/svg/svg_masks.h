#pragma once
// Sparse VideoGen (v1) masks on a video token grid (frame-major tokens, no text tokens: SVG's Wan
// path runs self-attention with context_length = 0). Facts from svg/models/wan/{utils,placement}.py:
//  - profiling masks (online head classification): "spatial" keeps key columns of the first frame
//    plus 128-token blocks |qb - kb| < floor(2 * frame_tokens / 128); "temporal" is the same mask
//    taken in token-major order (token t = f * S + s sits at s * F + f).
//  - attention: temporal heads are placed in token-major order, spatial heads keep frame-major; both
//    then run one static mask in placed order: |i - j| <= W or j < frame_tokens (first-frame sink),
//    W = ceil(multiplier * frame_tokens / 128) * 128, multiplier from --sparsity.
#include <cstdint>
#include <vector>

#include "backend/block_sparse.h"

namespace jenga::svg {

struct SvgGrid {
  int64_t frames = 0, frame_tokens = 0;
  int64_t tokens() const { return frames * frame_tokens; }
  // Throws jenga::Error unless both are >= 1.
  void validate() const;
};

enum class SvgPattern : uint8_t { spatial = 0, temporal = 1 };
const char* pattern_name(SvgPattern p);

// Profiling masks at token level, original (frame-major) indices.
bool spatial_profile_keeps(const SvgGrid& g, int64_t q, int64_t k);
bool temporal_profile_keeps(const SvgGrid& g, int64_t q, int64_t k);

// Token-major position of frame-major token t: (t % S) * F + t / S.
int64_t token_major_position(const SvgGrid& g, int64_t t);
// order[i] = original token at placed position i (like the Hilbert order); identity for spatial.
std::vector<int32_t> placement_order(const SvgGrid& g, SvgPattern p);

// Official sparsity_to_width (context_length = 0): the band half-width in frames.
double band_multiplier(const SvgGrid& g, double sparsity);
// Band half-width in tokens, rounded up to a multiple of 128 as the official mask_mod does.
int64_t band_width(const SvgGrid& g, double multiplier);
// The attention mask in placed order.
inline bool placed_keeps(const SvgGrid& g, int64_t width, int64_t i, int64_t j) {
  return (i > j ? i - j : j - i) <= width || j < g.frame_tokens;
}

// Every block x block tile the placed mask touches, for `heads` heads (batch 1). At block 128 this
// is exactly the official flex BlockMask (partial + full blocks); flex also masks tokens inside the
// partial diagonal tiles, our kernel does not. block = 1 gives the exact token mask.
BlockSparseLayout placed_layout(const SvgGrid& g, int64_t width, int64_t heads, int block = 128);

}  // namespace jenga::svg
