#include "backend/cuda/carve_mask_gpu.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/mask_builder.h"
#include "core/error.h"
#include "core/tensor.h"

namespace jenga::cuda {

namespace {
template <typename T>
Tensor to_device(const T* p, size_t count, DType dt) {
  Tensor t = Tensor::empty(dt, Shape{static_cast<int64_t>(std::max<size_t>(count, 1))}, Device::CUDA);
  if (count) copy_to_device(t.data(), p, count * sizeof(T));
  return t;
}
}  // namespace

CarveMask build_carve_mask_gpu(const uint16_t* q, const uint16_t* k, int64_t batch, int64_t heads, int64_t n,
                               int64_t head_dim, const CarveParams& prm) {
  if (prm.block != 128) usage_fail("the GPU AttenCarve builder uses 128-token blocks (got {})", prm.block);
  if (batch < 1 || heads < 1 || n < 1) usage_fail("AttenCarve: q/k of shape [{}, {}, {}, {}] is empty", batch, heads, n, head_dim);
  if (head_dim != 64 && head_dim != 128) usage_fail("the GPU AttenCarve builder needs head dim 64 or 128 (got {})", head_dim);
  // As the official builder: p = 0 keeps the top block (and top_k), p >= 1 every block.
  if (!(prm.p >= 0.0 && std::isfinite(prm.p))) usage_fail("--p {}: must be a number >= 0 (0 keeps the top block, 1 every block)", prm.p);
  const int64_t blocks = (n + 127) / 128;
  if (prm.text_blocks < 0 || prm.text_blocks >= blocks)
    usage_fail("--text-blocks {}: must be in [0, {}) for {} tokens ({} blocks of 128)", prm.text_blocks, blocks, n, blocks);
  const int64_t normal = blocks - prm.text_blocks;
  if (prm.first_frame_blocks < 0 || prm.first_frame_blocks > normal)
    usage_fail("--first-frame-blocks {}: must be in [0, {}] (the vision blocks)", prm.first_frame_blocks, normal);
  if (prm.neighbors && prm.neighbors->blocks != normal)
    usage_fail("the neighbour sets cover {} blocks but the input has {} vision blocks", prm.neighbors->blocks, normal);
  init();
  const size_t elems = static_cast<size_t>(batch * heads * n * head_dim);
  Tensor dq = to_device(q, elems, DType::BF16), dk = to_device(k, elems, DType::BF16);
  const int64_t rows = batch * heads * blocks;
  Tensor off = Tensor::empty(DType::I32, Shape{rows + 1}, Device::CUDA);
  Tensor idx = Tensor::empty(DType::I32, Shape{rows * blocks}, Device::CUDA);
  Tensor noff, nidx;
  BlockMaskArgs a;
  a.q = dq.data_as<uint16_t>(), a.k = dk.data_as<uint16_t>();
  a.q_row_stride = a.k_row_stride = head_dim;
  a.q_head_stride = a.k_head_stride = n * head_dim;
  a.q_batch_stride = a.k_batch_stride = heads * n * head_dim;
  a.batch = static_cast<int>(batch), a.heads = static_cast<int>(heads), a.len = static_cast<int>(n);
  a.head_dim = static_cast<int>(head_dim);
  a.select_blocks = static_cast<int>(normal);
  a.zero_padded = true;  // as the CPU builder: the padding counts in the last block's mean
  a.round_bf16 = prm.bf16_rounding;
  a.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));
  a.prob_threshold = static_cast<float>(prm.p);
  a.top_k = static_cast<int>(prm.top_k);
  a.first_frame_blocks = static_cast<int>(prm.first_frame_blocks);
  if (prm.neighbors) {
    noff = to_device(prm.neighbors->offsets.data(), prm.neighbors->offsets.size(), DType::I32);
    nidx = to_device(prm.neighbors->indices.data(), prm.neighbors->indices.size(), DType::I32);
    a.neighbor_offsets = noff.data_as<int32_t>(), a.neighbor_indices = nidx.data_as<int32_t>();
  }
  a.offsets = off.data_as<int32_t>(), a.indices = idx.data_as<int32_t>();
  const size_t ws_bytes = block_mask_workspace_bytes(a);
  Tensor ws = Tensor::empty(DType::U8, Shape{static_cast<int64_t>(std::max<size_t>(ws_bytes, 1))}, Device::CUDA);
  build_block_mask(a, ws.data(), ws_bytes);
  synchronize();
  BlockSparseLayout l;
  l.batch = batch, l.heads = heads, l.q_blocks = l.k_blocks = blocks;
  l.offsets.resize(static_cast<size_t>(rows + 1));
  copy_to_host(l.offsets.data(), off.data(), l.offsets.size() * 4);
  l.indices.resize(static_cast<size_t>(l.offsets.back()));
  if (!l.indices.empty()) copy_to_host(l.indices.data(), idx.data(), l.indices.size() * 4);
  l.validate();
  CarveMask m;
  m.batch = batch, m.heads = heads, m.blocks = blocks, m.normal_blocks = normal;
  m.onehot = l.to_onehot();
  return m;
}

}  // namespace jenga::cuda
