#include "core/rng.h"

#include <cmath>

namespace jenga {

void fill_normal(std::span<float> out, uint64_t seed, uint64_t offset) {
  // Pairs (2k, 2k+1) share one Philox call; element i depends only on (seed, offset + i), so the
  // loop splits across threads (full-size random checkpoints: hundreds of millions of values).
  const int64_t n = static_cast<int64_t>(out.size());
#pragma omp parallel for schedule(static) if (n > (int64_t{1} << 20))
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t e = offset + i;
    uint32_t w[4];
    philox_words(seed, e / 2, w);
    const float u1 = u32_to_unit(w[0]);
    const float u2 = u32_to_unit(w[1]);
    const float r = std::sqrt(-2.0f * std::log(u1));
    const float a = 6.28318530717958647692f * u2;
    out[i] = (e % 2 == 0) ? r * std::cos(a) : r * std::sin(a);
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
