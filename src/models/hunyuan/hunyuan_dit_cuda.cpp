#include "models/hunyuan/hunyuan_dit_cuda.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "backend/cuda/activation.h"
#include "backend/cuda/attention.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_upload.h"
#include "backend/cuda/elementwise.h"
#include "backend/cuda/embedding.h"
#include "backend/cuda/gemm.h"
#include "backend/cuda/gemv.h"
#include "backend/cuda/norm.h"
#include "backend/cuda/offload_ring.h"
#include "backend/cuda/padded_attention.h"
#include "backend/cuda/patch.h"
#include "backend/cuda/random.h"
#include "backend/cuda/rope.h"
#include "backend/cuda/run_ahead.h"
#include "core/dtype.h"
#include "core/error.h"
#include "dist/communicator.h"
#include "dist/ulysses_cuda.h"
#include "models/hunyuan/hunyuan_dit.h"
#include "models/hunyuan/hunyuan_dit_cpu.h"
#include "models/hunyuan/i2v_jenga.h"

namespace jenga::hunyuan {

std::string cuda_unsupported_reason(const HunyuanConfig& c) {
  // 64 and 128 run as they are; another even head dim up to 128 (test models) padded
  // (backend/cuda/padded_attention.h).
  if (cuda::attention_head_dim(c.head_dim()) == 0)
    return fmt::format("the CUDA HunyuanVideo DiT needs an even head dim up to 128 (64 and 128 at full speed); this "
                       "model has {}", c.head_dim());
  if (c.hidden % 8 != 0 || c.mlp_dim % 8 != 0 || c.refiner_mlp_dim % 8 != 0)
    return fmt::format("the CUDA HunyuanVideo DiT needs hidden and MLP widths that are multiples of 8 (got {}, {}, {})",
                       c.hidden, c.mlp_dim, c.refiner_mlp_dim);
  return "";
}

bool cuda_attention_padded(const HunyuanConfig& c) { return cuda::attention_head_dim(c.head_dim()) != c.head_dim(); }

namespace {

constexpr float kEps = 1e-6f;  // every LayerNorm and RMSNorm of the model

void check_supported(const HunyuanConfig& c) {
  c.validate();
  if (const std::string why = cuda_unsupported_reason(c); !why.empty()) fail("{} (use --device cpu)", why);
}

// At least one element, so an absent bias or an empty table still has a valid pointer.
Tensor device_empty(DType dt, int64_t n) { return cuda::device_empty(dt, std::max<int64_t>(n, 1)); }
using cuda::upload;

Tensor upload_f32(const Tensor& t) {
  JENGA_ASSERT(t.dtype() == DType::F32 && t.device() == Device::CPU);
  return upload(t.data_as<float>(), t.numel(), DType::F32);
}

// nn.Linear on the device: w bf16 [out, in], b bf16 [out] or empty (no bias). Under --offload a
// block's GEMM matrices live in its streamed buffer instead: w and b stay empty and w_off / b_off
// are byte offsets into the buffer the ring hands out for the block (b_off -1: no bias).
struct DevLinear {
  Tensor w, b;
  int64_t out = 0, in = 0;
  int64_t w_off = -1, b_off = -1;
  bool packed() const { return w_off >= 0; }
  const void* bias() const { return b.defined() ? b.data() : nullptr; }
};

// A host matrix (f32, or bf16 as load_hunyuan_dit gives it for the GPU: copied as it is) as bf16.
Tensor upload_bf16(const Tensor& t) {
  JENGA_ASSERT(t.device() == Device::CPU && (t.dtype() == DType::F32 || t.dtype() == DType::BF16));
  if (t.dtype() == DType::F32) return upload(t.data_as<float>(), t.numel(), DType::BF16);
  Tensor d = device_empty(DType::BF16, t.numel());
  cuda::copy_to_device(d.data(), t.data(), t.nbytes());
  return d;
}

DevLinear upload_linear(const Linear& l) {
  JENGA_ASSERT(l.w.ndim() >= 2);
  DevLinear d;
  d.out = l.w.dim(0), d.in = l.w.numel() / d.out;
  d.w = upload_bf16(l.w);
  if (l.b.defined()) d.b = upload(l.b.data_as<float>(), l.b.numel(), DType::BF16);
  return d;
}

// Offload: a block's matrices (bf16 weights, then bf16 bias) packed into one pinned host buffer
// of the ring, each piece 256-byte aligned. Sets each DevLinear's offsets (out, in and whether
// it has a bias come from the shape arguments); returns the block's bytes.
size_t layout_block(const std::vector<DevLinear*>& mats, const std::vector<std::pair<int64_t, bool>>& rows_bias) {
  size_t bytes = 0;
  auto take = [&](size_t n) {
    const size_t at = bytes;
    bytes += (n + 255) / 256 * 256;
    return static_cast<int64_t>(at);
  };
  for (size_t i = 0; i < mats.size(); ++i) {
    DevLinear* d = mats[i];
    d->w_off = take(static_cast<size_t>(d->out * d->in) * 2);
    d->b_off = rows_bias[i].second ? take(static_cast<size_t>(d->out) * 2) : -1;
  }
  return bytes;
}

// From host matrices (a loaded model).
void pack_block(const std::vector<std::pair<DevLinear*, const Linear*>>& mats, cuda::OffloadRing& ring) {
  std::vector<DevLinear*> ds;
  std::vector<std::pair<int64_t, bool>> rb;
  for (const auto& [d, l] : mats) {
    d->out = l->w.dim(0), d->in = l->w.numel() / d->out;
    ds.push_back(d), rb.emplace_back(d->out, l->b.defined());
  }
  const size_t bytes = layout_block(ds, rb);
  auto* host = static_cast<uint8_t*>(ring.add_block(bytes));
  std::memset(host, 0, bytes);
  for (const auto& [d, l] : mats) {
    JENGA_ASSERT(l->w.dtype() == DType::F32 || l->w.dtype() == DType::BF16);
    convert(l->w.data(), l->w.dtype(), host + d->w_off, DType::BF16, static_cast<size_t>(l->w.numel()));
    if (d->b_off >= 0) convert(l->b.data(), l->b.dtype(), host + d->b_off, DType::BF16, static_cast<size_t>(l->b.numel()));
  }
}

// From device matrices (random weights drawn on the GPU): copied into the block's pinned buffer,
// then freed on the device.
void pack_device_block(const std::vector<DevLinear*>& mats, cuda::OffloadRing& ring) {
  std::vector<std::pair<int64_t, bool>> rb;
  for (const DevLinear* d : mats) rb.emplace_back(d->out, d->b.defined());
  const size_t bytes = layout_block(mats, rb);
  auto* host = static_cast<uint8_t*>(ring.add_block(bytes));
  std::memset(host, 0, bytes);
  for (DevLinear* d : mats) {
    JENGA_CUDA_CHECK(cudaMemcpy(host + d->w_off, d->w.data(), d->w.nbytes(), cudaMemcpyDeviceToHost));
    if (d->b_off >= 0) JENGA_CUDA_CHECK(cudaMemcpy(host + d->b_off, d->b.data(), d->b.nbytes(), cudaMemcpyDeviceToHost));
    d->w = Tensor(), d->b = Tensor();
  }
}

// One stream of a double block; q/k norms f32 [head dim].
struct DevStream {
  DevLinear mod, qkv, proj, fc1, fc2;
  Tensor q_norm, k_norm;
};
struct DevDouble {
  DevStream img, txt;
};
struct DevSingle {
  DevLinear linear1, linear2, mod;  // linear1 rows: q, k, v (3h) then the MLP (m)
  Tensor q_norm, k_norm;
};
// The heads one attention call covers: every head (q/k/v columns h apart), or under sequence
// parallel this rank's hp heads of the exchanged rows (columns hp * hd apart); 0 heads = every head.
struct HeadSpan {
  int64_t heads = 0, width = 0;
};
struct DevRefiner {
  Tensor norm1_w, norm1_b, norm2_w, norm2_b;  // f32 [h]
  DevLinear qkv, proj, fc1, fc2, ada;
};

}  // namespace

struct HunyuanDitCuda::Impl {
  HunyuanConfig c;
  cuda::GemmRunner gemm;
  // Weights.
  DevLinear img_in, txt_input, txt_t0, txt_t2, txt_c1, txt_c2, time0, time2, vec_in, vec_out, guid0, guid2;
  DevLinear final_linear, final_ada;
  std::vector<DevRefiner> refiner;
  std::vector<DevDouble> doubles;
  std::vector<DevSingle> singles;
  size_t weight_bytes = 0;
  cuda::RunAheadLimit run_ahead;  // Ctrl-C within a few blocks (backend/cuda/run_ahead.h)
  // Offload: the double then single blocks' matrices (GEMMs and modulation; not the q/k norms) in
  // pinned host memory, streamed through a ring of device buffers (backend/cuda/offload_ring.h);
  // null = resident. block_mats: the buffer of the block running now (what packed DevLinears
  // resolve to). A streamed block's modulation vectors are computed when the block starts.
  std::unique_ptr<cuda::OffloadRing> offload;
  const uint8_t* block_mats = nullptr;
  // Modulation vectors (f32) at these offsets of `mods`: per double block img 6h then txt 6h,
  // per single block 3h, the head 2h, per refiner block 2h (gates).
  std::vector<int64_t> mod_double, mod_single, mod_refiner;
  int64_t mod_head = 0, mod_total = 0;
  // Activations, sized by prepare(). L = Li + Lt rows, image first; `big` rows are `wide`
  // elements apart: attention output [L, h] | single-block MLP [L, m] side by side (the input
  // of linear2), or contiguous MLP hidden rows of the double blocks and the refiner.
  int64_t F = 0, H = 0, W = 0, Li = 0, Lt = 0, L = 0, wide = 0;
  // Sequence parallel (dist/ulysses_cuda.h, as the official multi-GPU Jenga's xDiT attention):
  // this rank holds image tokens [off, off + N) of the token order and every text row, so the
  // activations have R = N + Lt rows (image first); one process: N = Li, R = L. Around
  // self-attention the image rows go all-to-all into qkvh / atth (every image row and the text
  // rows, hp heads) and back; the text rows' heads are gathered. head_all: every rank's head rows.
  dist::Communicator* comm = nullptr;
  std::unique_ptr<dist::UlyssesDevice> sp;
  int64_t N = 0, off = 0, hp = 0, R = 0;
  Tensor qkvh, atth, head_all;
  Tensor order, rope, patches, x, h, qkv, big, y, head_out;
  Tensor t_sin, g_sin, tmp, vec, cvec, mods;
  size_t act_bytes = 0;
  // HunyuanVideo-I2V's token_replace (prepare()): `mods` holds a second set of the double
  // blocks' image and the single blocks' modulation vectors from vec_tr = time_in(0) +
  // vector_in(pooled) at mod_total further on, which the image rows flagged in first_frame
  // [Li] (u8, sequence order) read; t0_sin: the sinusoid of t = 0. pad_rows: the zero rows
  // after the L rows of qkv that the I2V sparse kernel's text rows also attend over.
  bool token_replace = false;
  int64_t pad_rows = 0;
  Tensor first_frame, t0_sin, vec_tr;
  // Every attention call; a test model's head dim (not 64 or 128) runs padded (dense, one process).
  cuda::PaddedAttention attention;

