#include "models/wan/wan_dit_cuda.h"

#include <cuda_runtime.h>

#include <cmath>
#include <vector>

#include "backend/cpu/ops.h"
#include "backend/cuda/attention.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/gemm.h"
#include "backend/cuda/ops.h"
#include "backend/cuda/patch.h"
#include "backend/cuda/sampler.h"
#include "backend/cuda/vec_ops.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/tensor.h"
#include "dist/communicator.h"
#include "models/wan/wan_dit.h"
#include "models/wan/wan_dit_cpu.h"

namespace jenga::wan {

namespace {

void check_supported(const WanConfig& c) {
  c.validate();
  if (c.model_type != "t2v") fail("the CUDA DiT supports text-to-video models only (got {})", c.model_type);
  if (c.head_dim() != 64 && c.head_dim() != 128)
    fail("the CUDA DiT needs head dim 64 or 128; this model has {} (use --device cpu)", c.head_dim());
}

Tensor device_empty(DType dt, int64_t n) { return Tensor::empty(dt, Shape{n}, Device::CUDA); }

// A host f32 array uploaded as `dt` (bf16 for GEMM operands, f32 otherwise).
Tensor upload(const float* host, int64_t n, DType dt) {
  Tensor d = device_empty(dt, n);
  if (dt == DType::F32) {
    cuda::copy_to_device(d.data(), host, static_cast<size_t>(n) * 4);
  } else {
    std::vector<uint16_t> tmp(static_cast<size_t>(n));
    convert(host, DType::F32, tmp.data(), dt, static_cast<size_t>(n));
    cuda::copy_to_device(d.data(), tmp.data(), tmp.size() * 2);
  }
  return d;
}

// Linear weights of one GEMM: w bf16 [out, in], b bf16 [out].
struct DevLinear {
  Tensor w, b;
  int64_t out = 0, in = 0;
};

DevLinear upload_linear(std::initializer_list<const LinearWeights*> parts) {
  // Several nn.Linear of the same input width stacked along the output (fused QKV / KV).
  // Weights come as f32 or bf16 (load_wan_dit's matrix dtype); bf16 rows are copied as they are.
  DevLinear d;
  d.in = (*parts.begin())->w.dim(1);
  for (const auto* p : parts) d.out += p->w.dim(0);
  std::vector<uint16_t> w(static_cast<size_t>(d.out * d.in)), b(static_cast<size_t>(d.out));
  int64_t row = 0;
  for (const auto* p : parts) {
    JENGA_ASSERT(p->w.dim(1) == d.in && p->b.dtype() == DType::F32);
    JENGA_ASSERT(p->w.dtype() == DType::F32 || p->w.dtype() == DType::BF16);
    convert(p->w.data(), p->w.dtype(), w.data() + row * d.in, DType::BF16, static_cast<size_t>(p->w.numel()));
    convert(p->b.data(), DType::F32, b.data() + row, DType::BF16, static_cast<size_t>(p->b.numel()));
    row += p->w.dim(0);
  }
  d.w = device_empty(DType::BF16, d.out * d.in);
  d.b = device_empty(DType::BF16, d.out);
  cuda::copy_to_device(d.w.data(), w.data(), w.size() * 2);
  cuda::copy_to_device(d.b.data(), b.data(), b.size() * 2);
  return d;
}

Tensor upload_f32(const Tensor& t) {
  JENGA_ASSERT(t.dtype() == DType::F32 && t.device() == Device::CPU);
  return upload(t.data_as<float>(), t.numel(), DType::F32);
}

struct DevBlock {
  DevLinear qkv, o, cq, ckv, co, ffn0, ffn2;
  Tensor norm_q, norm_k, cnorm_q, cnorm_k, norm3_w, norm3_b;  // f32 [dim]
  Tensor modulation;                                          // f32 [6 dim]
};

}  // namespace

struct WanDitCuda::Impl {
  WanConfig c;
  cuda::GemmRunner gemm;
  // Weights.
  DevLinear patch, text0, text2, head;
  Tensor time0_w, time0_b, time2_w, time2_b, proj_w, proj_b;  // f32 (official: f32 timestep path)
  Tensor head_modulation;                                     // f32 [2 dim]
  std::vector<DevBlock> blocks;
  size_t weight_bytes = 0;
  // Activations, sized by prepare().
  int64_t F = 0, H = 0, W = 0, L = 0;
  Tensor order, rope, patches, x, h, qkv, att, y, cq, ctx_h, ctx, ckv, ff, head_out;
  Tensor t_sin, t_h, t_e, t_e0, mods, hmod;
  size_t act_bytes = 0;
  int attention_path = 0;
  // Sequence parallel (Ulysses): this rank's tokens [off, off + n), heads per rank hp; the
  // head-shard q/k/v and attention output over all L tokens, the exchange staging buffer,
  // the gathered head output; element counts / displacements per peer of each exchange.
  dist::Communicator* comm = nullptr;
  int64_t n = 0, off = 0, hp = 0;
  Tensor qkvh, atth, stage, head_all;
  std::vector<size_t> qkv_sc, qkv_sd, qkv_rc, qkv_rd, att_sc, att_sd, att_rc, att_rd, head_c, head_d;

