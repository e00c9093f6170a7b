#pragma once
// Row softmaxes of attention scores (f32 statistics): plain (the VAEs' attention), causal with a
// key mask (the Llama encoder), and with T5's relative position bias and a key mask (umT5). Each
// keeps its own reduction order. Plain C++ header: bf16 tensors are void* (device), f32 tensors
// float*, streams void*.
#include <cstdint>

namespace jenga::cuda {

// p = softmax(s * scale) per row. s: [rows, cols] f32; p: [rows, cols] bf16 (f32 with p_f32).
void softmax_rows(const float* s, void* p, bool p_f32, int64_t rows, int64_t cols, float scale,
                  void* stream = nullptr);
// The same with p in fp16 (HunyuanVideo's VAE, whose attention runs in fp16 as the official).
void softmax_rows_f16(const float* s, void* p, int64_t rows, int64_t cols, float scale, void* stream = nullptr);
// Frame-causal rows (the HunyuanVideo VAE's mid attention over frames of `frame` tokens): row i of
// s is token row0 + i and sees the keys of its frame and the ones before, the first
// ((row0 + i) / frame + 1) * frame columns (at most cols); p is 0 past them. frame 0: all columns.
void softmax_rows_frame_causal_f16(const float* s, void* p, int64_t rows, int64_t cols, int64_t row0, int64_t frame,
                                   float scale, void* stream = nullptr);

// Causal attention with padded keys (the text encoders: Llama, CLIP): per head h and query row i
// of s: [heads, len, ld] f32 (len keys, rows ld >= len apart), p[h, i, j] = softmax_j(scale *
// s[h, i, j]) over keys j <= i with key_mask[j] != 0; a row with no such key gets 1/len
// everywhere (what torch's dtype-min mask gives). p: the same layout in fp16 (p_f16) or f32,
// which may be s itself. key_mask: [len] u8.
void softmax_causal_masked(const float* s, void* p, bool p_f16, const uint8_t* key_mask, int64_t heads, int64_t len,
                           int64_t ld, float scale, void* stream = nullptr);
// The same over every key j with key_mask[j] != 0, no causal limit (CLIP's vision tower).
void softmax_key_masked(const float* s, void* p, bool p_f16, const uint8_t* key_mask, int64_t heads, int64_t len,
                        int64_t ld, float scale, void* stream = nullptr);

// The masked softmax of T5 attention with a relative position bias, f32, one row per (head,
// query): p[h, i, j] = softmax_j(s[h, i, j] + pos[bucket[j - i + center], h]) over the keys j
// with key_mask[j] != 0 (padded keys get probability 0; a row with no key left is uniform).
// s: [heads, len, len] f32; p: [heads, len, len] bf16; pos: [buckets, heads] f32;
// bucket: i32 indexed by (j - i + center), center >= len - 1; key_mask: [len] u8.
void softmax_rel_bias(const float* s, void* p, const float* pos, const int32_t* bucket, int64_t center,
                      const uint8_t* key_mask, int64_t heads, int64_t len, void* stream = nullptr);

}  // namespace jenga::cuda
