#include "models/hunyuan/hunyuan_dit_cpu.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "backend/cpu/attention.h"
#include "backend/cpu/gemm.h"
#include "backend/cpu/ops.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "dist/ulysses.h"

namespace jenga::hunyuan {

namespace {

const float* f32(const Tensor& t) { return t.defined() ? t.data_as<float>() : nullptr; }

// y [rows, out] = x [rows, in] W^T + b
void linear(const float* x, const Linear& l, float* y, int64_t rows) {
  const int64_t out = l.w.shape()[0], in = l.w.shape()[1];
  cpu::linear(x, f32(l.w), l.b.defined() ? f32(l.b) : nullptr, y, rows, out, in);
}

std::vector<float> linear(const std::vector<float>& x, const Linear& l, int64_t rows) {
  std::vector<float> y(static_cast<size_t>(rows * l.w.shape()[0]));
  linear(x.data(), l, y.data(), rows);
  return y;
}

// out [n] = Linear(SiLU(vec))
std::vector<float> silu_linear(const float* vec, int64_t h, const Linear& l) {
  std::vector<float> s(vec, vec + h);
  cpu::silu(s.data(), h);
  return linear(s, l, 1);
}

// Scaled dot-product attention of q [l, heads, hd] over k, v within [begin, end) rows: the
// official varlen segments (image + valid text) and (padding text).
// With `layout`: only its kept key blocks (a Jenga layout over the segment).
void segment_attention(const float* q, const float* k, const float* v, float* out, int64_t begin, int64_t end,
                       int64_t heads, int64_t hd, const BlockSparseLayout* layout = nullptr,
                       const float* key_block_bias = nullptr) {
  if (end <= begin) return;
  const int64_t off = begin * heads * hd;
  if (layout) {
    cpu::AttentionArgs a;
    a.q = q + off, a.k = k + off, a.v = v + off, a.out = out + off;
    a.heads = heads, a.q_len = a.k_len = end - begin, a.head_dim = hd;
    a.set_blhd_strides();
    a.scale = 1.0f / std::sqrt(static_cast<float>(hd));
    a.layout = layout;
    a.key_block_bias = key_block_bias;
    cpu::attention(a);
    return;
  }
  cpu::attention_dense_gemm(q + off, k + off, v + off, out + off, end - begin, end - begin, heads, hd,
                            1.0f / std::sqrt(static_cast<float>(hd)));
}

// Jenga's sparse path (attention_block_triton_diffres.py): the text query rows [li, l), padding
// included, attend densely over all l keys, padding included, without the text amplifier. The
// I2V kernel (hyvideo_i2v/...) first pads q/k/v with zero rows to a multiple of 128, so the text
// rows also see those zero keys (score 0, value 0): 116 of them for 396 I2V text rows
// (`pad_to_block`: the I2V model). The T2V kernel pads nothing.
void text_rows_over_all_keys(const float* q, const float* k, const float* v, float* out, int64_t li, int64_t l,
                             int64_t heads, int64_t hd, bool pad_to_block) {
  if (l <= li) return;
  const int64_t pad = pad_to_block ? (128 - l % 128) % 128 : 0;
  std::vector<float> kp, vp;
  if (pad > 0) {
    kp.assign(static_cast<size_t>((l + pad) * heads * hd), 0.0f), vp.assign(kp.size(), 0.0f);
    std::copy_n(k, l * heads * hd, kp.data()), std::copy_n(v, l * heads * hd, vp.data());
    k = kp.data(), v = vp.data();
  }
  cpu::AttentionArgs a;
  const int64_t off = li * heads * hd;
  a.q = q + off, a.k = k, a.v = v, a.out = out + off;
  a.heads = heads, a.q_len = l - li, a.k_len = l + pad, a.head_dim = hd;
  a.set_blhd_strides();
  a.scale = 1.0f / std::sqrt(static_cast<float>(hd));
  cpu::attention(a);
}

// The self-attention of a block: the hook's replacement (Sparse VideoGen: every row), else the
// official varlen segments (image + valid text | padding text) when dense; with the hook's Jenga layout, the image rows over the kept blocks of image +
// valid text (the official kernel masks keys past that length) with the hook's key-block bias,
// and the text rows as text_rows_over_all_keys.
void block_attention(const DitForwardHooks* hooks, int layer, const float* q, const float* k, const float* v,
                     float* out, int64_t li, int64_t valid, int64_t l, int64_t heads, int64_t hd, bool i2v);

// The hook's layout for the attended segment (image + valid text), or null (dense).
const BlockSparseLayout* segment_layout(const DitForwardHooks* hooks, int layer, const float* q, const float* k,
                                        int64_t tokens, int64_t heads) {
  if (!hooks || !hooks->self_attn_layout) return nullptr;
  return hooks->self_attn_layout(layer, q, k, tokens, heads);
}

void block_attention(const DitForwardHooks* hooks, int layer, const float* q, const float* k, const float* v,
                     float* out, int64_t li, int64_t valid, int64_t l, int64_t heads, int64_t hd, bool i2v) {
  // Sparse VideoGen replaces the whole joint self-attention (video, valid text and padding rows).
  if (hooks && hooks->self_attention && hooks->self_attention(layer, q, k, v, out, l)) return;
  const BlockSparseLayout* layout = segment_layout(hooks, layer, q, k, li + valid, heads);
  const float* bias = layout && hooks->key_block_bias ? hooks->key_block_bias(layer, heads, layout->k_blocks) : nullptr;
  segment_attention(q, k, v, out, 0, li + valid, heads, hd, layout, bias);
  if (layout)
    text_rows_over_all_keys(q, k, v, out, li, l, heads, hd, i2v);
  else
    segment_attention(q, k, v, out, li + valid, l, heads, hd);
}

// The self-attention of a block over the joint sequence, q, k, v, out: [n + lt, heads * hd] (n
// image rows, then the lt text rows). Under sequence parallel the n rows are this rank's shard
// of the image tokens and the text rows are replicated (computed alike on every rank), as xDiT's
// joint Ulysses in the official multi-GPU Jenga (hyvideo/modules/xdit_ring_atten.py): the image
// rows go all-to-all to every image row of heads / ranks heads, the text rows are cut to the
// same heads, attention runs as on one process over [image; text] for those heads (the hook's
// layout and density over them), then the image rows go back to this rank's shard and the text
// rows' heads are gathered from every rank.
void joint_attention(dist::Ulysses* sp, const DitForwardHooks* hooks, int layer, const float* q, const float* k,
                     const float* v, float* out, int64_t n, int64_t lt, int64_t valid, int64_t heads, int64_t hd,
                     bool i2v) {
  if (!sp) return block_attention(hooks, layer, q, k, v, out, n, valid, n + lt, heads, hd, i2v);
  const int64_t li = sp->tokens(), hp = sp->local_heads(), row = hp * hd, l = li + lt;
  std::vector<float> qh(static_cast<size_t>(l * row)), kh(qh.size()), vh(qh.size()), ah(qh.size());
  const float* src[3] = {q, k, v};
  float* dst[3] = {qh.data(), kh.data(), vh.data()};
  for (int j = 0; j < 3; ++j) {
    sp->seq_to_heads(src[j], dst[j]);
    sp->take_heads(src[j] + n * heads * hd, dst[j] + li * row, lt);
  }
  block_attention(hooks, layer, qh.data(), kh.data(), vh.data(), ah.data(), li, valid, l, hp, hd, i2v);
  sp->heads_to_seq(ah.data(), out);
  sp->gather_heads(ah.data() + li * row, out + n * heads * hd, lt);
}

// x [l, heads*hd] rotated by the tables' first l rows (x*cos + rotate_half(x)*sin, pairs (2i, 2i+1)).
void apply_rope(float* x, int64_t l, int64_t heads, const HunyuanRope& r) {
  const int64_t hd = r.head_dim;
  for (int64_t i = 0; i < l; ++i) {
    const float* c = r.cos.data() + i * hd;
    const float* s = r.sin.data() + i * hd;
    for (int64_t hh = 0; hh < heads; ++hh) {
      float* p = x + (i * heads + hh) * hd;
      for (int64_t d = 0; d < hd; d += 2) {
        const float a = p[d], b = p[d + 1];
        p[d] = a * c[d] - b * s[d];
        p[d + 1] = b * c[d + 1] + a * s[d + 1];
      }
    }
  }
}

// From a [l, 3h] (K H D) qkv row block (row stride `ld`): q, k, v each [l, h].
void split_qkv(const float* qkv, int64_t ld, int64_t l, int64_t h, float* q, float* k, float* v) {
  for (int64_t i = 0; i < l; ++i) {
    std::copy_n(qkv + i * ld, h, q + i * h);
    std::copy_n(qkv + i * ld + h, h, k + i * h);
    std::copy_n(qkv + i * ld + 2 * h, h, v + i * h);
  }
}

// LayerNorm without affine (eps 1e-6) then x * (1 + scale) + shift: [rows, h] -> out.
std::vector<float> norm_modulate(const float* x, int64_t rows, int64_t h, const float* shift, const float* scale) {
  std::vector<float> y(static_cast<size_t>(rows * h));
  cpu::layer_norm(x, y.data(), rows, h, nullptr, nullptr, 1e-6f);
  cpu::modulate(y.data(), rows, h, shift, scale);
  return y;
}

// Per-row modulation chunks: row i of the image rows uses `tr` where first_frame[i], else `base`.
// The text rows (i >= first_frame.size()) always use `base`.
struct RowMod {
  const float* base;
  const float* tr = nullptr;
  std::span<const uint8_t> first_frame;
  const float* at(int64_t i, int64_t off) const {
    return tr && i < static_cast<int64_t>(first_frame.size()) && first_frame[i] ? tr + off : base + off;
  }
  bool uniform() const { return tr == nullptr; }
};

// LayerNorm (no affine, eps 1e-6) then per-row x * (1 + scale) + shift from chunks at shift_off, scale_off.
std::vector<float> norm_modulate_rows(const float* x, int64_t rows, int64_t h, const RowMod& m, int64_t shift_off,
                                      int64_t scale_off) {
  if (m.uniform()) return norm_modulate(x, rows, h, m.base + shift_off, m.base + scale_off);
  std::vector<float> y(static_cast<size_t>(rows * h));
  cpu::layer_norm(x, y.data(), rows, h, nullptr, nullptr, 1e-6f);
  for (int64_t i = 0; i < rows; ++i) cpu::modulate(y.data() + i * h, 1, h, m.at(i, shift_off), m.at(i, scale_off));
  return y;
}

// x += y * gate per row (gate chunk at gate_off).
void add_gated_rows(float* x, const float* y, int64_t rows, int64_t h, const RowMod& m, int64_t gate_off) {
  if (m.uniform()) return cpu::add_gated(x, y, rows, h, m.base + gate_off);
  for (int64_t i = 0; i < rows; ++i) cpu::add_gated(x + i * h, y + i * h, 1, h, m.at(i, gate_off));
}

}  // namespace

std::vector<float> timestep_embedder_cpu(const Linear& l0, const Linear& l2, float t, int64_t freq_dim) {
  const int64_t half = freq_dim / 2;
  std::vector<float> emb(static_cast<size_t>(freq_dim), 0.0f);
  const float neg_log = static_cast<float>(-std::log(10000.0));
  for (int64_t k = 0; k < half; ++k) {
    const float f = std::exp(neg_log * static_cast<float>(k) / static_cast<float>(half));
    const float a = t * f;
    emb[k] = std::cos(a);
    emb[half + k] = std::sin(a);
  }
  auto h = linear(emb, l0, 1);
  cpu::silu(h.data(), static_cast<int64_t>(h.size()));
  return linear(h, l2, 1);
}

std::vector<float> modulation_vector_cpu(const HunyuanDit& m, float t, const float* text_states_2, float guidance) {
  const auto& c = m.config;
  const auto& W = m.weights;
  auto vec = timestep_embedder_cpu(W.time0, W.time2, t, c.freq_dim);
  std::vector<float> y(static_cast<size_t>(c.hidden));
  linear(text_states_2, W.vec_in, y.data(), 1);
  cpu::silu(y.data(), c.hidden);
  const auto v2 = linear(y, W.vec_out, 1);
  for (int64_t i = 0; i < c.hidden; ++i) vec[i] += v2[i];
  if (c.guidance_embed) {
    const auto g = timestep_embedder_cpu(W.guid0, W.guid2, guidance, c.freq_dim);
    for (int64_t i = 0; i < c.hidden; ++i) vec[i] += g[i];
  }
  return vec;
}

std::vector<float> token_replace_vector_cpu(const HunyuanDit& m, const float* text_states_2) {
  const auto& c = m.config;
  const auto& W = m.weights;
  auto vec = timestep_embedder_cpu(W.time0, W.time2, 0.0f, c.freq_dim);
  std::vector<float> y(static_cast<size_t>(c.hidden));
  linear(text_states_2, W.vec_in, y.data(), 1);
  cpu::silu(y.data(), c.hidden);
  const auto v2 = linear(y, W.vec_out, 1);
  for (int64_t i = 0; i < c.hidden; ++i) vec[i] += v2[i];
  return vec;
}

std::vector<float> token_refiner_cpu(const HunyuanDit& m, const float* text_states, int64_t lt, int64_t valid,
                                     float t) {
  const auto& c = m.config;
  const auto& W = m.weights;
  const int64_t h = c.hidden, heads = c.heads, hd = c.head_dim(), dt = c.text_dim;
  if (valid < 1 || valid > lt) fail("HunyuanVideo text: {} valid tokens of {}; need at least 1", valid, lt);
  // c = t_embedder(t) + c_embedder(masked mean of the raw text states)
  auto cvec = timestep_embedder_cpu(W.txt_t0, W.txt_t2, t, c.freq_dim);
  std::vector<float> mean(static_cast<size_t>(dt), 0.0f);
  for (int64_t i = 0; i < valid; ++i)
    for (int64_t d = 0; d < dt; ++d) mean[d] += text_states[i * dt + d];
  for (float& v : mean) v /= static_cast<float>(valid);
  auto ce = linear(mean, W.txt_c1, 1);
  cpu::silu(ce.data(), h);
  ce = linear(ce, W.txt_c2, 1);
  for (int64_t i = 0; i < h; ++i) cvec[i] += ce[i];

  std::vector<float> x(static_cast<size_t>(lt * h));
  linear(text_states, W.txt_input, x.data(), lt);
  std::vector<float> q(x.size()), k(x.size()), v(x.size()), attn(x.size()), scores(static_cast<size_t>(lt));
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  for (const RefinerBlock& b : W.refiner) {
    const auto gates = silu_linear(cvec.data(), h, b.ada);  // gate_msa, gate_mlp
    std::vector<float> nx(x.size());
    cpu::layer_norm(x.data(), nx.data(), lt, h, f32(b.norm1_w), f32(b.norm1_b), 1e-6f);
    const auto qkv = linear(nx, b.qkv, lt);
    split_qkv(qkv.data(), 3 * h, lt, h, q.data(), k.data(), v.data());
    // Masked attention (short text): real queries see real keys, padding queries key 0 only.
    for (int64_t i = 0; i < lt; ++i)
      for (int64_t hh = 0; hh < heads; ++hh) {
        const float* qi = q.data() + (i * heads + hh) * hd;
        const int64_t nk = i < valid ? valid : 1;
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < nk; ++j) {
          const float* kj = k.data() + (j * heads + hh) * hd;
          float s = 0;
          for (int64_t d = 0; d < hd; ++d) s += qi[d] * kj[d];
          scores[j] = s * scale;
          mx = std::max(mx, scores[j]);
        }
        float sum = 0;
        for (int64_t j = 0; j < nk; ++j) sum += (scores[j] = std::exp(scores[j] - mx));
        float* o = attn.data() + (i * heads + hh) * hd;
        std::fill_n(o, hd, 0.0f);
        for (int64_t j = 0; j < nk; ++j) {
          const float p = scores[j] / sum;
          const float* vj = v.data() + (j * heads + hh) * hd;
          for (int64_t d = 0; d < hd; ++d) o[d] += p * vj[d];
        }
      }
    const auto pr = linear(attn, b.proj, lt);
    cpu::add_gated(x.data(), pr.data(), lt, h, gates.data());
    cpu::layer_norm(x.data(), nx.data(), lt, h, f32(b.norm2_w), f32(b.norm2_b), 1e-6f);
    auto f1 = linear(nx, b.fc1, lt);
    cpu::silu(f1.data(), static_cast<int64_t>(f1.size()));
    const auto f2 = linear(f1, b.fc2, lt);
    cpu::add_gated(x.data(), f2.data(), lt, h, gates.data() + h);
  }
  return x;
}

