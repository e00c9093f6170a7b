#include "core/rng.h"

#include <cmath>

namespace jenga {

void fill_normal(std::span<float> out, uint64_t seed, uint64_t offset) {
  // Pairs (2k, 2k+1) share one Philox call and one (r, angle): element i depends only on
  // (seed, offset + i), so the loop splits across threads (full-size random checkpoints: billions
  // of values) and any split gives the same numbers.
  const int64_t n = static_cast<int64_t>(out.size());
  if (n == 0) return;
  const uint64_t first = offset / 2, last = (offset + static_cast<uint64_t>(n) - 1) / 2;
  const int64_t pairs = static_cast<int64_t>(last - first) + 1;
#pragma omp parallel for schedule(static) if (n > (int64_t{1} << 20))
  for (int64_t p = 0; p < pairs; ++p) {
    const uint64_t k = first + static_cast<uint64_t>(p);
    uint32_t w[4];
    philox_words(seed, k, w);
    const float u1 = u32_to_unit(w[0]);
    const float u2 = u32_to_unit(w[1]);
    const float r = std::sqrt(-2.0f * std::log(u1));
    const float a = 6.28318530717958647692f * u2;
    const uint64_t e0 = 2 * k;
    if (e0 >= offset) out[e0 - offset] = r * std::cos(a);
    if (e0 + 1 - offset < static_cast<uint64_t>(n)) out[e0 + 1 - offset] = r * std::sin(a);
  }
}

void fill_uniform(std::span<float> out, uint64_t seed, float lo, float hi, uint64_t offset) {
  for (size_t i = 0; i < out.size(); ++i) {
    uint32_t w[4];
    philox_words(seed, offset + i, w);
    out[i] = lo + (hi - lo) * (u32_to_unit(w[0]) - 0.5f / 16777216.0f);
  }
}

}  // namespace jenga
