#pragma once
// Small f32 CPU ops used by the video VAEs (Wan, HunyuanVideo) and the umT5 text encoder.
#include <cstdint>

namespace jenga::cpu {

// VAE RMS_norm on channels-last pixels: x / max(||x||_2, 1e-12) * sqrt(c) * gamma, then SiLU
// when `silu` (the two always come together in the Wan VAE except in the attention block).
// x, out: [n, c] (may alias); gamma: [c]
void vae_rms_norm(const float* x, int64_t n, int64_t c, const float* gamma, bool silu, float* out);

// torch.nn.GroupNorm on channels-last pixels: each of `groups` runs of c/groups channels is
// normalised by its mean and biased variance over all n pixels (statistics in double), then
// y = x_hat * weight + bias, then SiLU when `silu`. x, out: [n, c] (may alias); weight, bias: [c].
void group_norm(const float* x, int64_t n, int64_t c, int64_t groups, const float* weight, const float* bias,
                float eps, bool silu, float* out);

// T5LayerNorm: x * rsqrt(mean(x^2) + eps) * weight. x, out: [n, c] (may alias); weight: [c]
void t5_rms_norm(const float* x, int64_t n, int64_t c, const float* weight, float eps, float* out);

// GELU, tanh approximation (T5's gated FFN). In place on n values.
void gelu_tanh_inplace(float* x, int64_t n);

// Attention for one head through GEMMs, query rows tiled so the score buffer stays bounded:
// out[i] = softmax_j(scale * q[i].k[j] + bias[i, j] + (key_mask[j] ? 0 : -inf)) v[j].
// q: [lq, d] rows `ldq` apart; k, v: [lk, d] rows `ldk`/`ldv` apart; out: [lq, d] rows `ldo`
// apart; bias: [lq, lk] or null; key_mask: [lk] (nonzero = attend) or null. A row whose keys are
// all masked gets the mean of v (what softmax over equal "-inf + bias" logits gives in PyTorch
// with the dtype-min fill is input-dependent; callers drop such rows, as the official code does).
void attention_gemm(const float* q, int64_t ldq, const float* k, int64_t ldk, const float* v, int64_t ldv,
                    float* out, int64_t ldo, int64_t lq, int64_t lk, int64_t d, float scale,
                    const float* bias, const uint8_t* key_mask);

}  // namespace jenga::cpu