HunyuanRope rope_table_cpu(const HunyuanConfig& c, int64_t frames, int64_t height, int64_t width, double theta) {
  HunyuanRope r;
  r.tokens = frames * height * width;
  r.head_dim = c.head_dim();
  r.cos.resize(static_cast<size_t>(r.tokens * r.head_dim));
  r.sin.resize(r.cos.size());
  for (int64_t tok = 0; tok < r.tokens; ++tok) {
    const int64_t pos[3] = {tok / (height * width), (tok / width) % height, tok % width};
    int64_t col = 0;
    for (int a = 0; a < 3; ++a) {
      const int64_t d = c.rope_dim[a];
      for (int64_t j = 0; j < d / 2; ++j) {
        // f32 as the official: 1 / theta^(2j/d), angle = pos * freq
        const float e = static_cast<float>(2 * j) / static_cast<float>(d);
        const float freq = 1.0f / std::pow(static_cast<float>(theta), e);
        const float ang = static_cast<float>(pos[a]) * freq;
        const float cs = std::cos(ang), sn = std::sin(ang);
        for (int rep = 0; rep < 2; ++rep) {
          r.cos[tok * r.head_dim + col] = cs;
          r.sin[tok * r.head_dim + col] = sn;
          ++col;
        }
      }
    }
  }
  return r;
}

