// Host side of the mask builder: argument checks (before any launch), the workspace plan and
// the build_block_mask chain. No allocation or synchronisation.
#include <cuda_runtime.h>

#include <cstdint>

#include "backend/cuda/mask/kernels.h"
#include "backend/cuda/mask_builder.h"
#include "core/error.h"

namespace jenga::cuda {
namespace {

cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

void check_strided(const char* what, const void* p, int64_t sb, int64_t sh, int64_t sr) {
  if (p == nullptr) usage_fail("{}: null input pointer", what);
  if (reinterpret_cast<uintptr_t>(p) % 16 != 0 || sb % 8 || sh % 8 || sr % 8 || sr <= 0)
    usage_fail("{}: input must be 16-byte aligned with strides that are multiples of 8 elements", what);
}

// Scratch of build_block_mask, each piece 256-byte aligned.
struct Plan {
  size_t qm = 0, km = 0, scores = 0, mask = 0, counts = 0, scan = 0, total = 0;
  size_t scan_bytes = 0;
};
size_t align256(size_t x) { return (x + 255) / 256 * 256; }
Plan plan(const BlockMaskArgs& a) {
  const int64_t g = int64_t{a.batch} * a.heads, nb = (a.len + 127) / 128;
  const int64_t sel = a.select_blocks > 0 ? a.select_blocks : nb;
  Plan p;
  size_t at = 0;
  auto take = [&](size_t bytes) { const size_t o = at; at += align256(bytes); return o; };
  p.qm = take(g * sel * a.head_dim * 4);
  p.km = take(g * nb * a.head_dim * 4);
  p.scores = take(g * sel * sel * 4);
  p.mask = take(g * nb * nb);
  p.counts = take(g * nb * 4);
  p.scan_bytes = mask::scan_workspace_bytes(static_cast<int>(g * nb));
  p.scan = take(p.scan_bytes);
  p.total = at;
  return p;
}

}  // namespace

void block_means(const BlockMeansArgs& a, void* stream) {
  check_strided("block_means", a.src, a.batch_stride, a.head_stride, a.row_stride);
  if (a.head_dim != 64 && a.head_dim != 128) usage_fail("block_means: head dim {} (64 or 128)", a.head_dim);
  if (a.batch <= 0 || a.heads <= 0 || a.len <= 0 || a.n_blocks <= 0 || a.n_blocks > (a.len + 127) / 128)
    usage_fail("block_means: bad sizes batch {} heads {} len {} blocks {}", a.batch, a.heads, a.len, a.n_blocks);
  if (a.out == nullptr) usage_fail("block_means: null output");
  mask::launch_block_means(a, as_stream(stream));
}

void block_scores(const BlockScoresArgs& a, void* stream) {
  if (!a.qm || !a.km || !a.scores) usage_fail("block_scores: null pointer");
  if (reinterpret_cast<uintptr_t>(a.qm) % 16 != 0 || reinterpret_cast<uintptr_t>(a.km) % 16 != 0)
    usage_fail("block_scores: qm and km must be 16-byte aligned");
  if (a.head_dim % 32 != 0 || a.head_dim <= 0) usage_fail("block_scores: head dim {} must be a multiple of 32", a.head_dim);
  if (a.groups <= 0 || a.nq <= 0 || a.nk <= 0 || a.nq > a.qm_blocks || a.nk > a.km_blocks || a.groups > 65535)
    usage_fail("block_scores: bad sizes groups {} nq {} of {} nk {} of {}", a.groups, a.nq, a.qm_blocks, a.nk, a.km_blocks);
  mask::launch_block_scores(a, as_stream(stream));
}

void select_blocks(const BlockSelectArgs& a, void* stream) {
  if (!a.scores || !a.mask || !a.counts) usage_fail("select_blocks: null pointer");
  if (a.groups <= 0 || a.q_blocks <= 0 || a.select_q_blocks < 0 || a.select_q_blocks > a.q_blocks ||
      a.n_cols <= 0 || a.n_cols > a.k_blocks)
    usage_fail("select_blocks: bad sizes groups {} q_blocks {} select {} cols {} k_blocks {}", a.groups,
               a.q_blocks, a.select_q_blocks, a.n_cols, a.k_blocks);
  if (a.n_cols > 2048) usage_fail("select_blocks: {} blocks per row exceed the supported 2048", a.n_cols);
  if (a.k_blocks > 48 * 1024) usage_fail("select_blocks: {} key blocks exceed 49152", a.k_blocks);
  if (a.always_begin < 0 || a.always_end > a.k_blocks || a.always_begin > a.always_end)
    usage_fail("select_blocks: always-kept range [{}, {}) outside {} key blocks", a.always_begin, a.always_end, a.k_blocks);
  if ((a.neighbor_offsets == nullptr) != (a.neighbor_indices == nullptr))
    usage_fail("select_blocks: give both neighbour offsets and indices, or neither");
  if (a.top_k < 0) usage_fail("select_blocks: top_k {} must be >= 0", a.top_k);
  if (a.method != 0 && a.method != 1) usage_fail("select_blocks: method {} must be 0 or 1", a.method);
  if (a.first_frame_blocks < 0 || a.first_frame_blocks > a.n_cols)
    usage_fail("select_blocks: first-frame blocks {} outside 0..{}", a.first_frame_blocks, a.n_cols);
  mask::launch_select_blocks(a, as_stream(stream));
}

void tally_kept_blocks(const int32_t* offsets, int rows, unsigned long long* total, void* stream) {
  if (!offsets || !total || rows <= 0) usage_fail("tally_kept_blocks: null pointer or no rows");
  mask::launch_tally_kept(offsets, rows, total, as_stream(stream));
}

void fill_key_block_bias(float* bias, int heads, int k_blocks, int first_biased, float value, void* stream) {
  if (!bias || heads <= 0 || k_blocks <= 0 || first_biased < 0 || first_biased > k_blocks)
    usage_fail("fill_key_block_bias: bad sizes heads {} key blocks {} first biased {}", heads, k_blocks, first_biased);
  mask::launch_key_block_bias(bias, heads, k_blocks, first_biased, value, as_stream(stream));
}

size_t compact_workspace_bytes(int rows) { return mask::scan_workspace_bytes(rows); }

void compact_csr(const uint8_t* m, const int32_t* counts, int rows, int k_blocks, void* ws, size_t ws_bytes,
                 int32_t* offsets, int32_t* indices, void* stream) {
  if (!m || !counts || !offsets || !indices || rows <= 0 || k_blocks <= 0)
    usage_fail("compact_csr: null pointer or empty sizes (rows {}, k_blocks {})", rows, k_blocks);
  if (ws_bytes < mask::scan_workspace_bytes(rows))
    usage_fail("compact_csr: workspace of {} bytes, needs compact_workspace_bytes({}) = {}", ws_bytes, rows,
               mask::scan_workspace_bytes(rows));
  mask::launch_compact_csr(m, counts, rows, k_blocks, ws, ws_bytes, offsets, indices, as_stream(stream));
}

size_t block_mask_workspace_bytes(const BlockMaskArgs& a) { return plan(a).total; }

void build_block_mask(const BlockMaskArgs& a, void* workspace, size_t workspace_bytes, void* stream) {
  if (a.len <= 0 || a.batch <= 0 || a.heads <= 0) usage_fail("build_block_mask: empty sizes");
  const int nb = (a.len + 127) / 128;
  const int sel = a.select_blocks > 0 ? a.select_blocks : nb;
  if (sel > nb) usage_fail("build_block_mask: {} image blocks of {} blocks", sel, nb);
  if (!(a.scale > 0.f)) usage_fail("build_block_mask: score scale {} must be positive", a.scale);
  if (!a.offsets || !a.indices) usage_fail("build_block_mask: null output");
  if (a.method != 0 && a.method != 1) usage_fail("build_block_mask: method {} must be 0 or 1", a.method);
  const Plan p = plan(a);
  if (workspace == nullptr || workspace_bytes < p.total)
    usage_fail("build_block_mask: workspace of {} bytes, needs block_mask_workspace_bytes() = {}", workspace_bytes, p.total);
  auto* ws = static_cast<unsigned char*>(workspace);
  const int g = a.batch * a.heads;

  BlockMeansArgs qm{a.q, a.q_batch_stride, a.q_head_stride, a.q_row_stride, a.batch, a.heads, a.len, a.head_dim,
                    sel, a.zero_padded, a.round_bf16, reinterpret_cast<float*>(ws + p.qm)};
  BlockMeansArgs km{a.k, a.k_batch_stride, a.k_head_stride, a.k_row_stride, a.batch, a.heads, a.len, a.head_dim,
                    nb, a.zero_padded, a.round_bf16, reinterpret_cast<float*>(ws + p.km)};
  if (a.method == 1) {
    block_means(qm, stream);
    block_means(km, stream);
  } else {
    check_strided("build_block_mask q", qm.src, qm.batch_stride, qm.head_stride, qm.row_stride);
    check_strided("build_block_mask k", km.src, km.batch_stride, km.head_stride, km.row_stride);
    if (a.head_dim != 64 && a.head_dim != 128) usage_fail("build_block_mask: head dim {} (64 or 128)", a.head_dim);
    mask::launch_block_means_pair(qm, km, as_stream(stream));
  }
  BlockScoresArgs sc;
  sc.qm = qm.out, sc.km = km.out, sc.groups = g, sc.qm_blocks = sel, sc.km_blocks = nb, sc.nq = sel, sc.nk = sel;
  sc.head_dim = a.head_dim, sc.scale = a.scale, sc.round_bf16 = a.round_bf16;
  sc.scores = reinterpret_cast<float*>(ws + p.scores);
  block_scores(sc, stream);
  BlockSelectArgs se;
  se.scores = sc.scores, se.groups = g, se.q_blocks = nb, se.select_q_blocks = sel, se.n_cols = sel, se.k_blocks = nb;
  se.prob_threshold = a.prob_threshold, se.top_k = a.top_k, se.always_begin = sel, se.always_end = nb;
  se.first_frame_blocks = a.first_frame_blocks;
  se.method = a.method;
  se.neighbor_offsets = a.neighbor_offsets, se.neighbor_indices = a.neighbor_indices;
  se.mask = ws + p.mask, se.counts = reinterpret_cast<int32_t*>(ws + p.counts);
  select_blocks(se, stream);
  compact_csr(se.mask, se.counts, g * nb, nb, ws + p.scan, p.scan_bytes, a.offsets, a.indices, stream);
}

}  // namespace jenga::cuda