  // [n, 3 dim] fused q/k/v (all heads) -> peer-major [peer][n][3][hp][hd] -> all-to-all ->
  // qkvh [L][3][hp][hd] (every token, this rank's heads).
  void qkv_to_heads(const uint16_t* qkv, cudaStream_t s) {
    const int64_t d = c.dim, w = hp * c.head_dim(), ranks = comm->size();
    auto* st = static_cast<uint16_t*>(stage.data());
    for (int64_t p = 0; p < ranks; ++p)
      for (int64_t j = 0; j < 3; ++j)
        JENGA_CUDA_CHECK(cudaMemcpy2DAsync(st + (p * n * 3 + j) * w, static_cast<size_t>(3 * w) * 2,
                                           qkv + j * d + p * w, static_cast<size_t>(3 * d) * 2,
                                           static_cast<size_t>(w) * 2, static_cast<size_t>(n),
                                           cudaMemcpyDeviceToDevice, s));
    comm->all_to_all_v(st, qkv_sc, qkv_sd, qkvh.data(), qkv_rc, qkv_rd, DType::BF16);
  }
  // atth [L][hp][hd] -> all-to-all -> peer-major [peer][n][hp][hd] -> out [n][heads][hd].
  void att_to_seq(void* out, cudaStream_t s) {
    const int64_t d = c.dim, w = hp * c.head_dim(), ranks = comm->size();
    auto* st = static_cast<uint16_t*>(stage.data());
    comm->all_to_all_v(atth.data(), att_sc, att_sd, st, att_rc, att_rd, DType::BF16);
    for (int64_t p = 0; p < ranks; ++p)
      JENGA_CUDA_CHECK(cudaMemcpy2DAsync(static_cast<uint16_t*>(out) + p * w, static_cast<size_t>(d) * 2,
                                         st + p * n * w, static_cast<size_t>(w) * 2, static_cast<size_t>(w) * 2,
                                         static_cast<size_t>(n), cudaMemcpyDeviceToDevice, s));
  }

  void count_weights() {
    weight_bytes = 0;
    auto add = [&](const Tensor& t) { weight_bytes += t.nbytes(); };
    for (auto* l : {&patch, &text0, &text2, &head}) add(l->w), add(l->b);
    for (auto* t : {&time0_w, &time0_b, &time2_w, &time2_b, &proj_w, &proj_b, &head_modulation}) add(*t);
    for (auto& b : blocks) {
      for (auto* l : {&b.qkv, &b.o, &b.cq, &b.ckv, &b.co, &b.ffn0, &b.ffn2}) add(l->w), add(l->b);
      for (auto* t : {&b.norm_q, &b.norm_k, &b.cnorm_q, &b.cnorm_k, &b.norm3_w, &b.norm3_b, &b.modulation}) add(*t);
    }
  }

  void linear(const void* in, const DevLinear& l, void* out, int64_t rows, cuda::Epilogue ep, void* s) {
    gemm.linear(in, l.w.data(), l.b.data(), out, rows, l.out, l.in, ep, s);
  }