void double_block_cpu(const HunyuanConfig& c, const DoubleBlock& b, float* img, int64_t li, float* txt, int64_t lt,
                      int64_t valid, const float* vec, const HunyuanRope& rope, const DitForwardHooks* hooks,
                      int layer, const TokenReplace* tr, dist::Ulysses* sp) {
  const int64_t h = c.hidden, heads = c.heads, hd = c.head_dim(), l = li + lt;
  const auto im = silu_linear(vec, h, b.img.mod);  // shift1, scale1, gate1, shift2, scale2, gate2
  const auto tm = silu_linear(vec, h, b.txt.mod);
  // token_replace: the image stream's chunks from token_replace_vec for frame-0 rows.
  const auto im_tr = tr ? silu_linear(tr->vec, h, b.img.mod) : std::vector<float>();
  const RowMod img_mod{im.data(), tr ? im_tr.data() : nullptr, tr ? tr->first_frame : std::span<const uint8_t>{}};
  const RowMod txt_mod{tm.data(), nullptr, {}};
  std::vector<float> q(static_cast<size_t>(l * h)), k(q.size()), v(q.size()), attn(q.size());
  // Each stream's q, k, v, written into the joint [img; txt] sequence.
  auto project = [&](const float* x, int64_t n, int64_t row0, const StreamWeights& s, const RowMod& mod,
                     bool rotate) {
    const auto xm = norm_modulate_rows(x, n, h, mod, 0, h);
    const auto qkv = linear(xm, s.qkv, n);
    float *qp = q.data() + row0 * h, *kp = k.data() + row0 * h, *vp = v.data() + row0 * h;
    split_qkv(qkv.data(), 3 * h, n, h, qp, kp, vp);
    cpu::rms_norm(qp, qp, n * heads, hd, f32(s.q_norm), 1e-6f);
    cpu::rms_norm(kp, kp, n * heads, hd, f32(s.k_norm), 1e-6f);
    if (rotate) {
      apply_rope(qp, n, heads, rope);
      apply_rope(kp, n, heads, rope);
    }
  };
  project(img, li, 0, b.img, img_mod, true);
  project(txt, lt, li, b.txt, txt_mod, false);
  joint_attention(sp, hooks, layer, q.data(), k.data(), v.data(), attn.data(), li, lt, valid, heads, hd, tr != nullptr);
  auto finish = [&](float* x, int64_t n, int64_t row0, const StreamWeights& s, const RowMod& mod) {
    std::vector<float> o(static_cast<size_t>(n * h));
    linear(attn.data() + row0 * h, s.proj, o.data(), n);
    add_gated_rows(x, o.data(), n, h, mod, 2 * h);
    const auto xm = norm_modulate_rows(x, n, h, mod, 3 * h, 4 * h);
    auto f1 = linear(xm, s.fc1, n);
    cpu::gelu_tanh(f1.data(), static_cast<int64_t>(f1.size()));
    const auto f2 = linear(f1, s.fc2, n);
    add_gated_rows(x, f2.data(), n, h, mod, 5 * h);
  };
  finish(img, li, 0, b.img, img_mod);
  finish(txt, lt, li, b.txt, txt_mod);
}

