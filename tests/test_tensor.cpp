#include <gtest/gtest.h>

#include "core/error.h"
#include "core/tensor.h"

using namespace jenga;

TEST(Tensor, ShapeBasics) {
  Shape s{2, 3, 4};
  EXPECT_EQ(s.ndim, 3);
  EXPECT_EQ(s.numel(), 24);
  EXPECT_EQ(s[-1], 4);
  EXPECT_EQ(s.str(), "[2, 3, 4]");
  EXPECT_EQ(Shape{}.numel(), 1);  // a scalar
  EXPECT_THROW((Shape{1, 2, 3, 4, 5, 6}), Error);
  EXPECT_THROW((Shape{2, -1}), Error);
}

TEST(Tensor, EmptyFromF32AndStrides) {
  std::vector<float> v = {1, 2, 3, 4, 5, 6};
  Tensor t = Tensor::from_f32(v, Shape{2, 3});
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.nbytes(), 24u);
  EXPECT_EQ(t.strides()[0], 3);
  EXPECT_EQ(t.strides()[1], 1);
  EXPECT_EQ(t.data_as<float>()[4], 5.0f);
  EXPECT_THROW(Tensor::from_f32(v, Shape{4, 2}), Error);
}

TEST(Tensor, ReshapeSharesData) {
  std::vector<float> v(12, 0.0f);
  Tensor t = Tensor::from_f32(v, Shape{3, 4});
  Tensor r = t.reshape({2, -1});
  EXPECT_EQ(r.dim(1), 6);
  EXPECT_EQ(r.data(), t.data());
  EXPECT_THROW(t.reshape({5, -1}), Error);
  EXPECT_THROW(t.reshape({-1, -1}), Error);
}

TEST(Tensor, ConvertDtype) {
  std::vector<float> v = {1.0f, -2.0f, 0.5f};
  Tensor b = Tensor::from_f32(v, Shape{3}, DType::BF16);
  EXPECT_EQ(b.dtype(), DType::BF16);
  EXPECT_EQ(b.nbytes(), 6u);
  EXPECT_EQ(b.data_as<uint16_t>()[0], 0x3F80);
  EXPECT_EQ(b.to_f32_vector(), v);
  Tensor f8 = b.to(DType::F8E4M3);
  EXPECT_EQ(f8.to_f32_vector(), v);
}

TEST(Tensor, CudaTensorWithoutBackendIsAClearError) {
  // Only meaningful when no CUDA allocator is registered (CPU-only tests run first).
  try {
    Tensor t = Tensor::empty(DType::F32, Shape{4}, Device::CUDA);
    SUCCEED() << "CUDA allocator present";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("without CUDA"), std::string::npos) << e.what();
  }
}

// A default (absent) tensor is not "empty": numel() of no dims is 1. Code that asks whether an
// optional weight is there must use defined() (the CUDA text encoder once took numel() > 0 for
// "an fp16 embedding table is kept" and read through a null pointer).
TEST(Tensor, DefaultIsUndefinedAndHasAScalarCount) {
  const jenga::Tensor none;
  EXPECT_FALSE(none.defined());
  EXPECT_EQ(none.numel(), 1);
  EXPECT_EQ(none.data(), nullptr);
  EXPECT_TRUE(jenga::Tensor::empty(jenga::DType::F32, {0}).defined());
  EXPECT_TRUE(jenga::Tensor::empty(jenga::DType::F32, {2, 3}).defined());
}
