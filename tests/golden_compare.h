#pragma once
// Comparing against goldens made by the official code: rel = max|a - b| / max|b|.
#include <algorithm>
#include <cmath>
#include <vector>

namespace jenga::test {

inline double max_rel_error(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) return INFINITY;
  double diff = 0, ref = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    diff = std::max(diff, std::abs(static_cast<double>(got[i]) - want[i]));
    ref = std::max(ref, std::abs(static_cast<double>(want[i])));
  }
  return ref > 0 ? diff / ref : diff;
}

}  // namespace jenga::test
