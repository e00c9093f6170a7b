#pragma once
// Sparse VideoGen kernels (plain C++ header): the online head profiling of the official
// sample_mse, the per-head placement gather / scatter. Arguments are not checked here (SvgAttention
// checks them): head_dim 64 or 128, strides multiples of 8, 16-byte aligned rows. Token grid: `frames` x `frame_tokens`,
// frame-major; temporal heads are placed token-major (token t = f*S + s at s*F + f). HunyuanVideo:
// `text` rows follow the video tokens; they keep their positions and both profiling masks keep
// them as rows and as columns.
#include <cstdint>

namespace jenga::cuda {

struct SvgGridArgs {
  int heads = 0, head_dim = 0;  // head_dim 64 or 128
  int64_t frames = 0, frame_tokens = 0;
  int64_t text = 0;         // rows after the video tokens (HunyuanVideo's text), 0 for Wan
  int64_t sink = 0;         // profiling: key columns below this always kept (Wan: frame_tokens; HunyuanVideo: 0)
  int64_t band_blocks = 0;  // profiling: 128-token blocks |qb - kb| < band_blocks kept (svg::profile_band_blocks)
  int64_t tokens() const { return frames * frame_tokens; }  // video tokens
  int64_t sequence() const { return tokens() + text; }
};

// For each head and sampled row r: softmax attention of query r over all keys, over the keys the
// spatial profiling mask keeps and over those the temporal one keeps (f32 accumulation), and the
// squared error of each masked output against the dense one. Then per head: mean error over rows
// and head_dim, pattern = temporal iff its error is smaller (ties spatial, as torch.argmin).
// q, k, v: bf16 [sequence, heads, head_dim] rows `row_stride` apart (16-byte aligned); every key
// of the sequence is attended (the official profile: text padding included). rows: device
// [num_rows], each < sequence. row_err: scratch [heads, num_rows, 2]. patterns: [heads] (0 spatial, 1 temporal);
// mse: optional [heads, 2]; temporal_total: optional running count of temporal heads.
void svg_profile(const uint16_t* q, const uint16_t* k, const uint16_t* v, int64_t row_stride, const SvgGridArgs& g,
                 const int32_t* rows, int num_rows, float* row_err, int32_t* patterns, float* mse,
                 unsigned long long* temporal_total, void* stream);

// pq/pk/pv [heads, sequence, head_dim] (contiguous) = q/k/v of each head in its placed order
// (video tokens placed, text rows after them unchanged).
void svg_gather(const uint16_t* q, const uint16_t* k, const uint16_t* v, int64_t row_stride, const SvgGridArgs& g,
                const int32_t* patterns, uint16_t* pq, uint16_t* pk, uint16_t* pv, void* stream);
// out[token, head] rows `out_row_stride` apart = po [heads, sequence, head_dim]'s placed video rows
// scattered back (text rows untouched).
void svg_scatter(const uint16_t* po, const SvgGridArgs& g, const int32_t* patterns, uint16_t* out,
                 int64_t out_row_stride, void* stream);

}  // namespace jenga::cuda
