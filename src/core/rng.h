#pragma once
// Counter-based RNG (Philox4x32-10): element i of stream (seed, offset) is a pure function of
// (seed, offset + i), so CPU and GPU produce the same numbers in any order or split.
#include <array>
#include <cstdint>
#include <span>

namespace jenga {

#if defined(__CUDACC__)
#define JENGA_HD __host__ __device__
#else
#define JENGA_HD
#endif

JENGA_HD inline void philox4x32_10(uint32_t key0, uint32_t key1, uint32_t ctr[4]) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u, kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int r = 0; r < 10; ++r) {
    const uint64_t p0 = static_cast<uint64_t>(kM0) * ctr[0];
    const uint64_t p1 = static_cast<uint64_t>(kM1) * ctr[2];
    const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ ctr[1] ^ key0;
    const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ ctr[3] ^ key1;
    ctr[1] = static_cast<uint32_t>(p1);
    ctr[3] = static_cast<uint32_t>(p0);
    ctr[0] = n0;
    ctr[2] = n2;
    key0 += kW0;
    key1 += kW1;
  }
}

// Four uniform 32-bit words for counter `index` of stream `seed`.
JENGA_HD inline void philox_words(uint64_t seed, uint64_t index, uint32_t out[4]) {
  out[0] = static_cast<uint32_t>(index);
  out[1] = static_cast<uint32_t>(index >> 32);
  out[2] = 0;
  out[3] = 0;
  philox4x32_10(static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32), out);
}

// Uniform in (0, 1]: never 0, so log() is safe.
JENGA_HD inline float u32_to_unit(uint32_t x) { return (static_cast<float>(x >> 8) + 1.0f) * (1.0f / 16777216.0f); }

// Fills `out` with standard normals (Box-Muller on Philox), element i from counter offset+i/2.
void fill_normal(std::span<float> out, uint64_t seed, uint64_t offset = 0);
void fill_uniform(std::span<float> out, uint64_t seed, float lo, float hi, uint64_t offset = 0);

}  // namespace jenga