void single_block_cpu(const HunyuanConfig& c, const SingleBlock& b, float* x, int64_t li, int64_t lt, int64_t valid,
                      const float* vec, const HunyuanRope& rope, const DitForwardHooks* hooks, int layer,
                      const TokenReplace* tr, dist::Ulysses* sp) {
  const int64_t h = c.hidden, heads = c.heads, hd = c.head_dim(), m = c.mlp_dim, l = li + lt;
  const auto mod = silu_linear(vec, h, b.mod);  // shift, scale, gate
  const auto mod_tr = tr ? silu_linear(tr->vec, h, b.mod) : std::vector<float>();
  const RowMod rm{mod.data(), tr ? mod_tr.data() : nullptr, tr ? tr->first_frame : std::span<const uint8_t>{}};
  const auto xm = norm_modulate_rows(x, l, h, rm, 0, h);
  // The image rows and the text rows in separate GEMMs: a row's f32 result then does not depend
  // on how many image rows precede it (sequence parallel shards equal one process bit for bit).
  const int64_t ld = 3 * h + m;
  std::vector<float> y1(static_cast<size_t>(l * ld));  // [l, 3h + m]
  linear(xm.data(), b.linear1, y1.data(), li);
  linear(xm.data() + li * h, b.linear1, y1.data() + li * ld, lt);
  std::vector<float> q(static_cast<size_t>(l * h)), k(q.size()), v(q.size());
  split_qkv(y1.data(), ld, l, h, q.data(), k.data(), v.data());
  cpu::rms_norm(q.data(), q.data(), l * heads, hd, f32(b.q_norm), 1e-6f);
  cpu::rms_norm(k.data(), k.data(), l * heads, hd, f32(b.k_norm), 1e-6f);
  apply_rope(q.data(), li, heads, rope);
  apply_rope(k.data(), li, heads, rope);
  // linear2's input: [attention output (h) | GELU(mlp) (m)] per token.
  std::vector<float> cat(static_cast<size_t>(l * (h + m)));
  std::vector<float> attn(q.size());
  joint_attention(sp, hooks, layer, q.data(), k.data(), v.data(), attn.data(), li, lt, valid, heads, hd, tr != nullptr);
  for (int64_t i = 0; i < l; ++i) {
    std::copy_n(attn.data() + i * h, h, cat.data() + i * (h + m));
    std::copy_n(y1.data() + i * ld + 3 * h, m, cat.data() + i * (h + m) + h);
    cpu::gelu_tanh(cat.data() + i * (h + m) + h, m);
  }
  std::vector<float> out(static_cast<size_t>(l * h));
  linear(cat.data(), b.linear2, out.data(), li);
  linear(cat.data() + li * (h + m), b.linear2, out.data() + li * h, lt);
  add_gated_rows(x, out.data(), l, h, rm, 2 * h);
}

