#include "jenga/svg/svg_masks.h"

#include <cmath>

#include "core/error.h"

namespace jenga::svg {

void SvgGrid::validate() const {
  if (frames < 1 || frame_tokens < 1)
    fail("SVG token grid {} frames x {} tokens per frame: both must be at least 1", frames, frame_tokens);
  if (rules == SvgRules::wan && (text != 0 || text_valid != 0))
    fail("SVG token grid: Wan rules take no text rows (got {})", text);
  if (rules == SvgRules::hunyuan && (text_valid < 1 || text_valid > text))
    fail("SVG token grid: {} valid text rows of {}; HunyuanVideo needs 1 .. {}", text_valid, text, text);
}

const char* pattern_name(SvgPattern p) { return p == SvgPattern::spatial ? "spatial" : "temporal"; }

int64_t profile_band_blocks(const SvgGrid& g) {
  // Official block_thres // block_size: 2S // 128 (Wan), (S * 1.5) // 128 = 3S // 256 (HunyuanVideo).
  return g.rules == SvgRules::wan ? (2 * g.frame_tokens) / 128 : (3 * g.frame_tokens) / 256;
}

namespace {
// The profiling band on video positions (frame-major for spatial, token-major for temporal).
bool band_keeps(const SvgGrid& g, int64_t q, int64_t k) {
  const int64_t d = q / 128 - k / 128;
  return (g.rules == SvgRules::wan && k < g.frame_tokens) || (d < 0 ? -d : d) < profile_band_blocks(g);
}
}  // namespace

bool spatial_profile_keeps(const SvgGrid& g, int64_t q, int64_t k) {
  const int64_t v = g.tokens();
  return q >= v || k >= v || band_keeps(g, q, k);  // text rows and columns: always (HunyuanVideo)
}

bool temporal_profile_keeps(const SvgGrid& g, int64_t q, int64_t k) {
  const int64_t v = g.tokens();
  return q >= v || k >= v || band_keeps(g, token_major_position(g, q), token_major_position(g, k));
}

int64_t token_major_position(const SvgGrid& g, int64_t t) {
  return (t % g.frame_tokens) * g.frames + t / g.frame_tokens;
}

std::vector<int32_t> placement_order(const SvgGrid& g, SvgPattern p) {
  const int64_t n = g.tokens();
  std::vector<int32_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    order[i] = static_cast<int32_t>(p == SvgPattern::spatial ? i : (i % g.frames) * g.frame_tokens + i / g.frames);
  return order;
}

double band_multiplier(const SvgGrid& g, double sparsity) {
  // Same double operations in the same order as the official Python, so the rounding agrees.
  const double seq = static_cast<double>(g.sequence()), ctx = static_cast<double>(g.text);
  const double total = seq * seq;
  const double s = (sparsity * total - 2.0 * seq * ctx) / total;
  const double width = seq * (1.0 - std::sqrt(1.0 - s));
  return width / static_cast<double>(g.frame_tokens);
}

int64_t band_width(const SvgGrid& g, double multiplier) {
  const double blocks = multiplier * static_cast<double>(g.frame_tokens) / 128.0;
  return static_cast<int64_t>(g.rules == SvgRules::wan ? std::ceil(blocks) : std::floor(blocks)) * 128;
}

BlockSparseLayout placed_layout(const SvgGrid& g, int64_t width, int64_t heads, int block) {
  g.validate();
  if (block < 1) fail("SVG layout block size {}: must be at least 1", block);
  const bool wan = g.rules == SvgRules::wan;
  // Wan: every row over every key; HunyuanVideo: the video rows over video + valid text keys.
  const int64_t n = wan ? g.tokens() : g.real(), nq = g.tokens(), v = g.tokens();
  const int64_t nb = (n + block - 1) / block, nqb = (nq + block - 1) / block;
  // One head's rows; every head runs the same mask in its own placed order.
  std::vector<int32_t> offs{0}, idx;
  for (int64_t qb = 0; qb < nqb; ++qb) {
    const int64_t q0 = qb * block, q1 = std::min(nq, q0 + block) - 1;
    for (int64_t kb = 0; kb < nb; ++kb) {
      const int64_t k0 = kb * block, k1 = std::min(n, k0 + block) - 1;
      const int64_t gap = k0 > q1 ? k0 - q1 : (q0 > k1 ? q0 - k1 : 0);  // min |i - j| over the tile
      const bool keep = wan ? gap <= width || k0 < g.frame_tokens : gap < width || k1 >= v;
      if (keep) idx.push_back(static_cast<int32_t>(kb));
    }
    offs.push_back(static_cast<int32_t>(idx.size()));
  }
  if (static_cast<double>(idx.size()) * static_cast<double>(heads) > 2147483647.0)
    fail("SVG layout of {} heads x {} kept tiles overflows int32 CSR; use a larger block", heads, idx.size());
  BlockSparseLayout L;
  L.batch = 1;
  L.heads = heads;
  L.q_blocks = nqb;
  L.k_blocks = nb;
  L.block_m = L.block_n = block;
  L.offsets.reserve(static_cast<size_t>(heads * nqb + 1));
  L.offsets.push_back(0);
  for (int64_t h = 0; h < heads; ++h) {
    const int32_t base = static_cast<int32_t>(h * idx.size());
    for (int64_t qb = 0; qb < nqb; ++qb) L.offsets.push_back(base + offs[qb + 1]);
    L.indices.insert(L.indices.end(), idx.begin(), idx.end());
  }
  return L;
}

}  // namespace jenga::svg
