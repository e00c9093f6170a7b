#include "backend/cuda/svg_attention.h"

#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "backend/cuda/attention.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "core/error.h"

namespace jenga::cuda {

namespace {
Tensor dev(DType dt, int64_t n) { return Tensor::empty(dt, Shape{std::max<int64_t>(n, 1)}, Device::CUDA); }
}  // namespace

SvgGridArgs svg_grid_args(const svg::SvgGrid& g, int64_t heads, int64_t head_dim) {
  SvgGridArgs a;
  a.heads = static_cast<int>(heads), a.head_dim = static_cast<int>(head_dim);
  a.frames = g.frames, a.frame_tokens = g.frame_tokens, a.text = g.text;
  a.sink = g.rules == svg::SvgRules::wan ? g.frame_tokens : 0;
  a.band_blocks = svg::profile_band_blocks(g);
  return a;
}

void SvgAttention::set_stage(const SvgGridArgs& g, std::span<const int32_t> rows, const BlockSparseLayout& layout) {
  if (g.text) fail("SVG attention: a grid with text rows needs its branches' valid text (SvgBranch)");
  const SvgBranch b{layout, g.tokens()};
  set_stage(g, rows, std::span<const SvgBranch>(&b, 1));
}

void SvgAttention::set_stage(const SvgGridArgs& g, std::span<const int32_t> rows, std::span<const SvgBranch> branches) {
  const int64_t nv = g.tokens(), n = g.sequence(), q_blocks = (nv + 127) / 128;
  if (g.heads < 1 || nv < 1 || g.text < 0) fail("SVG attention: empty grid");
  if (g.head_dim != 64 && g.head_dim != 128) fail("SVG attention: head dim {} (64 or 128 supported)", g.head_dim);
  if (rows.empty()) fail("SVG attention: no sampled rows");
  if (branches.empty() || branches.size() > 2) fail("SVG attention: {} branches (1 or 2)", branches.size());
  for (int32_t r : rows)
    if (r < 0 || r >= n) fail("SVG attention: sampled row {} is outside [0, {})", r, n);
  for (const SvgBranch& b : branches) {
    const BlockSparseLayout& layout = b.layout;
    layout.validate();
    if (b.keys < nv || b.keys > n || (g.text > 0 && b.keys == nv))
      fail("SVG attention: a branch over {} keys for {} video + {} text rows", b.keys, nv, g.text);
    if (layout.batch != 1 || layout.heads != g.heads || layout.q_blocks != q_blocks ||
        layout.k_blocks != (b.keys + 127) / 128 || layout.block_m != 128 || layout.block_n != 128)
      fail("SVG attention: layout is {} heads x {} x {} blocks of {}, expected {} x {} x {} of 128", layout.heads,
           layout.q_blocks, layout.k_blocks, layout.block_m, g.heads, q_blocks, (b.keys + 127) / 128);
  }
  g_ = g;
  num_rows_ = static_cast<int>(rows.size());
  rows_ = dev(DType::I32, num_rows_);
  copy_to_device(rows_.data(), rows.data(), rows.size() * 4);
  branches_.clear();
  for (const SvgBranch& b : branches) {
    const BlockSparseLayout& layout = b.layout;
    DeviceBranch d;
    d.keys = b.keys;
    d.offsets = dev(DType::I32, static_cast<int64_t>(layout.offsets.size()));
    d.indices = dev(DType::I32, static_cast<int64_t>(layout.indices.size()));
    copy_to_device(d.offsets.data(), layout.offsets.data(), layout.offsets.size() * 4);
    if (!layout.indices.empty()) copy_to_device(d.indices.data(), layout.indices.data(), layout.indices.size() * 4);
    branches_.push_back(std::move(d));
  }
  row_err_ = dev(DType::F32, static_cast<int64_t>(g.heads) * num_rows_ * 2);
  patterns_ = dev(DType::I32, g.heads);
  mse_ = dev(DType::F32, 2 * g.heads);
  if (!temporal_.data()) {  // running total across stages
    temporal_ = dev(DType::I64, 1);
    JENGA_CUDA_CHECK(cudaMemset(temporal_.data(), 0, 8));
  }
  const int64_t elems = static_cast<int64_t>(g.heads) * n * g.head_dim;
  pq_ = dev(DType::BF16, elems), pk_ = dev(DType::BF16, elems), pv_ = dev(DType::BF16, elems), po_ = dev(DType::BF16, elems);
  density_ = branches.front().layout.density();
}

namespace {

// Dense attention of rows [r0, r1) over keys [k0, k1) of the DiT layout [rows, heads, d] (rows
// `rs` apart; out rows `ors` apart): HunyuanVideo's text rows, which no placement moves.
void dense_rows(const uint16_t* q, const uint16_t* k, const uint16_t* v, int64_t rs, uint16_t* out, int64_t ors,
                const SvgGridArgs& g, int64_t r0, int64_t r1, int64_t k0, int64_t k1, int path, void* stream) {
  if (r1 <= r0 || k1 <= k0) return;
  AttentionParams p;
  p.q = q + r0 * rs, p.k = k + k0 * rs, p.v = v + k0 * rs, p.out = out + r0 * ors;
  p.batch = 1, p.heads = g.heads, p.q_len = static_cast<int>(r1 - r0), p.k_len = static_cast<int>(k1 - k0);
  p.head_dim = g.head_dim;
  p.q_row_stride = p.k_row_stride = p.v_row_stride = rs;
  p.q_head_stride = p.k_head_stride = p.v_head_stride = p.out_head_stride = g.head_dim;
  p.q_batch_stride = p.q_len * rs, p.k_batch_stride = p.v_batch_stride = p.k_len * rs;
  p.out_row_stride = ors, p.out_batch_stride = p.q_len * ors;
  p.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(g.head_dim)));
  p.path = path;
  attention_forward(p, stream);
}

}  // namespace

