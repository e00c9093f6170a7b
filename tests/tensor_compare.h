#pragma once
// Comparing f32 host tensors in tests.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/tensor.h"

namespace jenga::test {

// ||a - b|| / ||b|| over all elements (b is the reference); shapes must match.
inline double rel_l2(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape().str(), b.shape().str());
  double num = 0, den = 0;
  for (int64_t i = 0; i < std::min(a.numel(), b.numel()); ++i) {
    const double d = double(a.data_as<float>()[i]) - b.data_as<float>()[i];
    num += d * d;
    den += double(b.data_as<float>()[i]) * b.data_as<float>()[i];
  }
  return std::sqrt(num / den);
}

// The same over the first n values of two host arrays (b the reference).
inline double rel_l2(const float* a, const float* b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = double(a[i]) - b[i];
    num += d * d;
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}
inline double rel_l2(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  return rel_l2(a.data(), b.data(), std::min(a.size(), b.size()));
}

}  // namespace jenga::test
