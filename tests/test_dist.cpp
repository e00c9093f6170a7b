// The single-process communicator, sequence splits, and the Ulysses forward path with one
// rank (which must equal the plain forward). Multi-rank runs: tests/mpi (under mpirun) and
// test_dist_generate.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "dist/communicator.h"
#include "dist/ulysses.h"
#include "models/hunyuan/hunyuan_dit.h"
#include "models/hunyuan/hunyuan_dit_cpu.h"
#include "models/hunyuan/hunyuan_tiny.h"
#include "models/wan/wan_dit.h"
#include "models/wan/wan_dit_cpu.h"
#include "models/wan/wan_tiny.h"
#include "jenga/gilbert_curve.h"
#include "test_util.h"

using namespace jenga;

TEST(Dist, SplitEvenGivesTheRemainderToTheFirstRanks) {
  const auto s = dist::split_even(10, 4);
  EXPECT_EQ(s.count, (std::vector<int64_t>{3, 3, 2, 2}));
  EXPECT_EQ(s.offset, (std::vector<int64_t>{0, 3, 6, 8}));
  const auto one = dist::split_even(5, 1);
  EXPECT_EQ(one.count, (std::vector<int64_t>{5}));
  EXPECT_THROW(dist::split_even(5, 0), Error);
  // Aligned: whole units of 48 split evenly, the remainder in the last non-empty shard.
  const auto a = dist::split_aligned(128, 2, 48);
  EXPECT_EQ(a.count, (std::vector<int64_t>{96, 32}));
  EXPECT_EQ(a.offset, (std::vector<int64_t>{0, 96}));
  const auto b = dist::split_aligned(9, 2, 48);  // too few tokens: the second rank gets none
  EXPECT_EQ(b.count, (std::vector<int64_t>{9, 0}));
  EXPECT_EQ(b.offset, (std::vector<int64_t>{0, 9}));
  const auto c = dist::split_aligned(200, 3, 48);
  EXPECT_EQ(c.count, (std::vector<int64_t>{96, 96, 8}));
}

TEST(Dist, NotUnderMpiGivesTheSingleCommunicator) {
  if (dist::launched_by_mpi()) GTEST_SKIP() << "launched by mpirun";
  auto c = dist::make_communicator();
  EXPECT_EQ(c->name(), "single");
  EXPECT_EQ(c->size(), 1);
  EXPECT_EQ(c->rank(), 0);
  std::vector<float> a{1, 2, 3}, b(3);
  c->all_to_all(a.data(), b.data(), 3, DType::F32);
  EXPECT_EQ(a, b);
  std::vector<size_t> n{2}, d{1};
  std::vector<float> g(3, 0.0f);
  c->all_gather_v(a.data(), g.data(), n, d, DType::F32);
  EXPECT_EQ(g, (std::vector<float>{0, 1, 2}));
  EXPECT_THROW(c->broadcast(a.data(), 3, DType::F32, 1), Error);
}

TEST(Dist, UlyssesRejectsHeadsThatDoNotDivide) {
  auto c = dist::make_single_communicator();
  EXPECT_NO_THROW(dist::Ulysses(*c, 7, 3, 4));  // one rank takes every head
}

// The sequence-parallel code path of the CPU forward with one rank (exchanges are copies,
// the head is computed on the shard and gathered) equals the plain forward, curve order on.
TEST(Dist, UlyssesForwardWithOneRankEqualsThePlainForward) {
  test::TempDir dir;
  wan::WanConfig c = wan::WanConfig::tiny();
  wan::write_random_checkpoint(dir.path().string(), c, 5, DType::F32);
  const wan::WanDit m = wan::load_wan_dit(dir.path().string());
  Tensor x = Tensor::empty(DType::F32, Shape{c.in_dim, 2, 6, 8});
  fill_normal({x.data_as<float>(), static_cast<size_t>(x.numel())}, 9);
  Tensor ctx = Tensor::empty(DType::F32, Shape{5, c.text_dim});
  fill_normal({ctx.data_as<float>(), static_cast<size_t>(ctx.numel())}, 10);
  CurveSpec spec;
  spec.t = 2, spec.h = 3, spec.w = 4, spec.sliced = true;
  const Curve curve = build_curve(spec);
  const std::vector<int64_t> order(curve.order.begin(), curve.order.end());
  wan::DitForwardHooks plain;
  plain.token_order = order;
  const Tensor a = wan::wan_forward_cpu(m, x, 500.0, ctx, plain);
  auto one = dist::make_single_communicator();
  wan::DitForwardHooks sp = plain;
  sp.comm = one.get();
  const Tensor b = wan::wan_forward_cpu(m, x, 500.0, ctx, sp);
  ASSERT_EQ(a.numel(), b.numel());
  for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a.data_as<float>()[i], b.data_as<float>()[i]) << i;
}

// HunyuanVideo's sequence-parallel path with one rank (image rows exchanged as copies, text
// heads cut and gathered, the final layer's rows gathered) equals the plain forward, volume
// curve order and padded text on.
TEST(Dist, HunyuanUlyssesForwardWithOneRankEqualsThePlainForward) {
  test::TempDir dir;
  const hunyuan::HunyuanConfig c = hunyuan::HunyuanConfig::tiny();
  hunyuan::write_random_checkpoint(dir.path().string(), c, 5, DType::F32);
  const hunyuan::HunyuanDit m = hunyuan::load_hunyuan_dit(dir.path().string());
  std::vector<float> x(static_cast<size_t>(c.in_channels * 2 * 6 * 8)), txt(static_cast<size_t>(6 * c.text_dim));
  std::vector<float> pooled(static_cast<size_t>(c.text_dim_2));
  fill_normal(x, 9), fill_normal(txt, 10), fill_normal(pooled, 11);
  CurveSpec spec;
  spec.t = 2, spec.h = 3, spec.w = 4;
  const Curve curve = build_curve(spec);
  const std::vector<int64_t> order(curve.order.begin(), curve.order.end());
  DitForwardHooks plain;
  plain.token_order = order;
  const auto a = hunyuan::hunyuan_forward_cpu(m, x.data(), 2, 6, 8, 500.0f, txt.data(), 6, 4, pooled.data(), 6000.0f, &plain);
  auto one = dist::make_single_communicator();
  DitForwardHooks sp = plain;
  sp.comm = one.get();
  const auto b = hunyuan::hunyuan_forward_cpu(m, x.data(), 2, 6, 8, 500.0f, txt.data(), 6, 4, pooled.data(), 6000.0f, &sp);
  EXPECT_EQ(a, b);
}