  void count_weights() {
    weight_bytes = 0;
    auto add = [&](const DevLinear& l) { weight_bytes += l.w.nbytes() + l.b.nbytes(); };
    for (const auto* l : {&img_in, &txt_input, &txt_t0, &txt_t2, &txt_c1, &txt_c2, &time0, &time2, &vec_in, &vec_out,
                          &guid0, &guid2, &final_linear, &final_ada})
      add(*l);
    for (const auto& r : refiner) {
      for (const auto* l : {&r.qkv, &r.proj, &r.fc1, &r.fc2, &r.ada}) add(*l);
      weight_bytes += r.norm1_w.nbytes() * 4;
    }
    for (const auto& d : doubles)
      for (const auto* s : {&d.img, &d.txt}) {
        for (const auto* l : {&s->mod, &s->qkv, &s->proj, &s->fc1, &s->fc2}) add(*l);
        weight_bytes += s->q_norm.nbytes() + s->k_norm.nbytes();
      }
    for (const auto& s : singles) {
      for (const auto* l : {&s.linear1, &s.linear2, &s.mod}) add(*l);
      weight_bytes += s.q_norm.nbytes() + s.k_norm.nbytes();
    }
    if (offload) weight_bytes += offload->device_bytes();
  }

  void layout_mods() {
    const int64_t h = c.hidden;
    mod_total = 0;
    mod_double.clear(), mod_single.clear(), mod_refiner.clear();
    for (size_t i = 0; i < doubles.size(); ++i) mod_double.push_back(mod_total), mod_total += 12 * h;
    for (size_t i = 0; i < singles.size(); ++i) mod_single.push_back(mod_total), mod_total += 3 * h;
    mod_head = mod_total, mod_total += 2 * h;
    for (size_t i = 0; i < refiner.size(); ++i) mod_refiner.push_back(mod_total), mod_total += 2 * h;
  }

  // y rows [rows, l.out] (ldy apart) = x rows [rows, l.in] (ldx apart) W^T + b, with `ep` (Bias
  // becomes None for a linear without bias). w_row0: the first weight row used (a slice of the
  // output features, e.g. single blocks' linear1), n_out: how many.
  void linear(const void* x, int64_t ldx, const DevLinear& l, void* y, int64_t ldy, int64_t rows, cuda::Epilogue ep,
              void* s, int64_t w_row0 = 0, int64_t n_out = 0) {
    if (rows == 0) return;
    if (!n_out) n_out = l.out;
    const void* wp = weight(l);
    const void* bp = bias(l);
    const auto* w = static_cast<const uint16_t*>(wp) + w_row0 * l.in;
    const auto* b = bp ? static_cast<const uint16_t*>(bp) + w_row0 : nullptr;
    if (!b && ep == cuda::Epilogue::Bias) ep = cuda::Epilogue::None;
    JENGA_ASSERT(b || ep == cuda::Epilogue::None);
    gemm.linear_strided(x, ldx ? ldx : l.in, w, b, y, ldy ? ldy : n_out, rows, n_out, l.in, ep, s);
  }

  // A linear's bf16 matrix and bias (null: none), resident or in the streamed block's buffer.
  const void* weight(const DevLinear& l) const {
    JENGA_ASSERT(!l.packed() || block_mats);
    return l.packed() ? block_mats + l.w_off : l.w.data();
  }
  const void* bias(const DevLinear& l) const {
    return l.packed() ? (l.b_off >= 0 ? block_mats + l.b_off : nullptr) : l.bias();
  }

  // GEMV over f32 vectors: y (+)= l(act(x)).
  void gemv(const float* x, const DevLinear& l, float* y, bool silu_input, bool accumulate, void* s) {
    cuda::linear_vec_bf16(x, weight(l), bias(l), y, l.out, l.in, silu_input, accumulate, s);
  }

  HeadSpan all_heads() const { return {c.heads, c.hidden}; }

