#pragma once
// The HunyuanVideo DiT forward in f32 on the CPU (the reference), piece by piece so each piece is
// tested against the official code's output (tests/test_hunyuan_dit.cpp). Batch 1; h = hidden,
// hd = head dim, Li = image tokens (F*H*W after patching, raster order t, h, w), Lt = text tokens.
// The text mask is a prefix: the first `valid` text tokens are real, the rest padding (as the
// official cu_seqlens assume: image + valid text attend together, padding attends to itself).
#include <cstdint>
#include <span>
#include <vector>

#include "models/dit_hooks.h"
#include "models/hunyuan/hunyuan_dit.h"

namespace jenga::dist {
class Ulysses;
}

namespace jenga::hunyuan {

// Sinusoid [cos(t f_k), sin(t f_k)], f_k = exp(-ln(10000) k / (dim/2)), in f32 as the official
// timestep_embedding, then Linear, SiLU, Linear: [h].
std::vector<float> timestep_embedder_cpu(const Linear& l0, const Linear& l2, float t, int64_t freq_dim);

// vec = time_in(t) + vector_in(text_states_2) + guidance_in(guidance) (without guidance embed the
// last term is absent): [h]. text_states_2: [text_dim_2].
std::vector<float> modulation_vector_cpu(const HunyuanDit& m, float t, const float* text_states_2, float guidance);

// txt_in (SingleTokenRefiner): text_states [Lt, text_dim] -> [Lt, h]. The mean for the context
// vector is over the `valid` first tokens; in the refiner's self-attention a real token attends
// to real tokens and a padding token to token 0 only (the official mask).
std::vector<float> token_refiner_cpu(const HunyuanDit& m, const float* text_states, int64_t text_len, int64_t valid,
                                     float t);

// RoPE tables of a (frames x height x width) token grid, raster order: cos, sin: [tokens, hd],
// each pair's value repeated twice (the official get_nd_rotary_pos_embed, use_real, theta 256).
struct HunyuanRope {
  int64_t tokens = 0, head_dim = 0;
  std::vector<float> cos, sin;
};
HunyuanRope rope_table_cpu(const HunyuanConfig& c, int64_t frames, int64_t height, int64_t width,
                           double theta = 256.0);

// HunyuanVideo-I2V's token_replace condition: the image tokens of latent frame 0 are modulated
// (shift, scale, gate) from token_replace_vec = time_in(0) + vector_in(text_states_2) (no
// guidance term) instead of vec, in every double block's image stream and every single block's
// image rows; text rows and the final layer keep vec.
struct TokenReplace {
  const float* vec = nullptr;            // [h]: token_replace_vec
  std::span<const uint8_t> first_frame;  // [Li], sequence order (after any token order): 1 = frame 0
};
// token_replace_vec: [h].
std::vector<float> token_replace_vector_cpu(const HunyuanDit& m, const float* text_states_2);

// One MMDoubleStreamBlock in place: img [Li, h], txt [Lt, h], vec [h]. Under sequence parallel
// (sp set) img holds this rank's Li image rows (the rope table's rows match them) and txt every
// text row; self-attention exchanges heads over sp (see hunyuan_forward_cpu). hooks (optional): the
// self-attention layout of block `layer` over the attended segment (image + valid text tokens,
// the text rows are the condition blocks at the end of the sequence), see DitForwardHooks.
// Under a layout the official Jenga path is followed: image rows over the kept blocks (keys
// past the valid text masked) plus the hook's key-block bias (text amplifier); every text row,
// padding included, densely over all keys, padding included.
void double_block_cpu(const HunyuanConfig& c, const DoubleBlock& b, float* img, int64_t li, float* txt, int64_t lt,
                      int64_t valid, const float* vec, const HunyuanRope& rope, const DitForwardHooks* hooks = nullptr,
                      int layer = 0, const TokenReplace* tr = nullptr, dist::Ulysses* sp = nullptr);

// One MMSingleStreamBlock in place: x [Li + Lt, h] (image tokens first), vec [h]; hooks, sp as above.
void single_block_cpu(const HunyuanConfig& c, const SingleBlock& b, float* x, int64_t li, int64_t lt, int64_t valid,
                      const float* vec, const HunyuanRope& rope, const DitForwardHooks* hooks = nullptr,
                      int layer = 0, const TokenReplace* tr = nullptr, dist::Ulysses* sp = nullptr);

// The whole forward: x [C_in, F*pt, H*ph, W*pw], text_states [Lt, text_dim], text_states_2
// [text_dim_2] -> [C_out, F*pt, H*ph, W*pw]. t in [0, 1000]; guidance = cfg scale x 1000.
// hooks (optional, models/dit_hooks.h): token_order (the image tokens the blocks see, RoPE
// follows them; undone before the head), self_attn_layout (per block: doubles 0.., then singles),
// after_block (x: [Li + Lt, h], image tokens first, in sequence order), step reuse (residual:
// [Li, h] of the image tokens in sequence order, as jenga_hyvideo.py's ra_forward keeps it).
// hooks->comm: Ulysses sequence parallel as the official multi-GPU Jenga (xDiT): the image tokens
// split over the ranks in sequence (curve) order by dist::Ulysses::token_split (48-token aligned
// shards, as Wan's CPU path: equal to one process bit for bit with single-threaded BLAS), the
// text tokens replicated, heads exchanged around self-attention; every rank returns the whole
// output. self_attention (Sparse VideoGen) replaces each block's whole joint self-attention
// (q, k, v, out: [Li + Lt, heads * hd], image rows first; tokens = Li + Lt); under sequence
// parallel only with one rank.
// token_replace: HunyuanVideo-I2V's condition (the first latent frame's tokens modulated as at
// t = 0 without guidance; with a token order they are found where the order puts them).
std::vector<float> hunyuan_forward_cpu(const HunyuanDit& m, const float* x, int64_t frames, int64_t height,
                                       int64_t width, float t, const float* text_states, int64_t text_len,
                                       int64_t valid, const float* text_states_2, float guidance,
                                       const DitForwardHooks* hooks = nullptr, bool token_replace = false);

}  // namespace jenga::hunyuan