std::vector<float> hunyuan_forward_cpu(const HunyuanDit& model, const float* x, int64_t frames, int64_t height,
                                       int64_t width, float t, const float* text_states, int64_t lt, int64_t valid,
                                       const float* text_states_2, float guidance, const DitForwardHooks* hooks,
                                       bool token_replace) {
  const auto& c = model.config;
  // Jenga's step reuse (jenga_hyvideo.py ra_forward): the residual of the image tokens (sequence
  // order; under sequence parallel this rank's shard) over all blocks; a reused step adds it to
  // this step's patch embedding.
  float* residual = hooks ? hooks->residual : nullptr;
  const bool reuse = residual && hooks->reuse_residual;
  const auto& W = model.weights;
  const int64_t h = c.hidden;
  if (frames % c.patch[0] || height % c.patch[1] || width % c.patch[2])
    fail("HunyuanVideo latent {}x{}x{} is not divisible by the patch size {}x{}x{}", frames, height, width,
         c.patch[0], c.patch[1], c.patch[2]);
  const int64_t F = frames / c.patch[0], H = height / c.patch[1], Wd = width / c.patch[2], li = F * H * Wd;
  const int64_t pv = c.patch[0] * c.patch[1] * c.patch[2];
  // Token order: the blocks see image row i = raster token order[i]; RoPE rows follow.
  const std::span<const int64_t> order = hooks ? hooks->token_order : std::span<const int64_t>{};
  if (!order.empty()) {
    if (static_cast<int64_t>(order.size()) != li) fail("HunyuanVideo DiT: token order of {} for {} tokens", order.size(), li);
    std::vector<uint8_t> seen(static_cast<size_t>(li), 0);
    for (int64_t r : order) {
      if (r < 0 || r >= li || seen[r]) fail("HunyuanVideo DiT: token order is no permutation of 0..{}", li - 1);
      seen[r] = 1;
    }
  }
  auto raster = [&](int64_t i) { return order.empty() ? i : order[static_cast<size_t>(i)]; };
  // Sequence parallel (Ulysses, as the official multi-GPU Jenga): this rank holds image tokens
  // [off, off + n) of the sequence order (Ulysses::token_split, the shards Wan's CPU path uses)
  // and every text token; every per-token op runs on those rows, self-attention exchanges heads
  // (joint_attention), the final layer's rows are gathered at the end.
  std::optional<dist::Ulysses> sp;
  if (hooks && hooks->comm) sp.emplace(*hooks->comm, li, c.heads, c.head_dim());
  if (sp && hooks->self_attention && sp->local_heads() != c.heads)
    fail("sequence parallel with {} processes: this attention replacement (--attention svg) needs every head on one "
         "process; run one process or --parallel prompts", hooks->comm->size());
  const int64_t n = sp ? sp->local_tokens() : li, off = sp ? sp->offset() : 0;
  dist::Ulysses* spp = sp ? &*sp : nullptr;
  const auto vec = modulation_vector_cpu(model, t, text_states_2, guidance);
  // img_in: Conv3d with stride = kernel as a GEMM over this rank's (c, i, j, k) patch rows, taken
  // in sequence order.
  const int64_t patch_len = c.in_channels * pv;
  std::vector<float> xs(static_cast<size_t>((n + lt) * h));  // [img (this rank's rows); txt]
  {
    std::vector<float> patches(static_cast<size_t>(li * patch_len)), mine(static_cast<size_t>(n * patch_len));
    cpu::patchify(x, patches.data(), c.in_channels, F, H, Wd, c.patch);
    for (int64_t i = 0; i < n; ++i)
      std::copy_n(patches.data() + raster(off + i) * patch_len, patch_len, mine.data() + i * patch_len);
    cpu::linear(mine.data(), f32(W.img_in_w), f32(W.img_in_b), xs.data(), n, h, patch_len);
  }
  if (!reuse) {  // a reused step never reads the text stream
    const auto txt = token_refiner_cpu(model, text_states, lt, valid, t);
    std::copy(txt.begin(), txt.end(), xs.begin() + n * h);
  }
  // RoPE rows of this rank's image tokens, in sequence order.
  const HunyuanRope full = rope_table_cpu(c, F, H, Wd);
  HunyuanRope rope;
  rope.tokens = n, rope.head_dim = full.head_dim;
  rope.cos.resize(static_cast<size_t>(n * full.head_dim)), rope.sin.resize(rope.cos.size());
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = raster(off + i) * full.head_dim;
    std::copy_n(full.cos.data() + r, full.head_dim, rope.cos.data() + i * full.head_dim);
    std::copy_n(full.sin.data() + r, full.head_dim, rope.sin.data() + i * full.head_dim);
  }
  // token_replace: frame-0 tokens are raster rows < H*W; in sequence order where the order puts them.
  std::vector<float> tr_vec;
  std::vector<uint8_t> first_frame;
  TokenReplace tr;
  if (token_replace) {
    tr_vec = token_replace_vector_cpu(model, text_states_2);
    first_frame.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) first_frame[i] = raster(off + i) < H * Wd;
    tr.vec = tr_vec.data();
    tr.first_frame = first_frame;
  }
  const TokenReplace* trp = token_replace ? &tr : nullptr;
  std::vector<float> img_in;
  if (reuse) {
    for (int64_t i = 0; i < n * h; ++i) xs[static_cast<size_t>(i)] += residual[i];
  } else if (residual) {
    img_in.assign(xs.begin(), xs.begin() + n * h);
  }
  int layer = 0;
  for (const DoubleBlock& b : W.doubles) {
    if (reuse) break;
    check_interrupt();  // Ctrl-C between blocks
    double_block_cpu(c, b, xs.data(), n, xs.data() + n * h, lt, valid, vec.data(), rope, hooks, layer, trp, spp);
    if (hooks && hooks->after_block) hooks->after_block(layer, xs.data(), n + lt);
    ++layer;
  }
  for (const SingleBlock& b : W.singles) {
    if (reuse) break;
    check_interrupt();
    single_block_cpu(c, b, xs.data(), n, lt, valid, vec.data(), rope, hooks, layer, trp, spp);
    if (hooks && hooks->after_block) hooks->after_block(layer, xs.data(), n + lt);
    ++layer;
  }
  if (residual && !reuse)
    for (int64_t i = 0; i < n * h; ++i) residual[i] = xs[static_cast<size_t>(i)] - img_in[static_cast<size_t>(i)];
  // final_layer on this rank's rows (sequence order): shift, scale from SiLU(vec); LayerNorm,
  // modulate, Linear -> [n, (c, o, p, q)]; then every rank's rows, back to raster order.
  const auto ss = silu_linear(vec.data(), h, W.final_ada);
  const auto xm = norm_modulate(xs.data(), n, h, ss.data(), ss.data() + h);
  const int64_t co = c.out_channels, pt = c.patch[0], ph = c.patch[1], pw = c.patch[2], row = co * pv;
  std::vector<float> y = linear(xm, W.final_linear, n);
  if (sp) {
    std::vector<float> all(static_cast<size_t>(li * row));
    sp->gather_tokens(y.data(), all.data(), row);
    y.swap(all);
  }
  if (!order.empty()) {
    std::vector<float> seq(y);
    cpu::scatter_rows(seq.data(), y.data(), row, order);
  }
  std::vector<float> out(static_cast<size_t>(co * frames * height * width));
  for (int64_t f = 0; f < F; ++f)
    for (int64_t hh = 0; hh < H; ++hh)
      for (int64_t w = 0; w < Wd; ++w) {
        const float* yr = y.data() + ((f * H + hh) * Wd + w) * row;
        for (int64_t ch = 0; ch < co; ++ch)
          for (int64_t i = 0; i < pt; ++i)
            for (int64_t j = 0; j < ph; ++j)
              for (int64_t k = 0; k < pw; ++k)
                out[((ch * frames + f * pt + i) * height + hh * ph + j) * width + w * pw + k] =
                    yr[((ch * pt + i) * ph + j) * pw + k];
      }
  return out;
}

}  // namespace jenga::hunyuan