  // Self-attention of `q_len` query rows over `k_len` key rows: q rows `in_stride` apart from q,
  // k/v rows from kv (k at kv + width, v at kv + 2 width; kv = q when self-attending a segment),
  // out rows `out_stride` apart; every head unless `hs` says otherwise.
  void attend(const uint16_t* q, const uint16_t* kv, int64_t in_stride, uint16_t* out, int64_t out_stride,
              int64_t q_len, int64_t k_len, void* s, const DeviceBlockLayout* layout = nullptr, HeadSpan hs = {}) {
    if (q_len <= 0 || k_len <= 0) return;
    if (hs.heads == 0) hs = all_heads();
    const int64_t hd = c.head_dim(), h = hs.width;
    cuda::AttentionParams p;
    p.q = q, p.k = kv + h, p.v = kv + 2 * h, p.out = out;
    p.batch = 1, p.heads = static_cast<int>(hs.heads), p.q_len = static_cast<int>(q_len), p.k_len = static_cast<int>(k_len);
    p.head_dim = static_cast<int>(hd);
    p.q_row_stride = p.k_row_stride = p.v_row_stride = in_stride;
    p.q_head_stride = p.k_head_stride = p.v_head_stride = p.out_head_stride = hd;
    p.q_batch_stride = q_len * in_stride;
    p.k_batch_stride = p.v_batch_stride = k_len * in_stride;
    p.out_row_stride = out_stride, p.out_batch_stride = q_len * out_stride;
    p.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
    if (layout) {
      p.block_offsets = layout->offsets;
      p.block_indices = layout->indices;
      p.key_block_bias = layout->key_block_bias;
    }
    attention.forward(p, s);
  }
  void attend(const uint16_t* q, int64_t in_stride, uint16_t* out, int64_t out_stride, int64_t len, void* s,
              const DeviceBlockLayout* layout = nullptr) {
    attend(q, q, in_stride, out, out_stride, len, len, s, layout);
  }

  // The hook's replacement (Sparse VideoGen, every row) when it takes the layer. Else dense: the
  // official varlen segments over q/k/v rows [0, L): image + valid text, then padding
  // text. With the hook's self_attn_layout (a block-sparse layout over the first segment, its
  // text rows the condition blocks at its end, as the CPU reference's) the official sparse path
  // (attention_block_triton_diffres.py): the image rows over the layout's kept blocks of image +
  // valid text, with its key-block bias (the text amplifier); then the text rows [Li, L), padding
  // included, densely over all L keys, padding included, without the bias (overwriting what the
  // sparse launch wrote for the valid text rows: at most 2 of ~900 blocks at full size).
  // q/k/v rows [0, l): li image rows then the text rows, then `pad` zero rows the text rows also
  // attend over under a layout (I2V); hs: the heads they hold.
  void attend_segments(const uint16_t* q, int64_t in_stride, uint16_t* out, int64_t out_stride, int64_t valid,
                       const CudaDitHooks* hooks, int layer, void* s, int64_t li, int64_t l, int64_t pad, HeadSpan hs) {
    const int64_t la = li + valid;
    // Sparse VideoGen replaces the whole joint self-attention (image, valid text and padding rows).
    if (hooks && hooks->self_attention &&
        hooks->self_attention(layer, q, q + hs.width, q + 2 * hs.width, in_stride, out, out_stride, l, s))
      return;
    DeviceBlockLayout layout;
    if (hooks && hooks->self_attn_layout) layout = hooks->self_attn_layout(layer, q, q + hs.width, la, in_stride, s);
    if (!layout.offsets) {
      attend(q, q, in_stride, out, out_stride, la, la, s, nullptr, hs);
      attend(q + la * in_stride, q + la * in_stride, in_stride, out + la * out_stride, out_stride, l - la, l - la, s,
             nullptr, hs);
      return;
    }
    attend(q, q, in_stride, out, out_stride, la, la, s, &layout, hs);
    attend(q + li * in_stride, q, in_stride, out + li * out_stride, out_stride, l - li, l + pad, s, nullptr, hs);
  }

  // A block's self-attention: Q [R][3h] (q, k, v after norm + RoPE) -> out rows [R] `out_stride`
  // apart. Under sequence parallel xDiT's joint Ulysses (hyvideo/modules/xdit_ring_atten.py):
  // this rank's image rows all-to-all to every image row of its hp heads, the replicated text
  // rows cut to the same heads, the segments attended as on one process (the hook's layout over
  // these heads), then the image rows back to this rank's shard and the text rows' heads gathered.
  // (The I2V zero pad rows exist on one process only: prepare() refuses token_replace under it.)
  void self_attention(const uint16_t* q, uint16_t* out, int64_t out_stride, int64_t valid, const CudaDitHooks* hooks,
                      int layer, void* s) {
    const int64_t h = c.hidden;
    if (!sp) return attend_segments(q, 3 * h, out, out_stride, valid, hooks, layer, s, N, R, pad_rows, all_heads());
    const int64_t w = hp * c.head_dim();
    auto* qh = static_cast<uint16_t*>(qkvh.data());
    auto* ah = static_cast<uint16_t*>(atth.data());
    sp->qkv_to_heads(q, 3 * h, qh, s);
    sp->joint_qkv_to_heads(q + N * 3 * h, 3 * h, Lt, qh + Li * 3 * w, s);
    attend_segments(qh, 3 * w, ah, w, valid, hooks, layer, s, Li, L, 0, {hp, w});
    sp->heads_to_seq(ah, out, out_stride, s);
    sp->gather_joint_heads(ah + Li * w, out + N * out_stride, out_stride, Lt, s);
  }

  // The modulation vectors of the head, the refiner and every resident block from vec and cvec
  // (a streamed block's come from double_/single_modulation() once its matrices are on the device).
  void modulations(void* s) {
    float* m = mods.data_as<float>();
    for (size_t i = 0; i < doubles.size(); ++i)
      if (!doubles[i].img.mod.packed()) double_modulation(i, s);
    for (size_t i = 0; i < singles.size(); ++i)
      if (!singles[i].mod.packed()) single_modulation(i, s);
    gemv(vec.data_as<float>(), final_ada, m + mod_head, true, false, s);
    for (size_t i = 0; i < refiner.size(); ++i) gemv(cvec.data_as<float>(), refiner[i].ada, m + mod_refiner[i], true, false, s);
    if (!token_replace) return;
    // token_replace: the image rows' second set (the text stream and the head keep vec's).
    const float* vt = vec_tr.data_as<float>();
    for (size_t i = 0; i < doubles.size(); ++i) gemv(vt, doubles[i].img.mod, m + mod_total + mod_double[i], true, false, s);
    for (size_t i = 0; i < singles.size(); ++i) gemv(vt, singles[i].mod, m + mod_total + mod_single[i], true, false, s);
  }

  // vec_tr = time_in(0) + vector_in(pooled): token_replace's vector (no guidance term).
  void token_replace_vector(const float* pooled, void* s) {
    float* t = tmp.data_as<float>();
    float* vt = vec_tr.data_as<float>();
    gemv(t0_sin.data_as<float>(), time0, t, false, false, s);
    gemv(t, time2, vt, true, false, s);
    gemv(pooled, vec_in, t, false, false, s);
    gemv(t, vec_out, vt, true, true, s);
  }

  // Image rows [0, Li) that read the token_replace set of modulation vectors; none without it.
  cuda::RowModulation image_rows_alt() const {
    if (!token_replace) return {};
    return {first_frame.data_as<uint8_t>(), N, mod_total};  // N = Li: no token_replace under sequence parallel
  }

  void double_modulation(size_t i, void* s) {
    float* m = mods.data_as<float>();
    gemv(vec.data_as<float>(), doubles[i].img.mod, m + mod_double[i], true, false, s);
    gemv(vec.data_as<float>(), doubles[i].txt.mod, m + mod_double[i] + 6 * c.hidden, true, false, s);
  }
  void single_modulation(size_t i, void* s) {
    gemv(vec.data_as<float>(), singles[i].mod, mods.data_as<float>() + mod_single[i], true, false, s);
  }

