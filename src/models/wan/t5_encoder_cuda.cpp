#include "models/wan/t5_encoder_cuda.h"

#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "backend/cuda/activation.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_upload.h"
#include "backend/cuda/embedding.h"
#include "backend/cuda/gemm.h"
#include "backend/cuda/norm.h"
#include "backend/cuda/random.h"
#include "backend/cuda/rel_attention.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/tensor.h"

namespace jenga::wan {

namespace {

constexpr float kEps = 1e-6f;  // T5LayerNorm's

using cuda::device_empty;

uint16_t* bf16_at(Tensor& t, int64_t offset) { return static_cast<uint16_t*>(t.data()) + offset; }

// A host tensor copied to dst as `dt` (bf16 GEMM operands, f32 norms and position tables).
void upload_as(const Tensor& host, DType dt, void* dst) {
  const size_t n = static_cast<size_t>(host.numel());
  if (host.dtype() == dt) {
    cuda::copy_to_device(dst, host.data(), host.nbytes());
    return;
  }
  std::vector<uint8_t> tmp(n * dtype_size(dt));
  convert(host.data(), host.dtype(), tmp.data(), dt, n);
  cuda::copy_to_device(dst, tmp.data(), tmp.size());
}

struct Layer {
  Tensor qkv;           // bf16 [3 dim_attn, dim]: q | k | v stacked, one GEMM
  Tensor o;             // bf16 [dim, dim_attn]
  Tensor gate_fc1;      // bf16 [2 dim_ffn, dim]: gate.0 | fc1 stacked, one GEMM
  Tensor fc2;           // bf16 [dim, dim_ffn]
  Tensor norm1, norm2;  // f32 [dim]
  Tensor pos;           // f32 [buckets, heads]; empty with shared_pos
};

}  // namespace

struct T5EncoderCuda::Impl {
  T5Config c;
  cuda::GemmRunner gemm;
  cuda::RelAttention attention;
  Tensor embedding;   // bf16 [vocab, dim]
  Tensor final_norm;  // f32 [dim]
  Tensor shared_pos;  // f32 [buckets, heads], shared_pos checkpoints only
  std::vector<Layer> layers;
  // Activations for up to `cap` tokens (reserve()).
  int64_t cap = 0;
  Tensor ids, mask, bucket;             // i32 [cap], u8 [cap], i32 [2 cap - 1]
  Tensor x;                             // f32 [cap, dim] residual stream
  Tensor h, qkv, att, u;                // bf16: [cap, dim], [cap, 3 A], [cap, A], [cap, F]
  Tensor gf;                            // f32 [cap, 2 F]: gate | fc1 outputs
  Tensor scores, probs;                 // f32 / bf16 [heads, cap, cap]
  Tensor out;                           // f32 [cap, dim] (encode()'s result)

  void alloc_weights() {
    const int64_t D = c.dim, A = c.dim_attn, F = c.dim_ffn;
    embedding = device_empty(DType::BF16, c.vocab * D);
    final_norm = device_empty(DType::F32, D);
    if (c.shared_pos) shared_pos = device_empty(DType::F32, c.num_buckets * c.heads);
    layers.resize(static_cast<size_t>(c.layers));
    for (auto& l : layers) {
      l.qkv = device_empty(DType::BF16, 3 * A * D);
      l.o = device_empty(DType::BF16, D * A);
      l.gate_fc1 = device_empty(DType::BF16, 2 * F * D);
      l.fc2 = device_empty(DType::BF16, D * F);
      l.norm1 = device_empty(DType::F32, D);
      l.norm2 = device_empty(DType::F32, D);
      if (!c.shared_pos) l.pos = device_empty(DType::F32, c.num_buckets * c.heads);
    }
  }

