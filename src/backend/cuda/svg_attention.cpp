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

void SvgAttention::set_stage(const SvgGridArgs& g, std::span<const int32_t> rows, const BlockSparseLayout& layout) {
  const int64_t n = g.tokens(), blocks = (n + 127) / 128;
  if (g.heads < 1 || n < 1) fail("SVG attention: empty grid");
  if (g.head_dim != 64 && g.head_dim != 128) fail("SVG attention: head dim {} (64 or 128 supported)", g.head_dim);
  if (rows.empty()) fail("SVG attention: no sampled rows");
  for (int32_t r : rows)
    if (r < 0 || r >= n) fail("SVG attention: sampled row {} is outside [0, {})", r, n);
  layout.validate();
  if (layout.batch != 1 || layout.heads != g.heads || layout.q_blocks != blocks || layout.k_blocks != blocks ||
      layout.block_m != 128 || layout.block_n != 128)
    fail("SVG attention: layout is {} heads x {} blocks of {}, expected {} x {} of 128", layout.heads, layout.q_blocks,
         layout.block_m, g.heads, blocks);
  g_ = g;
  num_rows_ = static_cast<int>(rows.size());
  rows_ = dev(DType::I32, num_rows_);
  copy_to_device(rows_.data(), rows.data(), rows.size() * 4);
  offsets_ = dev(DType::I32, static_cast<int64_t>(layout.offsets.size()));
  indices_ = dev(DType::I32, static_cast<int64_t>(layout.indices.size()));
  copy_to_device(offsets_.data(), layout.offsets.data(), layout.offsets.size() * 4);
  if (!layout.indices.empty()) copy_to_device(indices_.data(), layout.indices.data(), layout.indices.size() * 4);
  row_err_ = dev(DType::F32, static_cast<int64_t>(g.heads) * num_rows_ * 2);
  patterns_ = dev(DType::I32, g.heads);
  mse_ = dev(DType::F32, 2 * g.heads);
  if (!temporal_.data()) {  // running total across stages
    temporal_ = dev(DType::I64, 1);
    JENGA_CUDA_CHECK(cudaMemset(temporal_.data(), 0, 8));
  }
  const int64_t elems = static_cast<int64_t>(g.heads) * n * g.head_dim;
  pq_ = dev(DType::BF16, elems), pk_ = dev(DType::BF16, elems), pv_ = dev(DType::BF16, elems), po_ = dev(DType::BF16, elems);
  density_ = layout.density();
}

void SvgAttention::run(const uint16_t* q, const uint16_t* k, const uint16_t* v, int64_t rs, uint16_t* out, int64_t ors,
                       void* stream, int path) {
  if (!ready()) fail("SVG attention: run() before set_stage()");
  const int64_t width = static_cast<int64_t>(g_.heads) * g_.head_dim;
  if (rs % 8 || ors % 8 || rs < width || ors < width)
    fail("SVG attention: row strides {} / {} must be multiples of 8 covering {} heads x {}", rs, ors, g_.heads, g_.head_dim);
  for (const void* p : {static_cast<const void*>(q), static_cast<const void*>(k), static_cast<const void*>(v),
                        static_cast<const void*>(out)})
    if (reinterpret_cast<uintptr_t>(p) % 16) fail("SVG attention: q/k/v/out must be 16-byte aligned");
  auto* pat = patterns_.data_as<int32_t>();
  svg_profile(q, k, v, rs, g_, rows_.data_as<int32_t>(), num_rows_, row_err_.data_as<float>(), pat, mse_.data_as<float>(),
              reinterpret_cast<unsigned long long*>(temporal_.data()), stream);
  auto* pq = static_cast<uint16_t*>(pq_.data());
  auto* pk = static_cast<uint16_t*>(pk_.data());
  auto* pv = static_cast<uint16_t*>(pv_.data());
  auto* po = static_cast<uint16_t*>(po_.data());
  svg_gather(q, k, v, rs, g_, pat, pq, pk, pv, stream);
  AttentionParams p;
  p.q = pq, p.k = pk, p.v = pv, p.out = po;
  p.batch = 1, p.heads = g_.heads, p.q_len = p.k_len = static_cast<int>(g_.tokens()), p.head_dim = g_.head_dim;
  p.set_bhld_strides();
  p.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(g_.head_dim)));
  p.block_offsets = offsets_.data_as<int32_t>();
  p.block_indices = indices_.data_as<int32_t>();
  p.path = path;
  attention_forward(p, stream);
  svg_scatter(po, g_, pat, out, ors, stream);
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
