#include "models/wan/wan_dit_cuda.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "backend/cpu/ops.h"
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
#include "backend/cuda/run_ahead.h"
#include "backend/cuda/patch.h"
#include "backend/cuda/random.h"
#include "backend/cuda/rope.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/tensor.h"
#include "dist/communicator.h"
#include "dist/ulysses_cuda.h"
#include "models/wan/wan_dit.h"
#include "models/wan/wan_dit_cpu.h"

namespace jenga::wan {

namespace {

void check_supported(const WanConfig& c) {
  c.validate();
  if (c.model_type != "t2v") fail("the CUDA DiT supports text-to-video models only (got {})", c.model_type);
  // 64 and 128 run as they are; another even head dim up to 128 (test models) padded
  // (backend/cuda/padded_attention.h).
  if (cuda::attention_head_dim(c.head_dim()) == 0)
    fail("the CUDA DiT needs an even head dim up to 128 (64 and 128 at full speed); this model has {} (use --device "
         "cpu)", c.head_dim());
}

using cuda::device_empty;
using cuda::upload;

// Linear weights of one GEMM: w bf16 [out, in], b bf16 [out] (device pointers).
struct LinearView {
  const void* w = nullptr;
  const void* b = nullptr;
  int64_t out = 0, in = 0;
};

// A resident linear that owns its device memory.
struct DevLinear {
  Tensor w, b;
  int64_t out = 0, in = 0;
  LinearView view() const { return {w.data(), b.data(), out, in}; }
};

// Several nn.Linear of the same input width stacked along the output (fused QKV / KV), as bf16
// into w [out, in] and b [out] (host memory). Weights come as f32 or bf16 (load_wan_dit's matrix
// dtype); bf16 rows are copied as they are.
void pack_linear(std::initializer_list<const LinearWeights*> parts, uint16_t* w, uint16_t* b) {
  const int64_t in = (*parts.begin())->w.dim(1);
  int64_t row = 0;
  for (const auto* p : parts) {
    JENGA_ASSERT(p->w.dim(1) == in && p->b.dtype() == DType::F32);
    JENGA_ASSERT(p->w.dtype() == DType::F32 || p->w.dtype() == DType::BF16);
    convert(p->w.data(), p->w.dtype(), w + row * in, DType::BF16, static_cast<size_t>(p->w.numel()));
    convert(p->b.data(), DType::F32, b + row, DType::BF16, static_cast<size_t>(p->b.numel()));
    row += p->w.dim(0);
  }
}

DevLinear upload_linear(std::initializer_list<const LinearWeights*> parts) {
  DevLinear d;
  d.in = (*parts.begin())->w.dim(1);
  for (const auto* p : parts) d.out += p->w.dim(0);
  std::vector<uint16_t> w(static_cast<size_t>(d.out * d.in)), b(static_cast<size_t>(d.out));
  pack_linear(parts, w.data(), b.data());
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

// The seven GEMMs of a block, packed in one buffer per block: bf16 w [out, in] then b [out] of
// each, every array at a 256-byte boundary (what cudaMalloc gives and cuBLASLt's heuristics
// assume), the same offsets on every block. Resident: one device buffer per block; offload: one
// pinned host buffer per block, streamed into a ring of device buffers of the same layout.
enum BlockMat { kQkv, kO, kCq, kCkv, kCo, kFfn0, kFfn2, kMats };

struct BlockPack {
  int64_t out[kMats] = {}, in[kMats] = {};
  size_t w_off[kMats] = {}, b_off[kMats] = {};
  size_t bytes = 0;

  static BlockPack for_config(const WanConfig& c) {
    const int64_t d = c.dim, f = c.ffn_dim;
    const int64_t shapes[kMats][2] = {{3 * d, d}, {d, d}, {d, d}, {2 * d, d}, {d, d}, {f, d}, {d, f}};
    BlockPack p;
    auto take = [&](int64_t elems) {
      const size_t at = p.bytes;
      p.bytes += (static_cast<size_t>(elems) * 2 + 255) / 256 * 256;
      return at;
    };
    for (int m = 0; m < kMats; ++m) {
      p.out[m] = shapes[m][0], p.in[m] = shapes[m][1];
      p.w_off[m] = take(p.out[m] * p.in[m]);
      p.b_off[m] = take(p.out[m]);
    }
    return p;
  }
  LinearView view(const void* base, int m) const {
    const auto* b = static_cast<const uint8_t*>(base);
    return {b + w_off[m], b + b_off[m], out[m], in[m]};
  }
  // The block's matrices as bf16 into a host image of `bytes` (padding zeroed).
  void fill_host(const WanBlockWeights& B, void* image) const {
    auto* base = static_cast<uint8_t*>(image);
    std::memset(base, 0, bytes);
    auto put = [&](int m, std::initializer_list<const LinearWeights*> parts) {
      int64_t rows = 0;  // checked before writing: the checkpoint's shapes against the config's
      for (const auto* p : parts) rows += p->w.dim(0);
      JENGA_ASSERT(rows == out[m] && (*parts.begin())->w.dim(1) == in[m]);
      pack_linear(parts, reinterpret_cast<uint16_t*>(base + w_off[m]), reinterpret_cast<uint16_t*>(base + b_off[m]));
    };
    put(kQkv, {&B.sa_q, &B.sa_k, &B.sa_v});
    put(kO, {&B.sa_o});
    put(kCq, {&B.ca_q});
    put(kCkv, {&B.ca_k, &B.ca_v});
    put(kCo, {&B.ca_o});
    put(kFfn0, {&B.ffn0});
    put(kFfn2, {&B.ffn2});
  }
};

// The small per-block vectors (resident in both modes; modulation is read for every block
// before the first one runs) and, without offload, the block's packed matrices.
struct DevBlock {
  Tensor norm_q, norm_k, cnorm_q, cnorm_k, norm3_w, norm3_b;  // f32 [dim]
  Tensor modulation;                                          // f32 [6 dim]
  Tensor mats;                                                // BlockPack layout; empty with offload
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
  BlockPack pack;
  size_t weight_bytes = 0;
  // Offload: the blocks' packed matrices in pinned host memory, streamed through a ring of
  // device block buffers (backend/cuda/offload_ring.h); null without offload.
  std::unique_ptr<cuda::OffloadRing> offload;
  cuda::RunAheadLimit run_ahead;  // Ctrl-C within a few blocks (backend/cuda/run_ahead.h)
  // Activations, sized by prepare().
  int64_t F = 0, H = 0, W = 0, L = 0;
  Tensor order, rope, patches, x, h, qkv, att, y, cq, ctx_h, ctx, ckv, ff, head_out;
  Tensor t_sin, t_h, t_e, t_e0, mods, hmod;
  size_t act_bytes = 0;
  int attention_path = 0;
  // Every attention call; a test model's head dim (not 64 or 128) runs padded (dense, one process).
  cuda::PaddedAttention attention;
  // Sequence parallel (Ulysses, dist/ulysses_cuda.h): this rank's tokens [off, off + n), heads
  // per rank hp; the head-shard q/k/v and attention output over all L tokens and the gathered
  // head output (activations), the exchanges (sp, null on one process).
  dist::Communicator* comm = nullptr;
  std::unique_ptr<dist::UlyssesDevice> sp;
  int64_t n = 0, off = 0, hp = 0;
  Tensor qkvh, atth, head_all;

  void count_weights() {
    weight_bytes = 0;
    auto add = [&](const Tensor& t) { weight_bytes += t.nbytes(); };
    for (auto* l : {&patch, &text0, &text2, &head}) add(l->w), add(l->b);
    for (auto* t : {&time0_w, &time0_b, &time2_w, &time2_b, &proj_w, &proj_b, &head_modulation}) add(*t);
    for (auto& b : blocks)
      for (auto* t : {&b.norm_q, &b.norm_k, &b.cnorm_q, &b.cnorm_k, &b.norm3_w, &b.norm3_b, &b.modulation, &b.mats})
        add(*t);
    if (offload) weight_bytes += offload->device_bytes();
  }

  void linear(const void* in, const LinearView& l, void* out, int64_t rows, cuda::Epilogue ep, void* s) {
    gemm.linear(in, l.w, l.b, out, rows, l.out, l.in, ep, s);
  }
  void linear(const void* in, const DevLinear& l, void* out, int64_t rows, cuda::Epilogue ep, void* s) {
    linear(in, l.view(), out, rows, ep, s);
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
    attention.forward(p, s);
  }
};

WanDitCuda::WanDitCuda() : impl_(std::make_unique<Impl>()) {}
WanDitCuda::~WanDitCuda() = default;
const WanConfig& WanDitCuda::config() const { return impl_->c; }
size_t WanDitCuda::weight_bytes() const { return impl_->weight_bytes; }
void WanDitCuda::set_attention_path(int path) {
  if (path < 0 || path > cuda::AttentionParams::kMaxPath)
    usage_fail("attention path {} must be 0 (default), 1 (mma.sync) or 2 (mma.sync, 64-key tiles); the other kernels "
               "are in the kernel lab "
               "(bench/kernels/attention)", path);
  impl_->attention_path = path;
}
bool WanDitCuda::offload() const { return impl_->offload != nullptr; }
int WanDitCuda::offload_ring() const { return impl_->offload ? impl_->offload->ring() : 0; }
size_t WanDitCuda::streamed_block_bytes() const { return impl_->pack.bytes; }
size_t WanDitCuda::host_weight_bytes() const { return impl_->offload ? impl_->offload->host_bytes() : 0; }
size_t WanDitCuda::activation_bytes() const { return impl_->act_bytes; }
int64_t WanDitCuda::local_tokens() const { return impl_->n; }
int64_t WanDitCuda::local_heads() const { return impl_->hp; }

std::unique_ptr<WanDitCuda> WanDitCuda::from_model(const WanDit& model, bool offload) {
  cuda::init();
  const WanConfig& c = model.config;
  check_supported(c);
  const WanWeights& W = model.weights;
  std::unique_ptr<WanDitCuda> m(new WanDitCuda());
  Impl& I = *m->impl_;
  I.c = c;
  I.pack = BlockPack::for_config(c);
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
  std::vector<uint8_t> image(offload ? 0 : I.pack.bytes);  // resident: host staging of one block
  if (offload) I.offload = std::make_unique<cuda::OffloadRing>("DiT block");
  for (const auto& B : W.blocks) {
    DevBlock d;
    if (offload) {
      I.pack.fill_host(B, I.offload->add_block(I.pack.bytes));
    } else {
      I.pack.fill_host(B, image.data());
      d.mats = device_empty(DType::U8, static_cast<int64_t>(I.pack.bytes));
      cuda::copy_to_device(d.mats.data(), image.data(), image.size());
    }
    d.norm_q = upload_f32(B.sa_norm_q), d.norm_k = upload_f32(B.sa_norm_k);
    d.cnorm_q = upload_f32(B.ca_norm_q), d.cnorm_k = upload_f32(B.ca_norm_k);
    d.norm3_w = upload_f32(B.norm3_w), d.norm3_b = upload_f32(B.norm3_b);
    d.modulation = upload_f32(B.modulation);
    I.blocks.push_back(std::move(d));
  }
  if (offload) I.offload->finish(2);
  I.count_weights();
  return m;
}

std::unique_ptr<WanDitCuda> WanDitCuda::random(const WanConfig& c, uint64_t seed, bool offload) {
  cuda::init();
  check_supported(c);
  std::unique_ptr<WanDitCuda> m(new WanDitCuda());
  Impl& I = *m->impl_;
  I.c = c;
  I.pack = BlockPack::for_config(c);
  uint64_t offset = 0;
  auto fill_ptr = [&](void* p, DType dt, int64_t n, float scale, float shift) {
    if (dt == DType::BF16)
      cuda::fill_normal_bf16(p, n, seed, offset, scale, shift);
    else
      cuda::fill_normal_f32(static_cast<float*>(p), n, seed, offset, scale, shift);
    offset += static_cast<uint64_t>(n);
  };
  auto fill = [&](Tensor& t, float scale, float shift) { fill_ptr(t.data(), t.dtype(), t.numel(), scale, shift); };
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
  // Offload: each block is drawn into one device block buffer, then copied to its pinned buffer.
  Tensor scratch = offload ? device_empty(DType::U8, static_cast<int64_t>(I.pack.bytes)) : Tensor();
  if (offload) I.offload = std::make_unique<cuda::OffloadRing>("DiT block");
  for (int64_t l = 0; l < c.num_layers; ++l) {
    DevBlock b;
    Tensor& mats = offload ? scratch : b.mats;
    if (!offload) mats = device_empty(DType::U8, static_cast<int64_t>(I.pack.bytes));
    JENGA_CUDA_CHECK(cudaMemset(mats.data(), 0, I.pack.bytes));  // padding
    auto* base = static_cast<uint8_t*>(mats.data());
    for (int k = 0; k < kMats; ++k) {
      fill_ptr(base + I.pack.w_off[k], DType::BF16, I.pack.out[k] * I.pack.in[k],
               1.0f / std::sqrt(static_cast<float>(I.pack.in[k])), 0.0f);
      fill_ptr(base + I.pack.b_off[k], DType::BF16, I.pack.out[k], 0.02f, 0.0f);
    }
    b.norm_q = vec(d, 0.1f, 1.0f), b.norm_k = vec(d, 0.1f, 1.0f);
    b.cnorm_q = vec(d, 0.1f, 1.0f), b.cnorm_k = vec(d, 0.1f, 1.0f);
    b.norm3_w = vec(d, 0.1f, 1.0f), b.norm3_b = vec(d, 0.02f, 0.0f);
    b.modulation = vec(6 * d, 1.0f / std::sqrt(static_cast<float>(d)), 0.0f);
    if (offload)
      JENGA_CUDA_CHECK(cudaMemcpy(I.offload->add_block(I.pack.bytes), mats.data(), I.pack.bytes, cudaMemcpyDeviceToHost));
    I.blocks.push_back(std::move(b));
  }
  scratch = Tensor();
  if (offload) I.offload->finish(2);
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
  if (comm && cuda::attention_head_dim(c.head_dim()) != c.head_dim())
    fail("sequence parallel needs head dim 64 or 128; this model's {} runs padded in one process only (no mpirun)",
         c.head_dim());
  I.F = frames, I.H = height, I.W = width, I.L = L;
  I.comm = comm;
  I.sp.reset();
  if (comm) I.sp = std::make_unique<dist::UlyssesDevice>(*comm, L, c.num_heads, c.head_dim());
  I.n = I.sp ? I.sp->local_tokens() : L, I.off = I.sp ? I.sp->offset() : 0;
  I.hp = I.sp ? I.sp->local_heads() : c.num_heads;
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
  I.attention.reserve(L, std::max(L, c.text_len), c.num_heads, c.head_dim());  // scratch only when padded
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
  I.qkvh = I.atth = I.head_all = Tensor();
  if (comm) {
    const int64_t w = I.hp * c.head_dim();
    I.qkvh = device_empty(DType::BF16, L * 3 * w);
    I.atth = device_empty(DType::BF16, L * w);
    I.head_all = device_empty(DType::BF16, L * ol);
  }
  I.act_bytes = 0;
  for (auto* t : {&I.rope, &I.order, &I.patches, &I.x, &I.h, &I.qkv, &I.att, &I.y, &I.cq, &I.ctx_h, &I.ctx,
                  &I.ckv, &I.ff, &I.head_out, &I.t_sin, &I.t_h, &I.t_e, &I.t_e0, &I.mods, &I.hmod, &I.qkvh, &I.atth,
                  &I.head_all})
    I.act_bytes += t->nbytes();
  if (I.sp) I.act_bytes += I.sp->stage_bytes();
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
  const int64_t* order = I.order.defined() ? I.order.data_as<int64_t>() : nullptr;
  const int64_t pl = c.in_dim * c.patch[0] * c.patch[1] * c.patch[2];
  const auto stream = static_cast<cudaStream_t>(s);
  using cuda::Epilogue;

  auto mark = [&](const char* phase) {
    if (hooks && hooks->mark) hooks->mark(phase, s);
  };
  // Step reuse: the blocks' cached residual instead of the blocks.
  const bool skip_blocks = hooks && hooks->residual && hooks->reuse_residual;
  const bool store_residual = hooks && hooks->residual && !hooks->reuse_residual;
  const size_t nb = skip_blocks ? 0 : I.blocks.size();
  // Offload: blocks 0 .. ring-1 start copying now, behind everything enqueued before this
  // forward (which includes the previous forward's last reads of the ring), under the
  // embeddings. Events only: the copy stream joins a graph capture through `start`, and every
  // copy it makes is waited for by a later block, so a captured forward ends joined.
  const bool stream_blocks = I.offload && nb > 0;
  if (stream_blocks) I.offload->begin(nb, s);

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
  if (skip_blocks) cuda::axpby(I.x.data_as<float>(), 1.0f, hooks->residual, 1.0f, n * d, s);
  if (store_residual) cuda::axpby(hooks->residual, 1.0f, I.x.data_as<float>(), 0.0f, n * d, s);

  if (I.attention.active() && hooks && (hooks->self_attention || hooks->self_attn_layout))
    fail("Wan DiT (CUDA): head dim {} runs padded to {}, dense only; Jenga's and Sparse VideoGen's sparse attention "
         "need head dim 64 or 128 (run it without a preset, or on --device cpu)", hd, cuda::attention_head_dim(hd));
  if (I.comm && I.hp != heads && hooks && hooks->self_attention)
    fail("sequence parallel with {} processes: this attention replacement (--attention svg) needs every head on one "
         "process; run one process or --parallel prompts", I.comm->size());
  auto* q = static_cast<uint16_t*>(I.qkv.data());
  for (size_t l = 0; l < nb; ++l) {
    const DevBlock& B = I.blocks[l];
    const float* mod = I.mods.data_as<float>() + l * 6 * d;
    // Ctrl-C between blocks, with the host at most a few blocks ahead of the GPU (what is
    // queued drains in about a second when the caller's buffers go away).
    I.run_ahead.mark(s);
    if (stream_blocks) mark("weights wait");  // time the compute stream stalls on the copy (bench dit --breakdown)
    const void* mats = stream_blocks ? I.offload->acquire(l, s) : B.mats.data();
    auto M = [&](int k) { return I.pack.view(mats, k); };
    // Self-attention.
    mark("norm");
    cuda::layer_norm_modulate(I.x.data_as<float>(), nullptr, nullptr, mod, mod + d, I.h.data(), n, d, eps, s);
    mark("gemm qkv");
    I.linear(I.h.data(), M(kQkv), q, n, Epilogue::Bias, s);
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
      I.sp->qkv_to_heads(q, 3 * d, I.qkvh.data(), s);
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
      I.sp->heads_to_seq(I.atth.data(), I.att.data(), d, s);
    }
    mark("gemm o");
    I.linear(I.att.data(), M(kO), I.y.data(), n, Epilogue::Bias, s);
    // Gated residual, then cross-attention to the text context (affine LayerNorm, no modulation, no gate).
    mark("residual+norm");
    cuda::add_layer_norm_modulate(I.x.data_as<float>(), I.y.data(), mod + 2 * d, B.norm3_w.data_as<float>(),
                                  B.norm3_b.data_as<float>(), nullptr, nullptr, I.h.data(), n, d, eps, s);
    mark("gemm cross q");
    I.linear(I.h.data(), M(kCq), I.cq.data(), n, Epilogue::Bias, s);
    mark("cross q norm");
    cuda::rms_norm(I.cq.data(), d, B.cnorm_q.data_as<float>(), I.cq.data(), d, n, d, eps, s);
    auto* kv = static_cast<uint16_t*>(I.ckv.data());
    mark("cross k/v");
    I.linear(I.ctx.data(), M(kCkv), kv, TL, Epilogue::Bias, s);
    cuda::rms_norm(kv, 2 * d, B.cnorm_k.data_as<float>(), kv, 2 * d, TL, d, eps, s);
    mark("cross-attn");
    I.attend(I.cq.data(), d, kv, kv + d, 2 * d, I.att.data(), n, TL, nullptr, s);
    mark("gemm cross o");
    I.linear(I.att.data(), M(kCo), I.y.data(), n, Epilogue::Bias, s);
    // Residual (no gate), then the FFN.
    mark("residual+norm");
    cuda::add_layer_norm_modulate(I.x.data_as<float>(), I.y.data(), nullptr, nullptr, nullptr, mod + 3 * d, mod + 4 * d,
                                  I.h.data(), n, d, eps, s);
    mark("gemm ffn1+gelu");
    I.linear(I.h.data(), M(kFfn0), I.ff.data(), n, Epilogue::BiasGeluTanh, s);
    mark("gemm ffn2");
    I.linear(I.ff.data(), M(kFfn2), I.y.data(), n, Epilogue::Bias, s);
    // The block's last read of its matrices is enqueued: its slot takes block l + ring.
    if (stream_blocks) I.offload->release(l, s);
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
    I.sp->gather_tokens(I.head_out.data(), I.head_all.data(), c.out_dim * c.patch[0] * c.patch[1] * c.patch[2]);
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