  const float* pos(const Layer& l) const { return (c.shared_pos ? shared_pos : l.pos).data_as<float>(); }
};

T5EncoderCuda::T5EncoderCuda() : impl_(std::make_unique<Impl>()) {}
T5EncoderCuda::~T5EncoderCuda() = default;
const T5Config& T5EncoderCuda::config() const { return impl_->c; }
int64_t T5EncoderCuda::capacity() const { return impl_->cap; }

std::unique_ptr<T5EncoderCuda> T5EncoderCuda::from_encoder(const T5Encoder& e) {
  cuda::init();
  std::unique_ptr<T5EncoderCuda> m(new T5EncoderCuda());
  Impl& I = *m->impl_;
  const T5Config& c = I.c = e.config();
  const int64_t D = c.dim, A = c.dim_attn, F = c.dim_ffn;
  I.alloc_weights();
  upload_as(e.weight("token_embedding.weight", {c.vocab, D}), DType::BF16, I.embedding.data());
  upload_as(e.weight("norm.weight", {D}), DType::F32, I.final_norm.data());
  if (c.shared_pos)
    upload_as(e.weight("pos_embedding.embedding.weight", {c.num_buckets, c.heads}), DType::F32, I.shared_pos.data());
  for (int64_t i = 0; i < c.layers; ++i) {
    Layer& l = I.layers[static_cast<size_t>(i)];
    const std::string p = "blocks." + std::to_string(i) + ".";
    for (int j = 0; j < 3; ++j)
      upload_as(e.weight(p + "attn." + "qkv"[j] + ".weight", {A, D}), DType::BF16, bf16_at(l.qkv, j * A * D));
    upload_as(e.weight(p + "attn.o.weight", {D, A}), DType::BF16, l.o.data());
    upload_as(e.weight(p + "ffn.gate.0.weight", {F, D}), DType::BF16, bf16_at(l.gate_fc1, 0));
    upload_as(e.weight(p + "ffn.fc1.weight", {F, D}), DType::BF16, bf16_at(l.gate_fc1, F * D));
    upload_as(e.weight(p + "ffn.fc2.weight", {D, F}), DType::BF16, l.fc2.data());
    upload_as(e.weight(p + "norm1.weight", {D}), DType::F32, l.norm1.data());
    upload_as(e.weight(p + "norm2.weight", {D}), DType::F32, l.norm2.data());
    if (!c.shared_pos)
      upload_as(e.weight(p + "pos_embedding.embedding.weight", {c.num_buckets, c.heads}), DType::F32, l.pos.data());
  }
  return m;
}

std::unique_ptr<T5EncoderCuda> T5EncoderCuda::random(const T5Config& c, uint64_t seed) {
  cuda::init();
  if (c.vocab <= 0 || c.dim <= 0 || c.heads <= 0 || c.dim_attn % c.heads || c.layers <= 0 || c.num_buckets < 4)
    fail("random umT5 encoder: inconsistent config");
  std::unique_ptr<T5EncoderCuda> m(new T5EncoderCuda());
  Impl& I = *m->impl_;
  I.c = c;
  I.alloc_weights();
  const int64_t D = c.dim, A = c.dim_attn, F = c.dim_ffn, H = c.heads, B = c.num_buckets;
  uint64_t offset = 0;
  // Standard deviations of the official init_weights (T5Encoder keeps nn.Embedding's N(0, 1)).
  auto normal = [&](void* p, int64_t n, double stddev) {
    cuda::fill_normal_bf16(p, n, seed, offset, static_cast<float>(stddev), 0.0f);
    offset += static_cast<uint64_t>(n);
  };
  auto normal_f32 = [&](Tensor& t, double stddev, float shift) {
    cuda::fill_normal_f32(t.data_as<float>(), t.numel(), seed, offset, static_cast<float>(stddev), shift);
    offset += static_cast<uint64_t>(t.numel());
  };
  const double d = static_cast<double>(D);
  normal(I.embedding.data(), c.vocab * D, 1.0);
  normal_f32(I.final_norm, 0.0, 1.0f);
  if (c.shared_pos) normal_f32(I.shared_pos, 1.0 / std::sqrt(2.0 * B * H), 0.0f);
  for (Layer& l : I.layers) {
    normal(bf16_at(l.qkv, 0), A * D, 1.0 / std::sqrt(d * A));
    normal(bf16_at(l.qkv, A * D), 2 * A * D, 1.0 / std::sqrt(d));
    normal(l.o.data(), D * A, 1.0 / std::sqrt(static_cast<double>(H * A)));
    normal(l.gate_fc1.data(), 2 * F * D, 1.0 / std::sqrt(d));
    normal(l.fc2.data(), D * F, 1.0 / std::sqrt(static_cast<double>(F)));
    normal_f32(l.norm1, 0.0, 1.0f);
    normal_f32(l.norm2, 0.0, 1.0f);
    if (!c.shared_pos) normal_f32(l.pos, 1.0 / std::sqrt(2.0 * B * H), 0.0f);
  }
  cuda::synchronize();
  return m;
}

void T5EncoderCuda::reserve(int64_t max_len) {
  Impl& I = *impl_;
  if (max_len <= I.cap) return;
  if (max_len > 65536) fail("umT5 encoder: {} tokens is more than this encoder handles (65536)", max_len);
  const T5Config& c = I.c;
  const int64_t L = max_len, D = c.dim, A = c.dim_attn, F = c.dim_ffn;
  I.ids = device_empty(DType::I32, L);
  I.mask = device_empty(DType::U8, L);
  I.bucket = device_empty(DType::I32, 2 * L - 1);
  I.x = device_empty(DType::F32, L * D);
  I.h = device_empty(DType::BF16, L * D);
  I.qkv = device_empty(DType::BF16, L * 3 * A);
  I.att = device_empty(DType::BF16, L * A);
  I.gf = device_empty(DType::F32, L * 2 * F);
  I.u = device_empty(DType::BF16, L * F);
  I.scores = device_empty(DType::F32, c.heads * L * L);
  I.probs = device_empty(DType::BF16, c.heads * L * L);
  I.out = device_empty(DType::F32, L * D);
  // bucket[r + L - 1] = official bucket of the (key - query) distance r.
  std::vector<int32_t> b(static_cast<size_t>(2 * L - 1));
  for (int64_t r = -(L - 1); r < L; ++r)
    b[static_cast<size_t>(r + L - 1)] = static_cast<int32_t>(t5_relative_bucket(r, c.num_buckets, c.max_dist));
  cuda::copy_to_device(I.bucket.data(), b.data(), b.size() * sizeof(int32_t));
  I.cap = L;
}

void T5EncoderCuda::forward(const int32_t* ids, const uint8_t* key_mask, int64_t len, float* out, int64_t out_rows,
                            void* s) {
  Impl& I = *impl_;
  const T5Config& c = I.c;
  if (len <= 0 || len > I.cap) fail("umT5 encoder forward: {} tokens, but reserve() sized it for {}", len, I.cap);
  if (out_rows < 1 || out_rows > len) fail("umT5 encoder forward: {} output rows of {} tokens", out_rows, len);
  const int64_t L = len, D = c.dim, A = c.dim_attn, F = c.dim_ffn;
  float* x = I.x.data_as<float>();
  float* gf = I.gf.data_as<float>();
  void *h = I.h.data(), *qkv = I.qkv.data(), *att = I.att.data(), *u = I.u.data();
  cuda::embedding_gather(I.embedding.data(), ids, x, L, D, s);
  cuda::rms_norm_f32(x, I.layers[0].norm1.data_as<float>(), h, false, L, D, kEps, s);
  cuda::RelAttentionParams p;
  p.q = qkv;
  p.k = static_cast<const uint16_t*>(qkv) + A;
  p.v = static_cast<const uint16_t*>(qkv) + 2 * A;
  p.row_stride = 3 * A;
  p.out = att;
  p.out_row_stride = A;
  p.len = L, p.heads = c.heads, p.head_dim = c.head_dim();
  p.bucket = I.bucket.data_as<int32_t>(), p.center = I.cap - 1;
  p.key_mask = key_mask;
  p.scores = I.scores.data_as<float>(), p.probs = I.probs.data();
  // The o and fc2 GEMMs add into the f32 residual stream themselves (beta = 1): no bf16
  // rounding of the sublayer outputs, which this random-weight umT5 amplifies over 24 layers.
  for (size_t i = 0; i < I.layers.size(); ++i) {
    const Layer& l = I.layers[i];
    const bool last = i + 1 == I.layers.size();
    // x += o(attn(norm1(x)))
    I.gemm.linear(h, l.qkv.data(), nullptr, qkv, L, 3 * A, D, cuda::Epilogue::None, s);
    p.pos = I.pos(l);
    I.attention.forward(p, s);
    I.gemm.linear_f32(att, l.o.data(), x, L, D, A, true, s);
    // x += fc2(fc1(h) * gelu(gate(h))), h = norm2(x); row-wise, so the last layer's FFN runs on
    // the returned rows only.
    const int64_t rows = last ? out_rows : L;
    cuda::rms_norm_f32(x, l.norm2.data_as<float>(), h, false, rows, D, kEps, s);
    I.gemm.linear_f32(h, l.gate_fc1.data(), gf, rows, 2 * F, D, false, s);
    cuda::gated_gelu_tanh(gf, u, rows, F, s);
    I.gemm.linear_f32(u, l.fc2.data(), x, rows, D, F, true, s);
    if (!last) cuda::rms_norm_f32(x, I.layers[i + 1].norm1.data_as<float>(), h, false, L, D, kEps, s);
  }
  cuda::rms_norm_f32(x, I.final_norm.data_as<float>(), out, true, out_rows, D, kEps, s);
}

Tensor T5EncoderCuda::encode(std::span<const int64_t> ids, std::span<const int64_t> mask) {
  Impl& I = *impl_;
  int64_t valid = 0;
  const int64_t L = t5_check_input(ids, mask, I.c.vocab, valid);
  Tensor out = Tensor::empty(DType::F32, {valid, I.c.dim});
  if (valid == 0) return out;
  reserve(L);
  std::vector<int32_t> id32(static_cast<size_t>(L));
  std::vector<uint8_t> m8(static_cast<size_t>(L));
  for (int64_t i = 0; i < L; ++i) id32[i] = static_cast<int32_t>(ids[i]), m8[i] = mask[i] != 0;
  cuda::copy_to_device(I.ids.data(), id32.data(), id32.size() * sizeof(int32_t));
  cuda::copy_to_device(I.mask.data(), m8.data(), m8.size());
  forward(I.ids.data_as<int32_t>(), I.mask.data_as<uint8_t>(), L, I.out.data_as<float>(), valid, nullptr);
  cuda::copy_to_host(out.data(), I.out.data(), out.nbytes());
  for (float v : std::span<const float>(out.data_as<float>(), static_cast<size_t>(out.numel())))
    if (!std::isfinite(v)) fail("the CUDA umT5 encoder produced NaN or inf (bad weights?)");
  return out;
}

size_t T5EncoderCuda::weight_bytes() const {
  const Impl& I = *impl_;
  size_t n = I.embedding.nbytes() + I.final_norm.nbytes() + (I.c.shared_pos ? I.shared_pos.nbytes() : 0);
  for (const Layer& l : I.layers)
    n += l.qkv.nbytes() + l.o.nbytes() + l.gate_fc1.nbytes() + l.fc2.nbytes() + l.norm1.nbytes() + l.norm2.nbytes() +
         (I.c.shared_pos ? 0 : l.pos.nbytes());
  return n;
}

size_t T5EncoderCuda::activation_bytes() const {
  const Impl& I = *impl_;
  if (I.cap == 0) return 0;
  size_t n = 0;
  for (const Tensor* t : {&I.ids, &I.mask, &I.bucket, &I.x, &I.h, &I.qkv, &I.att, &I.gf, &I.u, &I.scores,
                          &I.probs, &I.out})
    n += t->nbytes();
  return n;
}

double T5EncoderCuda::flops(int64_t len) const {
  const T5Config& c = impl_->c;
  const double L = static_cast<double>(len);
  const double linear = 2.0 * L * (4.0 * c.dim * c.dim_attn + 3.0 * c.dim * c.dim_ffn);
  const double attention = 4.0 * L * L * c.dim_attn;
  return static_cast<double>(c.layers) * (linear + attention);
}

}  // namespace jenga::wan
