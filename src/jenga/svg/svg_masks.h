#pragma once
// Sparse VideoGen (v1) masks on a video token grid (frame-major tokens). Two rule sets:
// Wan2.1 (no text tokens: SVG's Wan path runs self-attention with context_length = 0), facts from
// svg/models/wan/{utils,placement}.py, listed below; HunyuanVideo (the joint sequence: video
// tokens, then the text rows, real ones first), facts from svg/models/hyvideo/{utils,placement,
// attention,inference}.py: the profiling band is floor(1.5 * frame_tokens) // 128 blocks with no
// first-frame sink and text rows / columns always kept; the attention mask in placed order is
// |i - j| < W, W = floor(multiplier * frame_tokens / 128) * 128, or a valid text column or row,
// while padding text rows attend only padding text; the multiplier discounts the text
// (sparsity_to_width with context_length = text rows). Wan:
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

enum class SvgRules : uint8_t { wan = 0, hunyuan = 1 };

struct SvgGrid {
  int64_t frames = 0, frame_tokens = 0;
  // HunyuanVideo: `text` rows follow the video tokens (official context_length), the first
  // `text_valid` of them real (prompt_length). Wan: none.
  int64_t text = 0, text_valid = 0;
  SvgRules rules = SvgRules::wan;
  int64_t tokens() const { return frames * frame_tokens; }  // video tokens
  int64_t sequence() const { return tokens() + text; }     // every row of self-attention
  int64_t real() const { return tokens() + text_valid; }   // video + valid text rows
  // Throws jenga::Error unless frames and frame_tokens are >= 1, 1 <= text_valid <= text for
  // HunyuanVideo rules, and no text under Wan rules.
  void validate() const;
};

enum class SvgPattern : uint8_t { spatial = 0, temporal = 1 };
const char* pattern_name(SvgPattern p);

// Half-width in 128-token blocks of the profiling band: floor(2S / 128) (Wan), floor(1.5S) // 128
// (HunyuanVideo).
int64_t profile_band_blocks(const SvgGrid& g);
// Profiling masks at token level, original (frame-major) indices over the whole sequence.
bool spatial_profile_keeps(const SvgGrid& g, int64_t q, int64_t k);
bool temporal_profile_keeps(const SvgGrid& g, int64_t q, int64_t k);

// Token-major position of frame-major token t: (t % S) * F + t / S.
int64_t token_major_position(const SvgGrid& g, int64_t t);
// order[i] = original token at placed position i (like the Hilbert order); identity for spatial.
std::vector<int32_t> placement_order(const SvgGrid& g, SvgPattern p);

// Official sparsity_to_width (context_length = g.text): the band half-width in frames.
double band_multiplier(const SvgGrid& g, double sparsity);
// Band width in tokens as the official mask_mod rounds it: Wan ceil(multiplier * S / 128) * 128
// (kept when |i - j| <= width), HunyuanVideo floor(...) * 128 (kept when |i - j| < width).
int64_t band_width(const SvgGrid& g, double multiplier);
// The attention mask in placed order (over the whole sequence; text rows keep their positions).
inline bool placed_keeps(const SvgGrid& g, int64_t width, int64_t i, int64_t j) {
  const int64_t d = i > j ? i - j : j - i;
  if (g.rules == SvgRules::wan) return d <= width || j < g.frame_tokens;
  const int64_t v = g.tokens(), real = g.real();
  if (i >= real || j >= real) return i >= real && j >= real;  // padding text attends padding text
  return d < width || i >= v || j >= v;
}

// Every block x block tile the placed mask touches, for `heads` heads (batch 1). At block 128 this
// is exactly the official flex BlockMask (partial + full blocks); flex also masks tokens inside the
// partial diagonal tiles, our kernel does not. block = 1 gives the exact token mask.
// HunyuanVideo rules: the layout of the video query rows only (q_blocks over tokens()) over the
// keys [0, real()) (video in placed order, then the valid text); the text rows attend densely
// (valid text over [0, real()), padding over the padding), which needs no layout.
BlockSparseLayout placed_layout(const SvgGrid& g, int64_t width, int64_t heads, int block = 128);

}  // namespace jenga::svg