  // Attention over bf16 rows: q [lq, heads, hd] (row stride qs), k/v [lk, heads, hd] (ks, vs);
  // heads 0 = all of the model's (out rows dim apart), else a head shard (out rows packed).
  void attend(const void* q, int64_t qs, const void* k, const void* v, int64_t kvs, void* out, int64_t lq,
              int64_t lk, const DeviceBlockLayout* layout, void* s, int64_t heads = 0) {
    const int64_t nh = heads ? heads : c.num_heads, os = nh * c.head_dim();
    cuda::AttentionParams p;
    p.q = static_cast<const uint16_t*>(q);
    p.k = static_cast<const uint16_t*>(k);
    p.v = static_cast<const uint16_t*>(v);
    p.out = static_cast<uint16_t*>(out);
    p.batch = 1;
    p.heads = static_cast<int>(nh);
    p.q_len = static_cast<int>(lq);
    p.k_len = static_cast<int>(lk);
    p.head_dim = static_cast<int>(c.head_dim());
    p.q_row_stride = qs, p.q_head_stride = c.head_dim(), p.q_batch_stride = lq * qs;
    p.k_row_stride = kvs, p.k_head_stride = c.head_dim(), p.k_batch_stride = lk * kvs;
    p.v_row_stride = kvs, p.v_head_stride = c.head_dim(), p.v_batch_stride = lk * kvs;
    p.out_row_stride = os, p.out_head_stride = c.head_dim(), p.out_batch_stride = lq * os;
    p.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.head_dim())));
    p.path = attention_path;
    if (layout) {
      p.block_offsets = layout->offsets;
      p.block_indices = layout->indices;
      p.key_block_bias = layout->key_block_bias;
    }
    cuda::attention_forward(p, s);
  }
};

WanDitCuda::WanDitCuda() : impl_(std::make_unique<Impl>()) {}
WanDitCuda::~WanDitCuda() = default;
const WanConfig& WanDitCuda::config() const { return impl_->c; }
size_t WanDitCuda::weight_bytes() const { return impl_->weight_bytes; }
void WanDitCuda::set_attention_path(int path) {
  if (path < 0 || path > 2) usage_fail("attention path {} must be 0, 1 or 2", path);
  impl_->attention_path = path;
}
size_t WanDitCuda::activation_bytes() const { return impl_->act_bytes; }
int64_t WanDitCuda::local_tokens() const { return impl_->n; }
int64_t WanDitCuda::local_heads() const { return impl_->hp; }

std::unique_ptr<WanDitCuda> WanDitCuda::from_model(const WanDit& model) {
  cuda::init();
  const WanConfig& c = model.config;
  check_supported(c);
  const WanWeights& W = model.weights;
  std::unique_ptr<WanDitCuda> m(new WanDitCuda());
  Impl& I = *m->impl_;
  I.c = c;
  // Patch embedding as a GEMM over (c, i, j, k) patch rows: the Conv3d weight flattened.
  const LinearWeights patch{W.patch_w.reshape({c.dim, -1}), W.patch_b};
  I.patch = upload_linear({&patch});
  I.text0 = upload_linear({&W.text0});
  I.text2 = upload_linear({&W.text2});
  I.head = upload_linear({&W.head});
  I.time0_w = upload_f32(W.time0.w), I.time0_b = upload_f32(W.time0.b);
  I.time2_w = upload_f32(W.time2.w), I.time2_b = upload_f32(W.time2.b);
  I.proj_w = upload_f32(W.time_proj.w), I.proj_b = upload_f32(W.time_proj.b);
  I.head_modulation = upload_f32(W.head_modulation);
  for (const auto& B : W.blocks) {
    DevBlock d;
    d.qkv = upload_linear({&B.sa_q, &B.sa_k, &B.sa_v});
    d.o = upload_linear({&B.sa_o});
    d.cq = upload_linear({&B.ca_q});
    d.ckv = upload_linear({&B.ca_k, &B.ca_v});
    d.co = upload_linear({&B.ca_o});
    d.ffn0 = upload_linear({&B.ffn0});
    d.ffn2 = upload_linear({&B.ffn2});
    d.norm_q = upload_f32(B.sa_norm_q), d.norm_k = upload_f32(B.sa_norm_k);
    d.cnorm_q = upload_f32(B.ca_norm_q), d.cnorm_k = upload_f32(B.ca_norm_k);
    d.norm3_w = upload_f32(B.norm3_w), d.norm3_b = upload_f32(B.norm3_b);
    d.modulation = upload_f32(B.modulation);
    I.blocks.push_back(std::move(d));
  }
  I.count_weights();
  return m;
}