void SvgAttention::run(const uint16_t* q, const uint16_t* k, const uint16_t* v, int64_t rs, uint16_t* out, int64_t ors,
                       void* stream, int branch, int path) {
  if (!ready()) fail("SVG attention: run() before set_stage()");
  if (branch < 0 || branch >= static_cast<int>(branches_.size()))
    fail("SVG attention: branch {} of {} set", branch, branches_.size());
  const int64_t width = static_cast<int64_t>(g_.heads) * g_.head_dim;
  if (rs % 8 || ors % 8 || rs < width || ors < width)
    fail("SVG attention: row strides {} / {} must be multiples of 8 covering {} heads x {}", rs, ors, g_.heads, g_.head_dim);
  for (const void* p : {static_cast<const void*>(q), static_cast<const void*>(k), static_cast<const void*>(v),
                        static_cast<const void*>(out)})
    if (reinterpret_cast<uintptr_t>(p) % 16) fail("SVG attention: q/k/v/out must be 16-byte aligned");
  const DeviceBranch& b = branches_[static_cast<size_t>(branch)];
  const int64_t nv = g_.tokens(), n = g_.sequence();
  auto* pat = patterns_.data_as<int32_t>();
  svg_profile(q, k, v, rs, g_, rows_.data_as<int32_t>(), num_rows_, row_err_.data_as<float>(), pat, mse_.data_as<float>(),
              reinterpret_cast<unsigned long long*>(temporal_.data()), stream);
  auto* pq = static_cast<uint16_t*>(pq_.data());
  auto* pk = static_cast<uint16_t*>(pk_.data());
  auto* pv = static_cast<uint16_t*>(pv_.data());
  auto* po = static_cast<uint16_t*>(po_.data());
  svg_gather(q, k, v, rs, g_, pat, pq, pk, pv, stream);
  // The video rows (placed) over the placed video keys and the valid text keys; placed tensors
  // are [heads, sequence, head_dim].
  AttentionParams p;
  p.q = pq, p.k = pk, p.v = pv, p.out = po;
  p.batch = 1, p.heads = g_.heads, p.q_len = static_cast<int>(nv), p.k_len = static_cast<int>(b.keys);
  p.head_dim = g_.head_dim;
  p.q_row_stride = p.k_row_stride = p.v_row_stride = p.out_row_stride = g_.head_dim;
  p.q_head_stride = p.k_head_stride = p.v_head_stride = p.out_head_stride = n * g_.head_dim;
  p.q_batch_stride = p.k_batch_stride = p.v_batch_stride = p.out_batch_stride = g_.heads * n * g_.head_dim;
  p.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(g_.head_dim)));
  p.block_offsets = b.offsets.data_as<int32_t>();
  p.block_indices = b.indices.data_as<int32_t>();
  p.path = path;
  attention_forward(p, stream);
  svg_scatter(po, g_, pat, out, ors, stream);
  if (g_.text > 0) {
    dense_rows(q, k, v, rs, out, ors, g_, nv, b.keys, 0, b.keys, path, stream);  // valid text: every real key
    dense_rows(q, k, v, rs, out, ors, g_, b.keys, n, b.keys, n, path, stream);   // padding: the padding
  }
  ++runs_;
}

double SvgAttention::temporal_fraction() {
  if (!temporal_.data() || runs_ == 0) return 0.0;
  unsigned long long t = 0;
  synchronize();
  copy_to_host(&t, temporal_.data(), 8);
  return static_cast<double>(t) / (static_cast<double>(runs_) * g_.heads);
}

}  // namespace jenga::cuda
