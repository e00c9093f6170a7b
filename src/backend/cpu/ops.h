#pragma once
// Elementwise and row-wise f32 ops of the DiT on the CPU (the reference backend). Tensors are
// plain contiguous row-major arrays; every function states its shapes. The few places where the
// official Wan2.1 code computes in float64 (RoPE angles and rotation, the sinusoidal time
// embedding) are computed in double here too, so f32 results match it to rounding.
#include <cstdint>
#include <span>
#include <vector>

namespace jenga::cpu {

// x, y: [rows, dim] (y may alias x). weight/bias: [dim] or nullptr (LayerNorm without affine).
// Biased variance, as torch.nn.LayerNorm.
void layer_norm(const float* x, float* y, int64_t rows, int64_t dim, const float* weight,
                const float* bias, float eps);
// x, y: [rows, dim] (y may alias x); weight: [dim] or nullptr. y = x / sqrt(mean(x^2) + eps) * w.
void rms_norm(const float* x, float* y, int64_t rows, int64_t dim, const float* weight, float eps);

// In place over n values. GELU with the tanh approximation (nn.GELU(approximate='tanh')).
void gelu_tanh(float* x, int64_t n);
void silu(float* x, int64_t n);

// x: [rows, dim]; shift, scale: [dim]. x = x * (1 + scale) + shift (adaLN modulation).
void modulate(float* x, int64_t rows, int64_t dim, const float* shift, const float* scale);
// x, y: [rows, dim]; gate: [dim] or nullptr (= 1). x += y * gate.
void add_gated(float* x, const float* y, int64_t rows, int64_t dim, const float* gate);

// out: [dim] (dim even) = [cos(t f_0..f_{h-1}), sin(t f_0..f_{h-1})], f_k = 10000^(-k/h),
// h = dim/2, computed in double (official sinusoidal_embedding_1d).
void sinusoidal_embedding(double t, int64_t dim, float* out);

// Per-token RoPE angles of a (frames x height x width) token grid for one head of head_dim.
// The head's head_dim/2 complex pairs are split across (t, h, w) as the official model does:
// c = head_dim/2 pairs -> [c - 2(c/3), c/3, c/3]; within a part of n pairs, pair j rotates by
// pos * theta^(-j/n). Tables are in double: cos, sin: [tokens, head_dim/2].
struct RopeTable {
  int64_t tokens = 0, pairs = 0;
  std::vector<double> cos, sin;
};
// order (optional): order[i] = raster index (f*H*W + h*W + w) of the i-th token, so the table
// follows a permuted token sequence. Empty = raster order.
RopeTable rope_table_3d(int64_t head_dim, int64_t frames, int64_t height, int64_t width,
                        std::span<const int64_t> order = {}, double theta = 10000.0);
// x: [tokens, heads, head_dim], rotated in place on consecutive (even, odd) pairs (the complex
// interleaved convention), in double, rounded back to f32.
void rope_apply(float* x, int64_t tokens, int64_t heads, int64_t head_dim, const RopeTable& rope);

// Patch embedding as a GEMM: x: [C, F*pt, H*ph, W*pw] -> patches: [F*H*W, C*pt*ph*pw], a token's
// row ordered (c, i, j, k) like a Conv3d weight [out, C, pt, ph, pw] flattened, tokens raster.
void patchify(const float* x, float* patches, int64_t channels, int64_t frames, int64_t height,
              int64_t width, const int64_t patch[3]);
// Inverse layout of the head output: tokens: [F*H*W, pt*ph*pw*C] with a row ordered (i, j, k, c)
// (official unpatchify) -> out: [C, F*pt, H*ph, W*pw]. F, H, W count tokens.
void unpatchify(const float* tokens, float* out, int64_t channels, int64_t frames, int64_t height,
                int64_t width, const int64_t patch[3]);

// Dense softmax(scale q k^T) v through OpenBLAS GEMMs, query chunk by chunk: the same maths as
// cpu::attention without a layout (which stays the reference), fast enough for the full-size
// DiT on the CPU. q, out: [lq, heads, hd]; k, v: [lk, heads, hd].
void attention_dense_gemm(const float* q, const float* k, const float* v, float* out, int64_t lq,
                          int64_t lk, int64_t heads, int64_t hd, float scale);

// rows: [n, dim]. dst[i] = src[index[i]] (gather) and dst[index[i]] = src[i] (scatter).
void gather_rows(const float* src, float* dst, int64_t dim, std::span<const int64_t> index);
void scatter_rows(const float* src, float* dst, int64_t dim, std::span<const int64_t> index);

}  // namespace jenga::cpu