std::unique_ptr<WanDitCuda> WanDitCuda::random(const WanConfig& c, uint64_t seed) {
  cuda::init();
  check_supported(c);
  std::unique_ptr<WanDitCuda> m(new WanDitCuda());
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
  auto lin = [&](int64_t out, int64_t in) {
    DevLinear d;
    d.out = out, d.in = in;
    d.w = device_empty(DType::BF16, out * in);
    d.b = device_empty(DType::BF16, out);
    fill(d.w, 1.0f / std::sqrt(static_cast<float>(in)), 0.0f);
    fill(d.b, 0.02f, 0.0f);
    return d;
  };
  auto vec = [&](int64_t n, float scale, float shift) {
    Tensor t = device_empty(DType::F32, n);
    fill(t, scale, shift);
    return t;
  };
  const int64_t d = c.dim;
  const int64_t pl = c.in_dim * c.patch[0] * c.patch[1] * c.patch[2];
  I.patch = lin(d, pl);
  I.text0 = lin(d, c.text_dim);
  I.text2 = lin(d, d);
  I.head = lin(c.out_dim * c.patch[0] * c.patch[1] * c.patch[2], d);
  I.time0_w = vec(d * c.freq_dim, 1.0f / std::sqrt(static_cast<float>(c.freq_dim)), 0.0f);
  I.time0_b = vec(d, 0.02f, 0.0f);
  I.time2_w = vec(d * d, 1.0f / std::sqrt(static_cast<float>(d)), 0.0f);
  I.time2_b = vec(d, 0.02f, 0.0f);
  I.proj_w = vec(6 * d * d, 1.0f / std::sqrt(static_cast<float>(d)), 0.0f);
  I.proj_b = vec(6 * d, 0.02f, 0.0f);
  I.head_modulation = vec(2 * d, 1.0f / std::sqrt(static_cast<float>(d)), 0.0f);
  for (int64_t l = 0; l < c.num_layers; ++l) {
    DevBlock b;
    b.qkv = lin(3 * d, d), b.o = lin(d, d), b.cq = lin(d, d), b.ckv = lin(2 * d, d), b.co = lin(d, d);
    b.ffn0 = lin(c.ffn_dim, d), b.ffn2 = lin(d, c.ffn_dim);
    b.norm_q = vec(d, 0.1f, 1.0f), b.norm_k = vec(d, 0.1f, 1.0f);
    b.cnorm_q = vec(d, 0.1f, 1.0f), b.cnorm_k = vec(d, 0.1f, 1.0f);
    b.norm3_w = vec(d, 0.1f, 1.0f), b.norm3_b = vec(d, 0.02f, 0.0f);
    b.modulation = vec(6 * d, 1.0f / std::sqrt(static_cast<float>(d)), 0.0f);
    I.blocks.push_back(std::move(b));
  }
  I.count_weights();
  cuda::synchronize();
  return m;
}

