#include "models/wan/wan_dit_cpu.h"

#include <cmath>
#include <optional>
#include <vector>

#include "backend/cpu/attention.h"
#include "backend/cpu/gemm.h"
#include "backend/cpu/ops.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "dist/ulysses.h"

namespace jenga::wan {

namespace {

using Buf = std::vector<float>;

const float* f32(const Tensor& t) {
  JENGA_ASSERT(t.dtype() == DType::F32 && t.device() == Device::CPU);
  return t.data_as<float>();
}

// y: [m, out] = x: [m, in] W^T + b
void linear(const float* x, const LinearWeights& l, float* y, int64_t m) {
  const int64_t out = l.w.dim(0), in = l.w.dim(1);
  cpu::linear(x, f32(l.w), f32(l.b), y, m, out, in);
}

// q: [lq, heads, hd]; k, v: [lk, heads, hd] -> out: [lq, heads, hd]. Dense goes through GEMMs,
// a layout through the block-sparse reference.
void attend(const float* q, const float* k, const float* v, float* out, int64_t lq, int64_t lk,
            int64_t heads, int64_t hd, const BlockSparseLayout* layout) {
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
  if (!layout) return cpu::attention_dense_gemm(q, k, v, out, lq, lk, heads, hd, scale);
  cpu::AttentionArgs a;
  a.q = q, a.k = k, a.v = v, a.out = out;
  a.batch = 1, a.heads = heads, a.q_len = lq, a.k_len = lk, a.head_dim = hd;
  a.set_blhd_strides();
  a.scale = scale;
  a.layout = layout;
  cpu::attention(a);
}

void check_order(std::span<const int64_t> order, int64_t n) {
  if (order.empty()) return;
  if (static_cast<int64_t>(order.size()) != n)
    fail("DiT forward: token order has {} entries but the latent has {} tokens", order.size(), n);
  std::vector<char> seen(static_cast<size_t>(n), 0);
  for (int64_t r : order) {
    if (r < 0 || r >= n || seen[r]) fail("DiT forward: token order is no permutation of 0..{}", n - 1);
    seen[r] = 1;
  }
}

}  // namespace

void wan_time_embedding_cpu(const WanDit& model, double t, float* e, float* e0) {
  const WanConfig& c = model.config;
  const WanWeights& W = model.weights;
  const int64_t dim = c.dim;
  Buf sin_emb(static_cast<size_t>(c.freq_dim)), h(static_cast<size_t>(dim));
  cpu::sinusoidal_embedding(t, c.freq_dim, sin_emb.data());
  linear(sin_emb.data(), W.time0, h.data(), 1);
  cpu::silu(h.data(), dim);
  linear(h.data(), W.time2, e, 1);
  std::copy(e, e + dim, h.begin());
  cpu::silu(h.data(), dim);
  linear(h.data(), W.time_proj, e0, 1);
}

void check_dit_inputs(const WanConfig& c, const Tensor& x, double t, const Tensor& context) {
  if (x.dtype() != DType::F32 || x.ndim() != 4)
    fail("DiT input x must be f32 [C, F, H, W]; got {} {}", dtype_name(x.dtype()), x.shape().str());
  if (x.dim(0) != c.in_dim)
    fail("DiT input x has {} channels but the model takes {} (in_dim)", x.dim(0), c.in_dim);
  for (int i = 0; i < 3; ++i)
    if (x.dim(i + 1) <= 0 || x.dim(i + 1) % c.patch[i] != 0)
      fail("DiT input x {}: {} {} is not a positive multiple of the patch size {}", x.shape().str(),
           i == 0 ? "frames" : i == 1 ? "height" : "width", x.dim(i + 1), c.patch[i]);
  if (!std::isfinite(t)) fail("DiT timestep t is not finite ({})", t);
  if (context.dtype() != DType::F32 || context.ndim() != 2)
    fail("DiT context must be f32 [L, text_dim]; got {} {}", dtype_name(context.dtype()), context.shape().str());
  if (context.dim(1) != c.text_dim)
    fail("DiT context has dim {} but the model's text_dim is {}", context.dim(1), c.text_dim);
  if (context.dim(0) < 1 || context.dim(0) > c.text_len)
    fail("DiT context has {} tokens; the model takes 1 to {} (text_len)", context.dim(0), c.text_len);
  for (const Tensor* tt : {&x, &context}) {
    const float* v = tt->data_as<float>();
    for (int64_t i = 0; i < tt->numel(); ++i)
      if (!std::isfinite(v[i]))
        fail("DiT {} holds a non-finite value (NaN or inf) at flat index {}", tt == &x ? "input x" : "context", i);
  }
}

Tensor wan_forward_cpu(const WanDit& model, const Tensor& x, double t, const Tensor& context,
                       const DitForwardHooks& hooks) {
  const WanConfig& c = model.config;
  const WanWeights& W = model.weights;
  check_dit_inputs(c, x, t, context);
  const int64_t dim = c.dim, heads = c.num_heads, hd = c.head_dim();
  const int64_t F = x.dim(1) / c.patch[0], H = x.dim(2) / c.patch[1], Wd = x.dim(3) / c.patch[2];
  const int64_t L = F * H * Wd;
  const int64_t patch_len = c.in_dim * c.patch[0] * c.patch[1] * c.patch[2];
  const int64_t out_len = c.out_dim * c.patch[0] * c.patch[1] * c.patch[2];
  const int64_t TL = c.text_len;
  check_order(hooks.token_order, L);
  const bool permuted = !hooks.token_order.empty();
  // Sequence parallel: this rank holds tokens [off, off + n) of the sequence order, every
  // per-token op runs on them, self-attention sees all tokens of heads / ranks heads.
  std::optional<dist::Ulysses> sp;
  if (hooks.comm) sp.emplace(*hooks.comm, L, heads, hd);
  if (sp && hooks.self_attention && sp->local_heads() != heads)
    fail("sequence parallel with {} processes: this attention replacement (--attention svg) needs every head on one "
         "process; run one process or --parallel prompts", hooks.comm->size());
  const int64_t n = sp ? sp->local_tokens() : L, off = sp ? sp->offset() : 0;
  const int64_t sh = sp ? sp->local_heads() : heads;
  auto raster = [&](int64_t i) { return permuted ? hooks.token_order[static_cast<size_t>(i)] : i; };

  // Patch embedding (Conv3d with stride = kernel) as a GEMM over this rank's patch rows, taken
  // in curve order.
  Buf xs(static_cast<size_t>(n * dim)), tmp(static_cast<size_t>(n * dim));
  {
    Buf patches(static_cast<size_t>(L * patch_len)), mine(static_cast<size_t>(n * patch_len));
    cpu::patchify(f32(x), patches.data(), c.in_dim, F, H, Wd, c.patch);
    for (int64_t i = 0; i < n; ++i)
      std::copy_n(patches.data() + raster(off + i) * patch_len, patch_len, mine.data() + i * patch_len);
    cpu::linear(mine.data(), f32(W.patch_w), f32(W.patch_b), xs.data(), n, dim, patch_len);
  }
  // RoPE at each token's global position: the rows of this rank's shard.
  cpu::RopeTable rope = cpu::rope_table_3d(hd, F, H, Wd, hooks.token_order);
  if (sp) {
    const size_t a = static_cast<size_t>(off * rope.pairs), b = static_cast<size_t>((off + n) * rope.pairs);
    rope.cos = std::vector<double>(rope.cos.begin() + a, rope.cos.begin() + b);
    rope.sin = std::vector<double>(rope.sin.begin() + a, rope.sin.begin() + b);
    rope.tokens = n;
  }

  // Time embedding: e [dim] (head), e0 [6, dim] (blocks).
  Buf e(static_cast<size_t>(dim)), e0(static_cast<size_t>(6 * dim));
  wan_time_embedding_cpu(model, t, e.data(), e0.data());

  // Text context: zero-padded to text_len, then Linear -> GELU(tanh) -> Linear over all rows.
  Buf ctx(static_cast<size_t>(TL * dim));
  {
    Buf pad(static_cast<size_t>(TL * c.text_dim), 0.0f), h(static_cast<size_t>(TL * dim));
    std::copy(f32(context), f32(context) + context.numel(), pad.begin());
    linear(pad.data(), W.text0, h.data(), TL);
    cpu::gelu_tanh(h.data(), TL * dim);
    linear(h.data(), W.text2, ctx.data(), TL);
  }

  Buf q(static_cast<size_t>(n * dim)), k(static_cast<size_t>(n * dim)), v(static_cast<size_t>(n * dim));
  Buf att(static_cast<size_t>(n * dim)), ck(static_cast<size_t>(TL * dim)), cv(static_cast<size_t>(TL * dim));
  Buf ff(static_cast<size_t>(n * c.ffn_dim)), mod(static_cast<size_t>(6 * dim));
  // Head shards over the whole sequence (sequence parallel only).
  const size_t shard = sp ? static_cast<size_t>(L * sh * hd) : 0;
  Buf qh(shard), kh(shard), vh(shard), ah(shard);
  const bool skip_blocks = hooks.residual && hooks.reuse_residual;
  if (skip_blocks) {
    for (int64_t i = 0; i < n * dim; ++i) xs[i] += hooks.residual[i];
  } else if (hooks.residual) {
    std::copy(xs.begin(), xs.end(), hooks.residual);
  }
  for (int64_t layer = 0; layer < (skip_blocks ? 0 : c.num_layers); ++layer) {
    check_interrupt();  // Ctrl-C within a block's time, not a whole step's
    const WanBlockWeights& B = W.blocks[static_cast<size_t>(layer)];
    const float* m = f32(B.modulation);
    for (int64_t i = 0; i < 6 * dim; ++i) mod[i] = m[i] + e0[i];
    const float *shift_a = &mod[0], *scale_a = &mod[dim], *gate_a = &mod[2 * dim];
    const float *shift_f = &mod[3 * dim], *scale_f = &mod[4 * dim], *gate_f = &mod[5 * dim];

    // Self-attention on the modulated LayerNorm, q/k RMSNorm over the full dim, 3D RoPE.
    cpu::layer_norm(xs.data(), tmp.data(), n, dim, nullptr, nullptr, static_cast<float>(c.eps));
    cpu::modulate(tmp.data(), n, dim, shift_a, scale_a);
    linear(tmp.data(), B.sa_q, q.data(), n);
    linear(tmp.data(), B.sa_k, k.data(), n);
    linear(tmp.data(), B.sa_v, v.data(), n);
    cpu::rms_norm(q.data(), q.data(), n, dim, f32(B.sa_norm_q), static_cast<float>(c.eps));
    cpu::rms_norm(k.data(), k.data(), n, dim, f32(B.sa_norm_k), static_cast<float>(c.eps));
    cpu::rope_apply(q.data(), n, heads, hd, rope);
    cpu::rope_apply(k.data(), n, heads, hd, rope);
    if (sp) {
      // Sequence shard, all heads -> all tokens, this rank's heads; the mask per head as on one rank.
      sp->seq_to_heads(q.data(), qh.data());
      sp->seq_to_heads(k.data(), kh.data());
      sp->seq_to_heads(v.data(), vh.data());
    }
    float *aq = sp ? qh.data() : q.data(), *ak = sp ? kh.data() : k.data(), *av = sp ? vh.data() : v.data();
    float* ao = sp ? ah.data() : att.data();
    if (!hooks.self_attention || !hooks.self_attention(static_cast<int>(layer), aq, ak, av, ao, L)) {
      const BlockSparseLayout* layout =
          hooks.self_attn_layout ? hooks.self_attn_layout(static_cast<int>(layer), aq, ak, L, sh) : nullptr;
      attend(aq, ak, av, ao, L, L, sh, hd, layout);
    }
    if (sp) sp->heads_to_seq(ah.data(), att.data());
    linear(att.data(), B.sa_o, tmp.data(), n);
    cpu::add_gated(xs.data(), tmp.data(), n, dim, gate_a);

    // Cross-attention to all text_len context rows (affine LayerNorm, no modulation, no gate).
    cpu::layer_norm(xs.data(), tmp.data(), n, dim, f32(B.norm3_w), f32(B.norm3_b), static_cast<float>(c.eps));
    linear(tmp.data(), B.ca_q, q.data(), n);
    cpu::rms_norm(q.data(), q.data(), n, dim, f32(B.ca_norm_q), static_cast<float>(c.eps));
    linear(ctx.data(), B.ca_k, ck.data(), TL);
    cpu::rms_norm(ck.data(), ck.data(), TL, dim, f32(B.ca_norm_k), static_cast<float>(c.eps));
    linear(ctx.data(), B.ca_v, cv.data(), TL);
    attend(q.data(), ck.data(), cv.data(), att.data(), n, TL, heads, hd, nullptr);
    linear(att.data(), B.ca_o, tmp.data(), n);
    cpu::add_gated(xs.data(), tmp.data(), n, dim, nullptr);

    // FFN on the modulated LayerNorm: Linear -> GELU(tanh) -> Linear, gated residual.
    cpu::layer_norm(xs.data(), tmp.data(), n, dim, nullptr, nullptr, static_cast<float>(c.eps));
    cpu::modulate(tmp.data(), n, dim, shift_f, scale_f);
    linear(tmp.data(), B.ffn0, ff.data(), n);
    cpu::gelu_tanh(ff.data(), n * c.ffn_dim);
    linear(ff.data(), B.ffn2, tmp.data(), n);
    cpu::add_gated(xs.data(), tmp.data(), n, dim, gate_f);

    if (hooks.after_block) hooks.after_block(static_cast<int>(layer), xs.data(), n);
  }
  if (hooks.residual && !skip_blocks)
    for (int64_t i = 0; i < n * dim; ++i) hooks.residual[i] = xs[i] - hooks.residual[i];

  // Head (per token, so on the shard): modulation from e, not e0, then projection.
  Buf hmod(static_cast<size_t>(2 * dim));
  for (int64_t i = 0; i < 2 * dim; ++i) hmod[i] = f32(W.head_modulation)[i] + e[i % dim];
  cpu::layer_norm(xs.data(), tmp.data(), n, dim, nullptr, nullptr, static_cast<float>(c.eps));
  cpu::modulate(tmp.data(), n, dim, &hmod[0], &hmod[dim]);
  Buf out_tokens(static_cast<size_t>(L * out_len)), seq(permuted ? static_cast<size_t>(L * out_len) : 0);
  float* head_out = permuted ? seq.data() : out_tokens.data();
  if (sp) {
    Buf mine(static_cast<size_t>(n * out_len));
    linear(tmp.data(), W.head, mine.data(), n);
    sp->gather_tokens(mine.data(), head_out, out_len);
  } else {
    linear(tmp.data(), W.head, head_out, n);
  }
  // Back to raster order, unpatchify.
  if (permuted) cpu::scatter_rows(seq.data(), out_tokens.data(), out_len, hooks.token_order);
  Tensor out = Tensor::empty(DType::F32, Shape{c.out_dim, x.dim(1), x.dim(2), x.dim(3)});
  cpu::unpatchify(out_tokens.data(), out.data_as<float>(), c.out_dim, F, H, Wd, c.patch);
  return out;
}

}  // namespace jenga::wan
