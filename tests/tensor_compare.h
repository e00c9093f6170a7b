#pragma once
// Comparing f32 host tensors in tests.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

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

}  // namespace jenga::test