void WanDitCuda::prepare(int64_t frames, int64_t height, int64_t width, std::span<const int64_t> token_order,
                         dist::Communicator* comm) {
  Impl& I = *impl_;
  const WanConfig& c = I.c;
  if (frames <= 0 || height <= 0 || width <= 0) fail("DiT prepare: empty token grid {}x{}x{}", frames, height, width);
  const int64_t L = frames * height * width;
  if (!token_order.empty() && static_cast<int64_t>(token_order.size()) != L)
    fail("DiT prepare: token order has {} entries for {} tokens", token_order.size(), L);
  if (comm && !comm->device_buffers())
    fail("DiT prepare: the CUDA DiT needs a device communicator (NCCL), not {}", comm->name());
  if (comm && c.num_heads % comm->size() != 0)
    fail("sequence parallel: the model's {} attention heads do not divide over {} processes; "
         "run a number of processes that divides {} (or --parallel prompts)",
         c.num_heads, comm->size(), c.num_heads);
  I.F = frames, I.H = height, I.W = width, I.L = L;
  I.comm = comm;
  const int ranks = comm ? comm->size() : 1, rank = comm ? comm->rank() : 0;
  const dist::Split split = dist::split_even(L, ranks);
  I.n = split.count[static_cast<size_t>(rank)], I.off = split.offset[static_cast<size_t>(rank)];
  I.hp = c.num_heads / ranks;
  const int64_t n = I.n;
  const int64_t d = c.dim, TL = c.text_len;
  const int64_t pl = c.in_dim * c.patch[0] * c.patch[1] * c.patch[2];
  const int64_t ol = c.out_dim * c.patch[0] * c.patch[1] * c.patch[2];
  // RoPE angles in double on the host in the token order, uploaded as (cos, sin) f32 pairs:
  // the rows of this rank's tokens (their global positions).
  const cpu::RopeTable rt = cpu::rope_table_3d(c.head_dim(), frames, height, width, token_order);
  std::vector<float> cs(static_cast<size_t>(n * rt.pairs * 2));
  for (int64_t i = 0; i < n * rt.pairs; ++i) {
    cs[2 * i] = static_cast<float>(rt.cos[I.off * rt.pairs + i]);
    cs[2 * i + 1] = static_cast<float>(rt.sin[I.off * rt.pairs + i]);
  }
  I.rope = upload(cs.data(), static_cast<int64_t>(cs.size()), DType::F32);
  I.order = Tensor();
  if (!token_order.empty()) {
    I.order = device_empty(DType::I64, L);
    cuda::copy_to_device(I.order.data(), token_order.data(), static_cast<size_t>(L) * 8);
  }
  I.patches = device_empty(DType::BF16, L * pl);
  I.x = device_empty(DType::F32, n * d);
  I.h = device_empty(DType::BF16, n * d);
  I.qkv = device_empty(DType::BF16, n * 3 * d);
  I.att = device_empty(DType::BF16, n * d);
  I.y = device_empty(DType::BF16, n * d);
  I.cq = device_empty(DType::BF16, n * d);
  I.ctx_h = device_empty(DType::BF16, TL * d);
  I.ctx = device_empty(DType::BF16, TL * d);
  I.ckv = device_empty(DType::BF16, TL * 2 * d);
  I.ff = device_empty(DType::BF16, n * c.ffn_dim);
  I.head_out = device_empty(DType::BF16, n * ol);
  I.t_sin = device_empty(DType::F32, c.freq_dim);
  I.t_h = device_empty(DType::F32, d);
  I.t_e = device_empty(DType::F32, d);
  I.t_e0 = device_empty(DType::F32, 6 * d);
  I.mods = device_empty(DType::F32, c.num_layers * 6 * d);
  I.hmod = device_empty(DType::F32, 2 * d);
  I.qkvh = I.atth = I.stage = I.head_all = Tensor();
  for (auto* v : {&I.qkv_sc, &I.qkv_sd, &I.qkv_rc, &I.qkv_rd, &I.att_sc, &I.att_sd, &I.att_rc, &I.att_rd, &I.head_c,
                  &I.head_d})
    v->clear();
  if (comm) {
    const int64_t w = I.hp * c.head_dim();
    I.qkvh = device_empty(DType::BF16, L * 3 * w);
    I.atth = device_empty(DType::BF16, L * w);
    I.stage = device_empty(DType::BF16, ranks * n * 3 * w);
    I.head_all = device_empty(DType::BF16, L * ol);
    for (int p = 0; p < ranks; ++p) {
      const auto cp = static_cast<size_t>(split.count[p]), op = static_cast<size_t>(split.offset[p]);
      const auto nn = static_cast<size_t>(n), pp = static_cast<size_t>(p), uw = static_cast<size_t>(w);
      I.qkv_sc.push_back(nn * 3 * uw), I.qkv_sd.push_back(pp * nn * 3 * uw);
      I.qkv_rc.push_back(cp * 3 * uw), I.qkv_rd.push_back(op * 3 * uw);
      I.att_sc.push_back(cp * uw), I.att_sd.push_back(op * uw);
      I.att_rc.push_back(nn * uw), I.att_rd.push_back(pp * nn * uw);
      I.head_c.push_back(cp * static_cast<size_t>(ol)), I.head_d.push_back(op * static_cast<size_t>(ol));
    }
  }
  I.act_bytes = 0;
  for (auto* t : {&I.rope, &I.order, &I.patches, &I.x, &I.h, &I.qkv, &I.att, &I.y, &I.cq, &I.ctx_h, &I.ctx,
                  &I.ckv, &I.ff, &I.head_out, &I.t_sin, &I.t_h, &I.t_e, &I.t_e0, &I.mods, &I.hmod, &I.qkvh, &I.atth,
                  &I.stage, &I.head_all})
    I.act_bytes += t->nbytes();
}

double WanDitCuda::dense_flops() const {
  const Impl& I = *impl_;
  const WanConfig& c = I.c;
  const double L = static_cast<double>(I.L), TL = static_cast<double>(c.text_len), d = static_cast<double>(c.dim);
  const double ffn = static_cast<double>(c.ffn_dim);
  const double per_layer = 2 * L * d * (3 * d + d + d + d) + 2 * TL * d * 2 * d + 2 * 2 * L * d * ffn +
                           4 * L * L * d + 4 * L * TL * d;
  const double pl = static_cast<double>(c.in_dim * c.patch[0] * c.patch[1] * c.patch[2]);
  const double ol = static_cast<double>(c.out_dim * c.patch[0] * c.patch[1] * c.patch[2]);
  return per_layer * static_cast<double>(c.num_layers) + 2 * L * pl * d + 2 * TL * (c.text_dim + d) * d + 2 * L * d * ol;
}