  // txt_in: the token refiner over the text rows [N, R) of x (written there).
  void token_refiner(const HunyuanTextDevice& text, void* s) {
    const int64_t h = c.hidden, rm = c.refiner_mlp_dim, v = text.valid;
    float* xt = x.data_as<float>() + N * h;
    auto* ht = static_cast<uint16_t*>(h_buf()) + N * h;
    auto* q = static_cast<uint16_t*>(qkv.data()) + N * 3 * h;
    auto* att = static_cast<uint16_t*>(big.data()) + N * wide;
    auto* ff = static_cast<uint16_t*>(big.data()) + N * rm;
    auto* yt = static_cast<uint16_t*>(y.data()) + N * h;
    linear(text.states, 0, txt_input, ht, 0, Lt, cuda::Epilogue::Bias, s);
    JENGA_CUDA_CHECK(cudaMemsetAsync(xt, 0, static_cast<size_t>(Lt * h) * 4, static_cast<cudaStream_t>(s)));
    cuda::gated_residual_add(xt, ht, nullptr, Lt, h, s);
    for (size_t r = 0; r < refiner.size(); ++r) {
      const DevRefiner& B = refiner[r];
      const float* gates = mods.data_as<float>() + mod_refiner[r];  // gate_msa, gate_mlp
      cuda::layer_norm_modulate(xt, B.norm1_w.data_as<float>(), B.norm1_b.data_as<float>(), nullptr, nullptr, ht, Lt,
                                h, kEps, s);
      linear(ht, 0, B.qkv, q, 0, Lt, cuda::Epilogue::Bias, s);
      // Real queries attend to the real keys; a padding query sees key 0 only: its output is v_0.
      attend(q, 3 * h, att, wide, v, s);
      cuda::broadcast_row_bf16(q + 2 * h, att + v * wide, wide, Lt - v, h, s);
      linear(att, wide, B.proj, yt, 0, Lt, cuda::Epilogue::Bias, s);
      cuda::add_layer_norm_modulate(xt, yt, gates, B.norm2_w.data_as<float>(), B.norm2_b.data_as<float>(), nullptr,
                                    nullptr, ht, Lt, h, kEps, s);
      linear(ht, 0, B.fc1, ff, 0, Lt, cuda::Epilogue::Bias, s);
      cuda::silu_bf16(ff, Lt * rm, s);
      linear(ff, 0, B.fc2, yt, 0, Lt, cuda::Epilogue::Bias, s);
      cuda::gated_residual_add(xt, yt, gates + h, Lt, h, s);
    }
  }

