#include <gtest/gtest.h>

#include "core/arena.h"
#include "core/error.h"

using namespace jenga;

TEST(Arena, AlignsAndTracksHighWater) {
  Arena a(4096, Device::CPU);
  void* p = a.allocate(10);
  void* q = a.allocate(10);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(q) % 256, 0u);
  EXPECT_EQ(static_cast<char*>(q) - static_cast<char*>(p), 256);
  EXPECT_EQ(a.used(), 266u);
  const size_t m = a.mark();
  a.allocate(1000);
  EXPECT_EQ(a.high_water(), 256u * 2 + 1000);
  a.rewind(m);
  EXPECT_EQ(a.used(), 266u);
  EXPECT_EQ(a.high_water(), 1512u);
  a.reset();
  EXPECT_EQ(a.used(), 0u);
}

TEST(Arena, ExhaustionIsAnError) {
  Arena a(1024, Device::CPU);
  a.allocate(1000);
  try {
    a.allocate(100);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("arena exhausted"), std::string::npos);
  }
  EXPECT_THROW(a.allocate(8, 3), Error);  // not a power of two
  EXPECT_THROW(a.rewind(5000), Error);
}

TEST(Arena, TensorsLiveInTheArena) {
  Arena a(1 << 16, Device::CPU);
  Tensor t = a.tensor(DType::BF16, Shape{8, 16});
  EXPECT_EQ(t.nbytes(), 256u);
  EXPECT_EQ(a.used(), 256u);
  t.data_as<uint16_t>()[127] = 7;  // writable, in bounds
  EXPECT_EQ(t.data_as<uint16_t>()[127], 7);
}