void WanDitCuda::forward(const float* x, const float* t, const void* context, float* out, void* s,
                         const CudaDitHooks* hooks) {
  Impl& I = *impl_;
  const WanConfig& c = I.c;
  if (I.L == 0) fail("DiT forward called before prepare()");
  // n: this rank's tokens (all L without sequence parallel); every per-token op runs on them.
  const int64_t L = I.L, n = I.n, d = c.dim, TL = c.text_len, heads = c.num_heads, hd = c.head_dim();
  const float eps = static_cast<float>(c.eps);
  const int64_t* order = I.order.numel() ? I.order.data_as<int64_t>() : nullptr;
  const int64_t pl = c.in_dim * c.patch[0] * c.patch[1] * c.patch[2];
  const auto stream = static_cast<cudaStream_t>(s);
  using cuda::Epilogue;

  auto mark = [&](const char* phase) {
    if (hooks && hooks->mark) hooks->mark(phase, s);
  };
  mark("embed");
  // Patch embedding (gathered straight into token order) -> f32 residual stream.
  cuda::patchify(x, I.patches.data(), order, c.in_dim, I.F, I.H, I.W, static_cast<int>(c.patch[0]),
                 static_cast<int>(c.patch[1]), static_cast<int>(c.patch[2]), s);
  I.linear(static_cast<uint16_t*>(I.patches.data()) + I.off * pl, I.patch, I.h.data(), n, Epilogue::Bias, s);
  JENGA_CUDA_CHECK(cudaMemsetAsync(I.x.data(), 0, I.x.nbytes(), stream));
  cuda::gated_residual_add(I.x.data_as<float>(), I.h.data(), nullptr, n, d, s);

  // Timestep path in f32: e = MLP(sinusoid(t)), e0 = Linear(SiLU(e)); per-block modulation.
  cuda::sinusoidal_embedding(t, I.t_sin.data_as<float>(), c.freq_dim, s);
  cuda::linear_vec_f32(I.t_sin.data_as<float>(), I.time0_w.data_as<float>(), I.time0_b.data_as<float>(),
                       I.t_h.data_as<float>(), d, c.freq_dim, false, s);
  cuda::linear_vec_f32(I.t_h.data_as<float>(), I.time2_w.data_as<float>(), I.time2_b.data_as<float>(),
                       I.t_e.data_as<float>(), d, d, true, s);
  cuda::linear_vec_f32(I.t_e.data_as<float>(), I.proj_w.data_as<float>(), I.proj_b.data_as<float>(),
                       I.t_e0.data_as<float>(), 6 * d, d, true, s);
  for (size_t l = 0; l < I.blocks.size(); ++l)
    cuda::add_broadcast(I.blocks[l].modulation.data_as<float>(), I.t_e0.data_as<float>(),
                        I.mods.data_as<float>() + l * 6 * d, 6 * d, 6 * d, s);
  cuda::add_broadcast(I.head_modulation.data_as<float>(), I.t_e.data_as<float>(), I.hmod.data_as<float>(), 2 * d, d, s);

  // Text context: Linear -> GELU(tanh) -> Linear over all text_len rows.
  I.linear(context, I.text0, I.ctx_h.data(), TL, Epilogue::BiasGeluTanh, s);
  I.linear(I.ctx_h.data(), I.text2, I.ctx.data(), TL, Epilogue::Bias, s);

  // Step reuse: the blocks' cached residual instead of the blocks.
  const bool skip_blocks = hooks && hooks->residual && hooks->reuse_residual;
  const bool store_residual = hooks && hooks->residual && !hooks->reuse_residual;
  if (skip_blocks) cuda::axpby(I.x.data_as<float>(), 1.0f, hooks->residual, 1.0f, n * d, s);
  if (store_residual) cuda::axpby(hooks->residual, 1.0f, I.x.data_as<float>(), 0.0f, n * d, s);

  if (I.comm && I.hp != heads && hooks && hooks->self_attention)
    fail("sequence parallel with {} processes: this attention replacement (--attention svg) needs every head on one "
         "process; run one process or --parallel prompts", I.comm->size());
  auto* q = static_cast<uint16_t*>(I.qkv.data());
  for (size_t l = 0; l < (skip_blocks ? 0 : I.blocks.size()); ++l) {
    const DevBlock& B = I.blocks[l];
    const float* mod = I.mods.data_as<float>() + l * 6 * d;
    // Self-attention.
    mark("norm");
    cuda::layer_norm_modulate(I.x.data_as<float>(), nullptr, nullptr, mod, mod + d, I.h.data(), n, d, eps, s);
    mark("gemm qkv");
    I.linear(I.h.data(), B.qkv, q, n, Epilogue::Bias, s);
    mark("qk norm+rope");
    cuda::qk_norm_rope(q, 3 * d, B.norm_q.data_as<float>(), B.norm_k.data_as<float>(), I.rope.data_as<float>(), n,
                       heads, hd, eps, s);
    // Self-attention over every token. Under Ulysses: this rank's heads (q/k/v exchanged from
    // sequence shards to head shards and back), masks per head as on one GPU; else all heads in place.
    const int64_t w = I.comm ? I.hp * hd : d;  // q row width; k and v follow, rows 3w apart
    uint16_t* qa = q;
    void* att = I.att.data();
    if (I.comm) {
      mark("all-to-all qkv");
      I.qkv_to_heads(q, stream);
      qa = static_cast<uint16_t*>(I.qkvh.data()), att = I.atth.data();
    }
    mark("self-attn");
    if (!hooks || !hooks->self_attention ||
        !hooks->self_attention(static_cast<int>(l), qa, qa + w, qa + 2 * w, 3 * w, att, w, L, s)) {
      DeviceBlockLayout layout;
      if (hooks && hooks->self_attn_layout) layout = hooks->self_attn_layout(static_cast<int>(l), qa, qa + w, L, 3 * w, s);
      I.attend(qa, 3 * w, qa + w, qa + 2 * w, 3 * w, att, L, L, layout.offsets ? &layout : nullptr, s, I.comm ? I.hp : 0);
    }
    if (I.comm) {
      mark("all-to-all out");
      I.att_to_seq(I.att.data(), stream);
    }
    mark("gemm o");
    I.linear(I.att.data(), B.o, I.y.data(), n, Epilogue::Bias, s);
    // Gated residual, then cross-attention to the text context (affine LayerNorm, no modulation, no gate).
    mark("residual+norm");
    cuda::add_layer_norm_modulate(I.x.data_as<float>(), I.y.data(), mod + 2 * d, B.norm3_w.data_as<float>(),
                                  B.norm3_b.data_as<float>(), nullptr, nullptr, I.h.data(), n, d, eps, s);
    mark("gemm cross q");
    I.linear(I.h.data(), B.cq, I.cq.data(), n, Epilogue::Bias, s);
    mark("cross q norm");
    cuda::rms_norm(I.cq.data(), d, B.cnorm_q.data_as<float>(), I.cq.data(), d, n, d, eps, s);
    auto* kv = static_cast<uint16_t*>(I.ckv.data());
    mark("cross k/v");
    I.linear(I.ctx.data(), B.ckv, kv, TL, Epilogue::Bias, s);
    cuda::rms_norm(kv, 2 * d, B.cnorm_k.data_as<float>(), kv, 2 * d, TL, d, eps, s);
    mark("cross-attn");
    I.attend(I.cq.data(), d, kv, kv + d, 2 * d, I.att.data(), n, TL, nullptr, s);
    mark("gemm cross o");
    I.linear(I.att.data(), B.co, I.y.data(), n, Epilogue::Bias, s);
    // Residual (no gate), then the FFN.
    mark("residual+norm");
    cuda::add_layer_norm_modulate(I.x.data_as<float>(), I.y.data(), nullptr, nullptr, nullptr, mod + 3 * d, mod + 4 * d,
                                  I.h.data(), n, d, eps, s);
    mark("gemm ffn1+gelu");
    I.linear(I.h.data(), B.ffn0, I.ff.data(), n, Epilogue::BiasGeluTanh, s);
    mark("gemm ffn2");
    I.linear(I.ff.data(), B.ffn2, I.y.data(), n, Epilogue::Bias, s);
    mark("residual");
    cuda::gated_residual_add(I.x.data_as<float>(), I.y.data(), mod + 5 * d, n, d, s);
    mark("other");
    if (hooks && hooks->after_block) hooks->after_block(static_cast<int>(l), I.x.data_as<float>(), n, s);
  }
  if (store_residual) cuda::axpby(hooks->residual, 1.0f, I.x.data_as<float>(), -1.0f, n * d, s);

  // Head (modulated by e, not e0) on the shard, gathered under sequence parallel, then
  // unpatchify, scattering tokens back to raster order.
  mark("head");
  const float* hm = I.hmod.data_as<float>();
  cuda::layer_norm_modulate(I.x.data_as<float>(), nullptr, nullptr, hm, hm + d, I.h.data(), n, d, eps, s);
  I.linear(I.h.data(), I.head, I.head_out.data(), n, Epilogue::Bias, s);
  const void* head = I.head_out.data();
  if (I.comm) {
    I.comm->all_gather_v(I.head_out.data(), I.head_all.data(), I.head_c, I.head_d, DType::BF16);
    head = I.head_all.data();
  }
  cuda::unpatchify(head, out, order, c.out_dim, I.F, I.H, I.W, static_cast<int>(c.patch[0]),
                   static_cast<int>(c.patch[1]), static_cast<int>(c.patch[2]), s);
  mark("end");
}

