#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <vector>

#include "core/dtype.h"

using namespace jenga;

namespace {
float bits_f32(uint32_t b) { return std::bit_cast<float>(b); }
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
}  // namespace

TEST(DType, SizesAndNames) {
  EXPECT_EQ(dtype_size(DType::F32), 4u);
  EXPECT_EQ(dtype_size(DType::BF16), 2u);
  EXPECT_EQ(dtype_size(DType::F8E4M3), 1u);
  EXPECT_EQ(dtype_size(DType::I64), 8u);
  EXPECT_EQ(dtype_from_safetensors("F8_E4M3"), DType::F8E4M3);
  EXPECT_EQ(dtype_from_safetensors("BF16"), DType::BF16);
  EXPECT_FALSE(dtype_from_safetensors("F64").has_value());
  EXPECT_EQ(dtype_parse("bf16"), DType::BF16);
  EXPECT_EQ(dtype_parse("fp8-e5m2"), DType::F8E5M2);
  EXPECT_FALSE(dtype_parse("float").has_value());
}

TEST(DType, BF16KnownBits) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(f32_to_bf16(-2.0f), 0xC000);
  EXPECT_EQ(f32_to_bf16(0.0f), 0x0000);
  EXPECT_EQ(f32_to_bf16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_bf16(kInf), 0x7F80);
  EXPECT_EQ(f32_to_bf16(-kInf), 0xFF80);
  EXPECT_EQ(f32_to_bf16(3.14159265f), 0x4049);  // torch.tensor(pi).bfloat16() -> 3.140625
  // Ties round to even: 1 + 2^-8 sits halfway between 1.0 (0x3F80) and 1+2^-7 (0x3F81).
  EXPECT_EQ(f32_to_bf16(bits_f32(0x3F808000)), 0x3F80);
  EXPECT_EQ(f32_to_bf16(bits_f32(0x3F818000)), 0x3F82);  // odd below -> rounds up
  EXPECT_EQ(f32_to_bf16(bits_f32(0x3F808001)), 0x3F81);  // just above half
  // Largest finite f32 rounds to inf in bf16.
  EXPECT_EQ(f32_to_bf16(bits_f32(0x7F7FFFFF)), 0x7F80);
  // f32 subnormal keeps its high bits.
  EXPECT_EQ(f32_to_bf16(bits_f32(0x00010000)), 0x0001);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(kNaN))));
  EXPECT_EQ(bf16_to_f32(0x3F80), 1.0f);
  EXPECT_EQ(bf16_to_f32(0xC049), -3.140625f);
}

TEST(DType, F16KnownBits) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3C00);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xC000);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7BFF);   // max finite
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7C00);   // halfway to 65536 rounds to even -> inf
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // half of it: tie to even -> 0
  EXPECT_EQ(f32_to_f16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(f32_to_f16(0.1f), 0x2E66);
  EXPECT_EQ(f32_to_f16(kInf), 0x7C00);
  EXPECT_EQ(f32_to_f16(-kInf), 0xFC00);
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // tie -> even
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(kNaN))));
  EXPECT_EQ(f16_to_f32(0x7BFF), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_f32(0x3555), 0.333251953125f);
  EXPECT_EQ(f16_to_f32(0xFC00), -kInf);
}

TEST(DType, Fp8E4M3KnownBits) {
  EXPECT_EQ(f32_to_fp8_e4m3(1.0f), 0x38);
  EXPECT_EQ(f32_to_fp8_e4m3(-1.0f), 0xB8);
  EXPECT_EQ(f32_to_fp8_e4m3(448.0f), 0x7E);    // max finite
  EXPECT_EQ(f32_to_fp8_e4m3(464.0f), 0x7E);    // tie between 448 and 480(NaN code) -> even
  EXPECT_EQ(f32_to_fp8_e4m3(470.0f), 0x7F);    // rounds past max: NaN, as torch does
  EXPECT_EQ(f32_to_fp8_e4m3(kInf), 0x7F);
  EXPECT_EQ(f32_to_fp8_e4m3(std::ldexp(1.0f, -9)), 0x01);   // smallest subnormal
  EXPECT_EQ(f32_to_fp8_e4m3(std::ldexp(1.0f, -6)), 0x08);   // smallest normal
  EXPECT_EQ(f32_to_fp8_e4m3(0.3f), 0x2A);  // 0.3 -> 0.3125
  EXPECT_EQ(fp8_e4m3_to_f32(0x7E), 448.0f);
  EXPECT_EQ(fp8_e4m3_to_f32(0x2A), 0.3125f);
  EXPECT_EQ(fp8_e4m3_to_f32(0x01), std::ldexp(1.0f, -9));
  EXPECT_EQ(fp8_e4m3_to_f32(0xB8), -1.0f);
  EXPECT_TRUE(std::isnan(fp8_e4m3_to_f32(0x7F)));
  EXPECT_TRUE(std::isnan(fp8_e4m3_to_f32(0xFF)));
  EXPECT_EQ(fp8_e4m3_to_f32(0x78), 256.0f);  // exponent 15 is finite in e4m3fn
}

