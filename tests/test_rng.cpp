#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/rng.h"

using namespace jenga;

// Known-answer test from the Random123 distribution (kat_vectors: philox4x32_10).
TEST(Rng, Philox4x32_10KnownAnswer) {
  uint32_t ctr[4] = {0, 0, 0, 0};
  philox4x32_10(0, 0, ctr);
  EXPECT_EQ(ctr[0], 0x6627e8d5u);
  EXPECT_EQ(ctr[1], 0xe169c58du);
  EXPECT_EQ(ctr[2], 0xbc57ac4cu);
  EXPECT_EQ(ctr[3], 0x9b00dbd8u);
  uint32_t c2[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
  philox4x32_10(0xffffffffu, 0xffffffffu, c2);
  EXPECT_EQ(c2[0], 0x408f276du);
  EXPECT_EQ(c2[1], 0x41c83b0eu);
  EXPECT_EQ(c2[2], 0xa20bc7c6u);
  EXPECT_EQ(c2[3], 0x6d5451fdu);
}

TEST(Rng, NormalIsSplittableAndStandard) {
  std::vector<float> all(10000), part(5000);
  fill_normal(all, 42);
  fill_normal(part, 42, 5000);
  for (size_t i = 0; i < part.size(); ++i) ASSERT_EQ(part[i], all[5000 + i]);
  double mean = 0, var = 0;
  for (float x : all) mean += x;
  mean /= all.size();
  for (float x : all) var += (x - mean) * (x - mean);
  var /= all.size();
  EXPECT_NEAR(mean, 0.0, 0.05);
  EXPECT_NEAR(var, 1.0, 0.05);
  std::vector<float> other(10);
  fill_normal(other, 43);
  EXPECT_NE(other[0], all[0]);
}