std::vector<float> WanDitCuda::time_embedding(double t, bool projected) {
  Impl& I = *impl_;
  const WanConfig& c = I.c;
  const int64_t d = c.dim;
  Tensor dt = device_empty(DType::F32, 1), sin = device_empty(DType::F32, c.freq_dim);
  Tensor h = device_empty(DType::F32, d), e = device_empty(DType::F32, d), e0 = device_empty(DType::F32, 6 * d);
  const float tv = static_cast<float>(t);
  cuda::copy_to_device(dt.data(), &tv, 4);
  cuda::sinusoidal_embedding(dt.data_as<float>(), sin.data_as<float>(), c.freq_dim);
  cuda::linear_vec_f32(sin.data_as<float>(), I.time0_w.data_as<float>(), I.time0_b.data_as<float>(),
                       h.data_as<float>(), d, c.freq_dim, false);
  cuda::linear_vec_f32(h.data_as<float>(), I.time2_w.data_as<float>(), I.time2_b.data_as<float>(),
                       e.data_as<float>(), d, d, true);
  cuda::linear_vec_f32(e.data_as<float>(), I.proj_w.data_as<float>(), I.proj_b.data_as<float>(),
                       e0.data_as<float>(), 6 * d, d, true);
  std::vector<float> out(static_cast<size_t>(projected ? 6 * d : d));
  cuda::synchronize();
  cuda::copy_to_host(out.data(), (projected ? e0 : e).data(), out.size() * 4);
  return out;
}