  void* h_buf() { return h.data(); }
};

HunyuanDitCuda::HunyuanDitCuda() : impl_(std::make_unique<Impl>()) {}
HunyuanDitCuda::~HunyuanDitCuda() = default;
const HunyuanConfig& HunyuanDitCuda::config() const { return impl_->c; }
size_t HunyuanDitCuda::weight_bytes() const { return impl_->weight_bytes; }
bool HunyuanDitCuda::offload() const { return impl_->offload != nullptr; }
int HunyuanDitCuda::offload_ring() const { return impl_->offload ? impl_->offload->ring() : 0; }
size_t HunyuanDitCuda::host_weight_bytes() const { return impl_->offload ? impl_->offload->host_bytes() : 0; }
size_t HunyuanDitCuda::streamed_block_bytes() const { return impl_->offload ? impl_->offload->slot_bytes() : 0; }
size_t HunyuanDitCuda::activation_bytes() const { return impl_->act_bytes; }
int64_t HunyuanDitCuda::image_tokens() const { return impl_->Li; }
int64_t HunyuanDitCuda::local_tokens() const { return impl_->N; }
int64_t HunyuanDitCuda::local_heads() const { return impl_->hp; }
int64_t HunyuanDitCuda::text_len() const { return impl_->Lt; }

std::unique_ptr<HunyuanDitCuda> HunyuanDitCuda::from_model(const HunyuanDit& model, bool offload) {
  cuda::init();
  const HunyuanConfig& c = model.config;
  check_supported(c);
  const HunyuanWeights& Wt = model.weights;
  std::unique_ptr<HunyuanDitCuda> m(new HunyuanDitCuda());
  Impl& I = *m->impl_;
  I.c = c;
  // img_in: the Conv3d (stride = kernel) as a GEMM over (c, i, j, k) patch rows.
  I.img_in = upload_linear(Linear{Wt.img_in_w.reshape({c.hidden, -1}), Wt.img_in_b});
  I.txt_input = upload_linear(Wt.txt_input);
  I.txt_t0 = upload_linear(Wt.txt_t0), I.txt_t2 = upload_linear(Wt.txt_t2);
  I.txt_c1 = upload_linear(Wt.txt_c1), I.txt_c2 = upload_linear(Wt.txt_c2);
  I.time0 = upload_linear(Wt.time0), I.time2 = upload_linear(Wt.time2);
  I.vec_in = upload_linear(Wt.vec_in), I.vec_out = upload_linear(Wt.vec_out);
  if (c.guidance_embed) I.guid0 = upload_linear(Wt.guid0), I.guid2 = upload_linear(Wt.guid2);
  I.final_linear = upload_linear(Wt.final_linear), I.final_ada = upload_linear(Wt.final_ada);
  for (const RefinerBlock& b : Wt.refiner) {
    DevRefiner d;
    d.norm1_w = upload_f32(b.norm1_w), d.norm1_b = upload_f32(b.norm1_b);
    d.norm2_w = upload_f32(b.norm2_w), d.norm2_b = upload_f32(b.norm2_b);
    d.qkv = upload_linear(b.qkv), d.proj = upload_linear(b.proj);
    d.fc1 = upload_linear(b.fc1), d.fc2 = upload_linear(b.fc2), d.ada = upload_linear(b.ada);
    I.refiner.push_back(std::move(d));
  }
  if (offload) I.offload = std::make_unique<cuda::OffloadRing>("HunyuanVideo DiT block");
  auto stream = [&](const StreamWeights& s) {
    DevStream d;
    if (!offload) d.mod = upload_linear(s.mod);
    if (!offload) d.qkv = upload_linear(s.qkv), d.proj = upload_linear(s.proj);
    if (!offload) d.fc1 = upload_linear(s.fc1), d.fc2 = upload_linear(s.fc2);
    d.q_norm = upload_f32(s.q_norm), d.k_norm = upload_f32(s.k_norm);
    return d;
  };
  for (const DoubleBlock& b : Wt.doubles) {
    I.doubles.push_back({stream(b.img), stream(b.txt)});
    DevDouble& d = I.doubles.back();
    if (offload)
      pack_block({{&d.img.qkv, &b.img.qkv}, {&d.img.proj, &b.img.proj}, {&d.img.fc1, &b.img.fc1}, {&d.img.fc2, &b.img.fc2},
                  {&d.txt.qkv, &b.txt.qkv}, {&d.txt.proj, &b.txt.proj}, {&d.txt.fc1, &b.txt.fc1}, {&d.txt.fc2, &b.txt.fc2},
                  {&d.img.mod, &b.img.mod}, {&d.txt.mod, &b.txt.mod}},
                 *I.offload);
  }
  for (const SingleBlock& b : Wt.singles) {
    DevSingle d;
    if (offload)
      pack_block({{&d.linear1, &b.linear1}, {&d.linear2, &b.linear2}, {&d.mod, &b.mod}}, *I.offload);
    else
      d.linear1 = upload_linear(b.linear1), d.linear2 = upload_linear(b.linear2), d.mod = upload_linear(b.mod);
    d.q_norm = upload_f32(b.q_norm), d.k_norm = upload_f32(b.k_norm);
    I.singles.push_back(std::move(d));
  }
  if (offload) I.offload->finish(2);
  I.layout_mods();
  I.count_weights();
  return m;
}

std::unique_ptr<HunyuanDitCuda> HunyuanDitCuda::random(const HunyuanConfig& c, uint64_t seed, bool offload) {
  cuda::init();
  check_supported(c);
  std::unique_ptr<HunyuanDitCuda> m(new HunyuanDitCuda());
  Impl& I = *m->impl_;
  I.c = c;
  uint64_t offset = 0;
  auto fill = [&](Tensor& t, float scale, float shift) {
    if (t.dtype() == DType::BF16)
      cuda::fill_normal_bf16(t.data(), t.numel(), seed, offset, scale, shift);
    else
      cuda::fill_normal_f32(t.data_as<float>(), t.numel(), seed, offset, scale, shift);
    offset += static_cast<uint64_t>(t.numel());
  };
  auto lin = [&](int64_t out, int64_t in, bool bias = true) {
    DevLinear d;
    d.out = out, d.in = in;
    d.w = device_empty(DType::BF16, out * in);
    fill(d.w, 1.0f / std::sqrt(static_cast<float>(in)), 0.0f);
    if (bias) {
      d.b = device_empty(DType::BF16, out);
      fill(d.b, 0.02f, 0.0f);
    }
    return d;
  };
  auto norm = [&](int64_t n, float scale, float shift) {
    Tensor t = device_empty(DType::F32, n);
    fill(t, scale, shift);
    return t;
  };
  const int64_t h = c.hidden, hd = c.head_dim(), m_ = c.mlp_dim, rm = c.refiner_mlp_dim;
  const int64_t pl = c.in_channels * c.patch[0] * c.patch[1] * c.patch[2];
  const int64_t ol = c.out_channels * c.patch[0] * c.patch[1] * c.patch[2];
  I.img_in = lin(h, pl);
  I.txt_input = lin(h, c.text_dim);
  I.txt_t0 = lin(h, c.freq_dim), I.txt_t2 = lin(h, h);
  I.txt_c1 = lin(h, c.text_dim), I.txt_c2 = lin(h, h);
  I.time0 = lin(h, c.freq_dim), I.time2 = lin(h, h);
  I.vec_in = lin(h, c.text_dim_2), I.vec_out = lin(h, h);
  if (c.guidance_embed) I.guid0 = lin(h, c.freq_dim), I.guid2 = lin(h, h);
  I.final_linear = lin(ol, h), I.final_ada = lin(2 * h, h);
  for (int64_t r = 0; r < c.refiner_depth; ++r) {
    DevRefiner d;
    d.norm1_w = norm(h, 0.1f, 1.0f), d.norm1_b = norm(h, 0.02f, 0.0f);
    d.norm2_w = norm(h, 0.1f, 1.0f), d.norm2_b = norm(h, 0.02f, 0.0f);
    d.qkv = lin(3 * h, h), d.proj = lin(h, h), d.fc1 = lin(rm, h), d.fc2 = lin(h, rm), d.ada = lin(2 * h, h);
    I.refiner.push_back(std::move(d));
  }
  if (offload) I.offload = std::make_unique<cuda::OffloadRing>("HunyuanVideo DiT block");
  for (int64_t b = 0; b < c.double_blocks; ++b) {
    DevDouble d;
    for (DevStream* s : {&d.img, &d.txt}) {
      s->mod = lin(6 * h, h), s->qkv = lin(3 * h, h, c.qkv_bias), s->proj = lin(h, h, c.qkv_bias);
      s->fc1 = lin(m_, h), s->fc2 = lin(h, m_);
      s->q_norm = norm(hd, 0.1f, 1.0f), s->k_norm = norm(hd, 0.1f, 1.0f);
    }
    // The same draws as resident (the same offsets), then packed as from_model packs them.
    if (offload)
      pack_device_block({&d.img.qkv, &d.img.proj, &d.img.fc1, &d.img.fc2, &d.txt.qkv, &d.txt.proj, &d.txt.fc1,
                         &d.txt.fc2, &d.img.mod, &d.txt.mod},
                        *I.offload);
    I.doubles.push_back(std::move(d));
  }
  for (int64_t b = 0; b < c.single_blocks; ++b) {
    DevSingle d;
    d.linear1 = lin(3 * h + m_, h), d.linear2 = lin(h, h + m_), d.mod = lin(3 * h, h);
    d.q_norm = norm(hd, 0.1f, 1.0f), d.k_norm = norm(hd, 0.1f, 1.0f);
    if (offload) pack_device_block({&d.linear1, &d.linear2, &d.mod}, *I.offload);
    I.singles.push_back(std::move(d));
  }
  if (offload) I.offload->finish(2);
  I.layout_mods();
  I.count_weights();
  cuda::synchronize();
  return m;
}

void HunyuanDitCuda::prepare(int64_t frames, int64_t height, int64_t width, int64_t text_len,
                             std::span<const int64_t> token_order, bool token_replace, dist::Communicator* comm) {
  Impl& I = *impl_;
  const HunyuanConfig& c = I.c;
  if (frames <= 0 || height <= 0 || width <= 0) fail("DiT prepare: empty token grid {}x{}x{}", frames, height, width);
  if (text_len < 1) fail("DiT prepare: {} text rows; HunyuanVideo needs at least 1", text_len);
  const int64_t Li = frames * height * width;
  if (!token_order.empty() && static_cast<int64_t>(token_order.size()) != Li)
    fail("DiT prepare: token order has {} entries for {} tokens", token_order.size(), Li);
  I.F = frames, I.H = height, I.W = width, I.Li = Li, I.Lt = text_len, I.L = Li + text_len;
  const int64_t L = I.L, h = c.hidden, hd = c.head_dim();
  if (comm && token_replace)
    fail("HunyuanVideo-I2V does not run under sequence parallel yet; run it in one process (no mpirun)");
  if (comm && cuda_attention_padded(c))
    fail("sequence parallel needs head dim 64 or 128; this model's {} runs padded in one process only (no mpirun)", hd);
  I.comm = comm;
  // A new stage (ProRes): the last stage's activations go before this stage's are made, so the
  // peak is the larger stage, not both.
  for (auto* t : {&I.rope, &I.order, &I.patches, &I.x, &I.h, &I.qkv, &I.big, &I.y, &I.head_out, &I.qkvh, &I.atth,
                  &I.head_all, &I.first_frame})
    *t = Tensor();
  I.sp.reset();
  if (comm) I.sp = std::make_unique<dist::UlyssesDevice>(*comm, Li, c.heads, hd, text_len);
  I.N = I.sp ? I.sp->local_tokens() : Li, I.off = I.sp ? I.sp->offset() : 0;
  I.hp = I.sp ? I.sp->local_heads() : c.heads;
  I.R = I.N + text_len;
  const int64_t R = I.R;
  const int64_t pl = c.in_channels * c.patch[0] * c.patch[1] * c.patch[2];
  const int64_t ol = c.out_channels * c.patch[0] * c.patch[1] * c.patch[2];
  I.wide = std::max({h + c.mlp_dim, c.refiner_mlp_dim});
  // RoPE in the token order as (cos, sin) pairs: the f32 tables of the CPU reference.
  const HunyuanRope r = rope_table_cpu(c, frames, height, width);
  std::vector<float> cs(static_cast<size_t>(Li * hd));
  for (int64_t i = 0; i < Li; ++i) {
    const int64_t src = token_order.empty() ? i : token_order[static_cast<size_t>(i)];
    if (src < 0 || src >= Li) fail("DiT prepare: token order entry {} is out of range", src);
    for (int64_t j = 0; j < hd / 2; ++j) {
      cs[static_cast<size_t>((i * hd / 2 + j) * 2)] = r.cos[static_cast<size_t>(src * hd + 2 * j)];
      cs[static_cast<size_t>((i * hd / 2 + j) * 2 + 1)] = r.sin[static_cast<size_t>(src * hd + 2 * j)];
    }
  }
  I.rope = upload(cs.data(), static_cast<int64_t>(cs.size()), DType::F32);
  I.order = Tensor();
  if (!token_order.empty()) {
    I.order = device_empty(DType::I64, Li);
    cuda::copy_to_device(I.order.data(), token_order.data(), static_cast<size_t>(Li) * 8);
  }
  // token_replace: frame 0's tokens are raster rows < height * width, in sequence order where
  // the token order puts them (as hunyuan_forward_cpu); the I2V kernel's zero rows after qkv's L.
  I.token_replace = token_replace;
  I.pad_rows = token_replace ? jenga_i2v_pad_rows(Li, text_len) : 0;
  I.first_frame = Tensor(), I.t0_sin = Tensor(), I.vec_tr = Tensor();
  if (token_replace) {
    std::vector<uint8_t> ff(static_cast<size_t>(Li));
    for (int64_t i = 0; i < Li; ++i) ff[static_cast<size_t>(i)] = (token_order.empty() ? i : token_order[i]) < height * width;
    I.first_frame = device_empty(DType::U8, Li);
    cuda::copy_to_device(I.first_frame.data(), ff.data(), ff.size());
    I.t0_sin = device_empty(DType::F32, c.freq_dim);
    cuda::sinusoidal_embedding_value(0.0f, I.t0_sin.data_as<float>(), c.freq_dim);
    I.vec_tr = device_empty(DType::F32, h);
  }
  I.patches = device_empty(DType::BF16, Li * pl);
  I.x = device_empty(DType::F32, R * h);
  I.h = device_empty(DType::BF16, R * h);
  I.qkv = device_empty(DType::BF16, (R + I.pad_rows) * 3 * h);
  // Rows past R are never written: the I2V kernel's zero keys and values.
  JENGA_CUDA_CHECK(cudaMemset(I.qkv.data(), 0, I.qkv.nbytes()));
  I.big = device_empty(DType::BF16, R * I.wide);
  I.y = device_empty(DType::BF16, R * h);
  I.head_out = device_empty(DType::BF16, I.N * ol);
  I.qkvh = I.sp ? device_empty(DType::BF16, L * 3 * I.hp * hd) : Tensor();
  I.atth = I.sp ? device_empty(DType::BF16, L * I.hp * hd) : Tensor();
  I.head_all = I.sp ? device_empty(DType::BF16, Li * ol) : Tensor();
  I.attention.reserve(R, R + I.pad_rows, c.heads, hd);  // scratch only for a padded head dim
  I.t_sin = device_empty(DType::F32, c.freq_dim);
  I.g_sin = device_empty(DType::F32, c.freq_dim);
  I.tmp = device_empty(DType::F32, h);
  I.vec = device_empty(DType::F32, h);
  I.cvec = device_empty(DType::F32, h);
  I.mods = device_empty(DType::F32, I.mod_total * (token_replace ? 2 : 1));
  JENGA_CUDA_CHECK(cudaMemset(I.mods.data(), 0, I.mods.nbytes()));
  cuda::synchronize();  // the sinusoid of t = 0 above
  I.act_bytes = 0;
  for (auto* t : {&I.rope, &I.order, &I.patches, &I.x, &I.h, &I.qkv, &I.big, &I.y, &I.head_out, &I.t_sin, &I.g_sin,
                  &I.tmp, &I.vec, &I.cvec, &I.mods, &I.first_frame, &I.t0_sin, &I.vec_tr, &I.qkvh, &I.atth,
                  &I.head_all})
    I.act_bytes += t->nbytes();
  if (I.sp) I.act_bytes += I.sp->stage_bytes();
}

double HunyuanDitCuda::dense_flops(int64_t valid) const {
  const Impl& I = *impl_;
  const HunyuanConfig& c = I.c;
  const double Li = static_cast<double>(I.Li), Lt = static_cast<double>(I.Lt), L = Li + Lt;
  const double h = static_cast<double>(c.hidden), m = static_cast<double>(c.mlp_dim);
  const double rm = static_cast<double>(c.refiner_mlp_dim), v = static_cast<double>(valid);
  const double la = Li + v, lp = Lt - v;
  const double attn = 4.0 * (la * la + lp * lp) * h;
  const double dbl = 2.0 * L * h * (3 * h + h + 2 * m) + attn;
  const double sgl = 2.0 * L * h * (3 * h + m) + 2.0 * L * (h + m) * h + attn;
  const double ref = 2.0 * Lt * h * (3 * h + h + 2 * rm) + 4.0 * v * v * h;
  const double pl = static_cast<double>(c.in_channels * c.patch[0] * c.patch[1] * c.patch[2]);
  const double ol = static_cast<double>(c.out_channels * c.patch[0] * c.patch[1] * c.patch[2]);
  return dbl * static_cast<double>(c.double_blocks) + sgl * static_cast<double>(c.single_blocks) +
         ref * static_cast<double>(c.refiner_depth) + 2.0 * Lt * static_cast<double>(c.text_dim) * h +
         2.0 * Li * pl * h + 2.0 * Li * h * ol;
}

void HunyuanDitCuda::forward(const float* x, const float* t, const HunyuanTextDevice& text, float guidance, float* out,
                             void* s, const CudaDitHooks* hooks) {
  Impl& I = *impl_;
  const HunyuanConfig& c = I.c;
  if (I.L == 0) fail("DiT forward called before prepare()");
  if (text.valid < 1 || text.valid > I.Lt)
    fail("HunyuanVideo DiT: {} valid text tokens of {} prepared rows; need 1 .. {}", text.valid, I.Lt, I.Lt);
  if (hooks && hooks->self_attention && I.sp && I.hp != c.heads)
    fail("sequence parallel with {} processes: this attention replacement (--attention svg) needs every head on one "
         "process; run one process or --parallel prompts", I.comm->size());
  if (hooks && hooks->self_attention && I.token_replace)
    fail("HunyuanVideo-I2V DiT (CUDA): the attention replacement (--attention svg) is for text-to-video only");
  if (I.attention.active() && hooks && (hooks->self_attention || hooks->self_attn_layout))
    fail("HunyuanVideo DiT (CUDA): head dim {} runs padded to {}, dense only; Jenga's and Sparse VideoGen's sparse "
         "attention need head dim 64 or 128 (run it with --preset dense, or on --device cpu)", c.head_dim(),
         cuda::attention_head_dim(c.head_dim()));
  // Rows of this rank: N image rows (every image row on one process), then the Lt text rows.
  const int64_t Li = I.N, Lt = I.Lt, L = I.R, h = c.hidden, heads = c.heads, hd = c.head_dim(), m = c.mlp_dim;
  const int64_t wide = I.wide, v = text.valid;
  const int64_t* order = I.order.defined() ? I.order.data_as<int64_t>() : nullptr;
  const auto stream = static_cast<cudaStream_t>(s);
  using cuda::Epilogue;
  auto mark = [&](const char* phase) {
    if (hooks && hooks->mark) hooks->mark(phase, s);
  };
  const bool skip_blocks = hooks && hooks->residual && hooks->reuse_residual;
  const bool store_residual = hooks && hooks->residual && !hooks->reuse_residual;
  float* X = I.x.data_as<float>();
  auto* Hb = static_cast<uint16_t*>(I.h.data());
  auto* Q = static_cast<uint16_t*>(I.qkv.data());
  auto* Big = static_cast<uint16_t*>(I.big.data());
  auto* Y = static_cast<uint16_t*>(I.y.data());
  const float* cs = I.rope.data_as<float>() + I.off * hd;  // this rank's image rows' RoPE

  mark("embed");
  // img_in: patches gathered straight into token order -> f32 residual rows [0, Li) (this rank's).
  cuda::patchify(x, I.patches.data(), order, c.in_channels, I.F, I.H, I.W, static_cast<int>(c.patch[0]),
                 static_cast<int>(c.patch[1]), static_cast<int>(c.patch[2]), s);
  const int64_t pl = c.in_channels * c.patch[0] * c.patch[1] * c.patch[2];
  I.linear(static_cast<const uint16_t*>(I.patches.data()) + I.off * pl, 0, I.img_in, Hb, 0, Li, Epilogue::Bias, s);
  JENGA_CUDA_CHECK(cudaMemsetAsync(X, 0, static_cast<size_t>(Li * h) * 4, stream));
  cuda::gated_residual_add(X, Hb, nullptr, Li, h, s);

  // vec = time_in(t) + vector_in(pooled) + guidance_in(guidance); the refiner's context vector
  // c = t_embedder(t) + c_embedder(mean of the valid text states). f32 over bf16 weights.
  float* vec = I.vec.data_as<float>();
  float* tmp = I.tmp.data_as<float>();
  float* cvec = I.cvec.data_as<float>();
  cuda::sinusoidal_embedding(t, I.t_sin.data_as<float>(), c.freq_dim, s);
  I.gemv(I.t_sin.data_as<float>(), I.time0, tmp, false, false, s);
  I.gemv(tmp, I.time2, vec, true, false, s);
  I.gemv(text.pooled, I.vec_in, tmp, false, false, s);
  I.gemv(tmp, I.vec_out, vec, true, true, s);
  if (c.guidance_embed) {
    cuda::sinusoidal_embedding_value(guidance, I.g_sin.data_as<float>(), c.freq_dim, s);
    I.gemv(I.g_sin.data_as<float>(), I.guid0, tmp, false, false, s);
    I.gemv(tmp, I.guid2, vec, true, true, s);
  }
  I.gemv(I.t_sin.data_as<float>(), I.txt_t0, tmp, false, false, s);
  I.gemv(tmp, I.txt_t2, cvec, true, false, s);
  I.gemv(text.mean, I.txt_c1, tmp, false, false, s);
  I.gemv(tmp, I.txt_c2, cvec, true, true, s);
  if (I.token_replace) I.token_replace_vector(text.pooled, s);
  mark("modulation");
  I.modulations(s);
  const cuda::RowModulation img_alt = I.image_rows_alt();  // token_replace: frame 0's image rows

  if (skip_blocks) {
    cuda::axpby(X, 1.0f, hooks->residual, 1.0f, Li * h, s);
  } else {
    mark("token refiner");
    I.token_refiner(text, s);
    if (store_residual) cuda::axpby(hooks->residual, 1.0f, X, 0.0f, Li * h, s);
    int layer = 0;
    // Offload: blocks 0 .. ring-1 start copying now, behind everything enqueued so far (which
    // includes the previous forward's last reads of the ring).
    const size_t nb = I.doubles.size() + I.singles.size();
    const bool stream_blocks = I.offload && nb > 0;
    if (stream_blocks) I.offload->begin(nb, s);
    auto acquire = [&](int l) {
      if (stream_blocks) I.block_mats = static_cast<const uint8_t*>(I.offload->acquire(static_cast<size_t>(l), s));
    };
    // The block's last read of its matrices is enqueued: its slot takes block l + ring.
    auto release = [&](int l) {
      if (stream_blocks) I.offload->release(static_cast<size_t>(l), s), I.block_mats = nullptr;
    };
    // Both streams' rows of one buffer: image [0, Li), text [Li, L).
    const int64_t rows[2] = {Li, Lt}, row0[2] = {0, Li};
    for (size_t b = 0; b < I.doubles.size(); ++b, ++layer) {
      I.run_ahead.mark(s);  // Ctrl-C between blocks, the host a few blocks ahead at most
      acquire(layer);
      if (stream_blocks) I.double_modulation(b, s);
      const DevDouble& B = I.doubles[b];
      const DevStream* S[2] = {&B.img, &B.txt};
      const float* md[2] = {I.mods.data_as<float>() + I.mod_double[b], I.mods.data_as<float>() + I.mod_double[b] + 6 * h};
      mark("norm");
      const cuda::RowModulation alt[2] = {img_alt, {}};
      for (int k = 0; k < 2; ++k)
        cuda::layer_norm_modulate(X + row0[k] * h, nullptr, nullptr, md[k], md[k] + h, Hb + row0[k] * h, rows[k], h,
                                  kEps, s, alt[k]);
      mark("gemm qkv");
      for (int k = 0; k < 2; ++k)
        I.linear(Hb + row0[k] * h, 0, S[k]->qkv, Q + row0[k] * 3 * h, 0, rows[k], Epilogue::Bias, s);
      mark("qk norm+rope");
      for (int k = 0; k < 2; ++k)
        cuda::head_qk_norm_rope(Q + row0[k] * 3 * h, 3 * h, S[k]->q_norm.data_as<float>(),
                                S[k]->k_norm.data_as<float>(), k == 0 ? cs : nullptr, rows[k], heads, hd, kEps, s);
      mark("self-attn");
      I.self_attention(Q, Big, wide, v, hooks, layer, s);
      mark("gemm o");
      for (int k = 0; k < 2; ++k)
        I.linear(Big + row0[k] * wide, wide, S[k]->proj, Y + row0[k] * h, 0, rows[k], Epilogue::Bias, s);
      mark("residual+norm");
      for (int k = 0; k < 2; ++k)
        cuda::add_layer_norm_modulate(X + row0[k] * h, Y + row0[k] * h, md[k] + 2 * h, nullptr, nullptr, md[k] + 3 * h,
                                      md[k] + 4 * h, Hb + row0[k] * h, rows[k], h, kEps, s, alt[k]);
      mark("gemm mlp1+gelu");
      for (int k = 0; k < 2; ++k)
        I.linear(Hb + row0[k] * h, 0, S[k]->fc1, Big + row0[k] * m, 0, rows[k], Epilogue::BiasGeluTanh, s);
      mark("gemm mlp2");
      for (int k = 0; k < 2; ++k)
        I.linear(Big + row0[k] * m, 0, S[k]->fc2, Y + row0[k] * h, 0, rows[k], Epilogue::Bias, s);
      release(layer);
      mark("residual");
      for (int k = 0; k < 2; ++k)
        cuda::gated_residual_add(X + row0[k] * h, Y + row0[k] * h, md[k] + 5 * h, rows[k], h, s, alt[k]);
      mark("other");
      if (hooks && hooks->after_block) hooks->after_block(layer, X, L, s);
    }
    for (size_t b = 0; b < I.singles.size(); ++b, ++layer) {
      I.run_ahead.mark(s);
      acquire(layer);
      if (stream_blocks) I.single_modulation(b, s);
      const DevSingle& B = I.singles[b];
      const float* md = I.mods.data_as<float>() + I.mod_single[b];  // shift, scale, gate
      mark("norm");
      cuda::layer_norm_modulate(X, nullptr, nullptr, md, md + h, Hb, L, h, kEps, s, img_alt);
      mark("gemm qkv");
      I.linear(Hb, 0, B.linear1, Q, 0, L, Epilogue::Bias, s, 0, 3 * h);
      mark("gemm mlp1+gelu");
      // The MLP half of linear1, GELU fused, beside the attention output: [attn | mlp] rows.
      I.linear(Hb, 0, B.linear1, Big + h, wide, L, Epilogue::BiasGeluTanh, s, 3 * h, m);
      mark("qk norm+rope");
      cuda::head_qk_norm_rope(Q, 3 * h, B.q_norm.data_as<float>(), B.k_norm.data_as<float>(), cs, Li, heads, hd, kEps, s);
      cuda::head_qk_norm_rope(Q + Li * 3 * h, 3 * h, B.q_norm.data_as<float>(), B.k_norm.data_as<float>(), nullptr, Lt,
                              heads, hd, kEps, s);
      mark("self-attn");
      I.self_attention(Q, Big, wide, v, hooks, layer, s);
      mark("gemm mlp2");
      I.linear(Big, wide, B.linear2, Y, 0, L, Epilogue::Bias, s);
      release(layer);
      mark("residual");
      cuda::gated_residual_add(X, Y, md + 2 * h, L, h, s, img_alt);
      mark("other");
      if (hooks && hooks->after_block) hooks->after_block(layer, X, L, s);
    }
    if (store_residual) cuda::axpby(hooks->residual, 1.0f, X, -1.0f, Li * h, s);
  }

  // final_layer over the image rows: LayerNorm, (shift, scale), Linear; channel-major unpatchify
  // back to raster order.
  mark("head");
  const float* hm = I.mods.data_as<float>() + I.mod_head;
  cuda::layer_norm_modulate(X, nullptr, nullptr, hm, hm + h, Hb, Li, h, kEps, s);
  I.linear(Hb, 0, I.final_linear, I.head_out.data(), 0, Li, Epilogue::Bias, s);
  const void* head = I.head_out.data();
  if (I.sp) {  // every rank's rows, in token order
    I.sp->gather_tokens(head, I.head_all.data(), c.out_channels * c.patch[0] * c.patch[1] * c.patch[2]);
    head = I.head_all.data();
  }
  cuda::unpatchify_channel_major(head, out, order, c.out_channels, I.F, I.H, I.W,
                                 static_cast<int>(c.patch[0]), static_cast<int>(c.patch[1]),
                                 static_cast<int>(c.patch[2]), s);
  mark("end");
}

std::vector<float> HunyuanDitCuda::time_embedding(double t) {
  Impl& I = *impl_;
  const HunyuanConfig& c = I.c;
  Tensor sin = device_empty(DType::F32, c.freq_dim), hbuf = device_empty(DType::F32, c.hidden);
  Tensor e = device_empty(DType::F32, c.hidden);
  cuda::sinusoidal_embedding_value(static_cast<float>(t), sin.data_as<float>(), c.freq_dim);
  I.gemv(sin.data_as<float>(), I.time0, hbuf.data_as<float>(), false, false, nullptr);
  I.gemv(hbuf.data_as<float>(), I.time2, e.data_as<float>(), true, false, nullptr);
  std::vector<float> out(static_cast<size_t>(c.hidden));
  cuda::synchronize();
  cuda::copy_to_host(out.data(), e.data(), out.size() * 4);
  return out;
}

HunyuanTextDevice HunyuanTextUpload::view() const {
  HunyuanTextDevice d;
  d.states = states.data();
  d.mean = mean.data_as<float>();
  d.pooled = pooled.data_as<float>();
  d.valid = valid;
  return d;
}

HunyuanTextUpload upload_hunyuan_text(const HunyuanConfig& c, const float* text_states, int64_t rows, int64_t valid,
                                      const float* pooled, int64_t text_len) {
  if (valid < 1 || valid > rows) fail("HunyuanVideo text: {} valid tokens of {}; need at least 1", valid, rows);
  if (rows > text_len) fail("HunyuanVideo text: {} text rows; the DiT was prepared for at most {}", rows, text_len);
  const int64_t d = c.text_dim;
  std::vector<uint16_t> st(static_cast<size_t>(text_len * d), 0);  // zero rows after the prompt
  convert(text_states, DType::F32, st.data(), DType::BF16, static_cast<size_t>(rows * d));
  // The refiner's context: the mean of the valid rows, in f32 as the official (fp32 mask).
  std::vector<float> mean(static_cast<size_t>(d), 0.0f);
  for (int64_t i = 0; i < valid; ++i)
    for (int64_t j = 0; j < d; ++j) mean[static_cast<size_t>(j)] += text_states[i * d + j];
  for (float& x : mean) x /= static_cast<float>(valid);
  HunyuanTextUpload u;
  u.states = device_empty(DType::BF16, text_len * d);
  cuda::copy_to_device(u.states.data(), st.data(), st.size() * 2);
  u.mean = upload(mean.data(), d, DType::F32);
  u.pooled = upload(pooled, c.text_dim_2, DType::F32);
  u.valid = valid;
  return u;
}

Tensor hunyuan_forward_cuda(const HunyuanDit& model, const Tensor& x, float t, const float* text_states,
                            int64_t text_len, int64_t valid, const float* text_states_2, float guidance,
                            std::vector<Tensor>* blocks, bool token_replace, int64_t block_image_stride) {
  const HunyuanConfig& c = model.config;
  if (x.ndim() != 4 || x.dim(0) != c.in_channels)
    fail("HunyuanVideo DiT: x must be [{}, F, H, W]; got {}", c.in_channels, x.shape().str());
  if (x.dim(1) % c.patch[0] || x.dim(2) % c.patch[1] || x.dim(3) % c.patch[2])
    fail("HunyuanVideo latent {}x{}x{} is not divisible by the patch size {}x{}x{}", x.dim(1), x.dim(2), x.dim(3),
         c.patch[0], c.patch[1], c.patch[2]);
  auto dit = HunyuanDitCuda::from_model(model);
  dit->prepare(x.dim(1) / c.patch[0], x.dim(2) / c.patch[1], x.dim(3) / c.patch[2], text_len, {}, token_replace);
  const HunyuanTextUpload text = upload_hunyuan_text(c, text_states, text_len, valid, text_states_2, text_len);
  Tensor dx = Tensor::empty(DType::F32, x.shape(), Device::CUDA);
  Tensor dout = Tensor::empty(DType::F32, Shape{c.out_channels, x.dim(1), x.dim(2), x.dim(3)}, Device::CUDA);
  Tensor dt = Tensor::empty(DType::F32, Shape{1}, Device::CUDA);
  cuda::copy_to_device(dx.data(), x.data(), x.nbytes());
  cuda::copy_to_device(dt.data(), &t, 4);
  CudaDitHooks hooks;
  if (blocks) {
    blocks->clear();
    if (block_image_stride < 1) fail("HunyuanVideo DiT: block dump stride {} must be at least 1", block_image_stride);
    hooks.after_block = [&](int, const float* xs, int64_t tokens, void*) {
      // Image rows 0, S, 2S, ... then every text row: a debug copy, outside any timed path.
      const int64_t li = tokens - text_len, ni = (li + block_image_stride - 1) / block_image_stride;
      const size_t row = static_cast<size_t>(c.hidden) * 4;
      Tensor hb = Tensor::empty(DType::F32, Shape{ni + text_len, c.hidden});
      cuda::synchronize();
      JENGA_CUDA_CHECK(cudaMemcpy2D(hb.data(), row, xs, row * static_cast<size_t>(block_image_stride), row,
                                    static_cast<size_t>(ni), cudaMemcpyDeviceToHost));
      cuda::copy_to_host(hb.data_as<float>() + ni * c.hidden, xs + li * c.hidden, static_cast<size_t>(text_len) * row);
      blocks->push_back(std::move(hb));
    };
  }
  dit->forward(dx.data_as<float>(), dt.data_as<float>(), text.view(), guidance, dout.data_as<float>(), nullptr, &hooks);
  Tensor out = Tensor::empty(DType::F32, dout.shape());
  cuda::synchronize();
  cuda::copy_to_host(out.data(), dout.data(), out.nbytes());
  return out;
}

}  // namespace jenga::hunyuan