TEST(DType, Fp8E5M2KnownBits) {
  EXPECT_EQ(f32_to_fp8_e5m2(1.0f), 0x3C);
  EXPECT_EQ(f32_to_fp8_e5m2(57344.0f), 0x7B);  // max finite
  EXPECT_EQ(f32_to_fp8_e5m2(65536.0f), 0x7C);  // inf
  EXPECT_EQ(f32_to_fp8_e5m2(kInf), 0x7C);
  EXPECT_EQ(f32_to_fp8_e5m2(std::ldexp(1.0f, -16)), 0x01);
  EXPECT_EQ(fp8_e5m2_to_f32(0x7B), 57344.0f);
  EXPECT_EQ(fp8_e5m2_to_f32(0x7C), kInf);
  EXPECT_TRUE(std::isnan(fp8_e5m2_to_f32(0x7E)));
  EXPECT_EQ(fp8_e5m2_to_f32(0x01), std::ldexp(1.0f, -16));
}

// Every code of the small formats survives decode -> encode unchanged (NaNs stay NaN).
TEST(DType, RoundTripAllCodes) {
  for (uint32_t c = 0; c < 65536; ++c) {
    const float f = f16_to_f32(static_cast<uint16_t>(c));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16(f), c) << std::hex << c;
    const float g = bf16_to_f32(static_cast<uint16_t>(c));
    if (!std::isnan(g)) ASSERT_EQ(f32_to_bf16(g), c) << std::hex << c;
  }
  for (uint32_t c = 0; c < 256; ++c) {
    const float a = fp8_e4m3_to_f32(static_cast<uint8_t>(c));
    if (!std::isnan(a)) ASSERT_EQ(f32_to_fp8_e4m3(a), c) << std::hex << c;
    const float b = fp8_e5m2_to_f32(static_cast<uint8_t>(c));
    if (!std::isnan(b)) ASSERT_EQ(f32_to_fp8_e5m2(b), c) << std::hex << c;
  }
}

// Rounding picks the nearer neighbour: checked against a brute-force search over all codes.
TEST(DType, Fp8NearestMatchesBruteForce) {
  for (int i = -2000; i <= 2000; ++i) {
    const float x = i * 0.237f;
    const uint8_t got = f32_to_fp8_e4m3(x);
    const float gv = fp8_e4m3_to_f32(got);
    if (std::isnan(gv)) { EXPECT_GT(std::fabs(x), 464.0f); continue; }
    for (uint32_t c = 0; c < 256; ++c) {
      const float cv = fp8_e4m3_to_f32(static_cast<uint8_t>(c));
      if (std::isnan(cv)) continue;
      ASSERT_LE(std::fabs(gv - x), std::fabs(cv - x)) << x;
    }
  }
}

TEST(DType, ConvertArrays) {
  const float src[4] = {1.0f, -0.5f, 3.0f, 100.0f};
  uint16_t bf[4];
  convert(src, DType::F32, bf, DType::BF16, 4);
  EXPECT_EQ(bf[0], 0x3F80);
  float back[4];
  convert(bf, DType::BF16, back, DType::F32, 4);
  EXPECT_EQ(back[1], -0.5f);
  int64_t ints[4];
  convert(src, DType::F32, ints, DType::I64, 4);
  EXPECT_EQ(ints[3], 100);
}

// The bulk f32 -> bf16 path (bit trick, parallel) rounds exactly as the scalar encoder, on a sweep of
// bit patterns that covers ties, subnormals, the overflow edge, infinities and NaNs.
TEST(DType, BulkF32ToBf16MatchesScalar) {
  std::vector<float> src;
  for (uint64_t b = 0; b < (1ull << 32); b += 0x10001ull * 7 + 3) src.push_back(bits_f32(static_cast<uint32_t>(b)));
  for (uint32_t b : {0x3F808000u, 0x3F818000u, 0x7F7FFFFFu, 0x7F7F8000u, 0xFF7F8000u, 0x00008000u, 0x80018000u})
    src.push_back(bits_f32(b));
  src.push_back(kInf), src.push_back(-kInf), src.push_back(kNaN), src.push_back(-kNaN);
  std::vector<uint16_t> bulk(src.size());
  convert(src.data(), DType::F32, bulk.data(), DType::BF16, src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    const uint16_t ref = f32_to_bf16(src[i]);
    if (std::isnan(src[i])) {
      EXPECT_TRUE(std::isnan(bf16_to_f32(bulk[i])));
      continue;
    }
    ASSERT_EQ(bulk[i], ref) << std::hex << std::bit_cast<uint32_t>(src[i]);
  }
}