Tensor wan_forward_cuda(const WanDit& model, const Tensor& x, double t, const Tensor& context,
                        std::vector<Tensor>* blocks) {
  const WanConfig& c = model.config;
  check_dit_inputs(c, x, t, context);
  auto dit = WanDitCuda::from_model(model);
  const int64_t F = x.dim(1) / c.patch[0], H = x.dim(2) / c.patch[1], W = x.dim(3) / c.patch[2];
  dit->prepare(F, H, W);
  Tensor dx = Tensor::empty(DType::F32, x.shape(), Device::CUDA);
  Tensor dout = Tensor::empty(DType::F32, Shape{c.out_dim, x.dim(1), x.dim(2), x.dim(3)}, Device::CUDA);
  Tensor dt = Tensor::empty(DType::F32, Shape{1}, Device::CUDA);
  Tensor dctx = Tensor::empty(DType::BF16, Shape{c.text_len, c.text_dim}, Device::CUDA);
  cuda::copy_to_device(dx.data(), x.data(), x.nbytes());
  const float tv = static_cast<float>(t);
  cuda::copy_to_device(dt.data(), &tv, 4);
  std::vector<uint16_t> ctx(static_cast<size_t>(c.text_len * c.text_dim), 0);  // zero rows after the prompt
  convert(context.data(), DType::F32, ctx.data(), DType::BF16, static_cast<size_t>(context.numel()));
  cuda::copy_to_device(dctx.data(), ctx.data(), ctx.size() * 2);
  CudaDitHooks hooks;
  if (blocks) {
    blocks->clear();
    hooks.after_block = [&](int, const float* xs, int64_t tokens, void*) {
      Tensor h = Tensor::empty(DType::F32, Shape{tokens, c.dim});
      cuda::synchronize();
      cuda::copy_to_host(h.data(), xs, h.nbytes());
      blocks->push_back(std::move(h));
    };
  }
  dit->forward(dx.data_as<float>(), dt.data_as<float>(), dctx.data(), dout.data_as<float>(), nullptr, &hooks);
  Tensor out = Tensor::empty(DType::F32, dout.shape());
  cuda::synchronize();
  cuda::copy_to_host(out.data(), dout.data(), out.nbytes());
  return out;
}

}  // namespace jenga::wan
