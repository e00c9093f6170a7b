// The MPI communicator and Ulysses exchange under mpirun (2+ ranks): every rank knows the
// whole input (a formula of the global index), so each checks its own received values.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "dist/communicator.h"
#include "dist/ulysses.h"

using namespace jenga;

namespace {
dist::Communicator& world() {
  static auto comm = dist::make_communicator();
  return *comm;
}
float value(int64_t a, int64_t b) { return static_cast<float>(a * 1000 + b) + 0.25f; }
}  // namespace

TEST(MpiCommunicator, IsTheLaunchersWorld) {
  auto& c = world();
  EXPECT_EQ(c.size(), dist::launcher_world_size());
  ASSERT_GE(c.size(), 2) << "run under mpirun -np 2 (or more)";
  EXPECT_EQ(c.name(), "mpi");
  EXPECT_GE(c.local_rank(), 0);
  EXPECT_LT(c.local_rank(), c.size());
  c.barrier();
}

TEST(MpiCommunicator, BroadcastAndAllGather) {
  auto& c = world();
  const int n = c.size(), r = c.rank();
  std::vector<float> b(5, r == 1 ? 7.5f : -1.0f);
  c.broadcast(b.data(), b.size(), DType::F32, 1);
  for (float x : b) EXPECT_EQ(x, 7.5f);

  std::vector<float> mine{value(r, 0), value(r, 1), value(r, 2)}, all(3 * static_cast<size_t>(n));
  c.all_gather(mine.data(), all.data(), 3, DType::F32);
  for (int p = 0; p < n; ++p)
    for (int i = 0; i < 3; ++i) EXPECT_EQ(all[static_cast<size_t>(3 * p + i)], value(p, i));

  // bf16 moves as bits: rank r sends its rank in bf16.
  std::vector<uint16_t> h{f32_to_bf16(static_cast<float>(r) + 0.5f)}, hs(static_cast<size_t>(n));
  c.all_gather(h.data(), hs.data(), 1, DType::BF16);
  for (int p = 0; p < n; ++p) EXPECT_EQ(bf16_to_f32(hs[static_cast<size_t>(p)]), static_cast<float>(p) + 0.5f);

  // Uneven: rank p contributes p + 1 values.
  std::vector<size_t> counts, displs;
  for (int p = 0, at = 0; p < n; at += p + 1, ++p) counts.push_back(static_cast<size_t>(p + 1)), displs.push_back(static_cast<size_t>(at));
  std::vector<float> send(static_cast<size_t>(r + 1)), got(displs.back() + counts.back(), -1.0f);
  for (int i = 0; i <= r; ++i) send[static_cast<size_t>(i)] = value(r, i);
  c.all_gather_v(send.data(), got.data(), counts, displs, DType::F32);
  for (int p = 0; p < n; ++p)
    for (int i = 0; i <= p; ++i) EXPECT_EQ(got[displs[static_cast<size_t>(p)] + static_cast<size_t>(i)], value(p, i));
}

TEST(MpiCommunicator, AllToAllEqualAndUneven) {
  auto& c = world();
  const int n = c.size(), r = c.rank();
  // Equal chunks of 2: chunk p of rank r holds value(r * n + p, i).
  std::vector<float> send(2 * static_cast<size_t>(n)), recv(send.size(), -1.0f);
  for (int p = 0; p < n; ++p)
    for (int i = 0; i < 2; ++i) send[static_cast<size_t>(2 * p + i)] = value(r * n + p, i);
  c.all_to_all(send.data(), recv.data(), 2, DType::F32);
  for (int p = 0; p < n; ++p)
    for (int i = 0; i < 2; ++i) EXPECT_EQ(recv[static_cast<size_t>(2 * p + i)], value(p * n + r, i));

  // Uneven: rank r sends r + p + 1 values to rank p.
  std::vector<size_t> sc, sd, rc, rd;
  size_t sat = 0, rat = 0;
  for (int p = 0; p < n; ++p) {
    sc.push_back(static_cast<size_t>(r + p + 1)), sd.push_back(sat), sat += sc.back();
    rc.push_back(static_cast<size_t>(p + r + 1)), rd.push_back(rat), rat += rc.back();
  }
  std::vector<float> s2(sat), r2(rat, -1.0f);
  for (int p = 0; p < n; ++p)
    for (size_t i = 0; i < sc[static_cast<size_t>(p)]; ++i) s2[sd[static_cast<size_t>(p)] + i] = value(r * n + p, static_cast<int64_t>(i));
  c.all_to_all_v(s2.data(), sc, sd, r2.data(), rc, rd, DType::F32);
  for (int p = 0; p < n; ++p)
    for (size_t i = 0; i < rc[static_cast<size_t>(p)]; ++i)
      EXPECT_EQ(r2[rd[static_cast<size_t>(p)] + i], value(p * n + r, static_cast<int64_t>(i)));
}

// Ulysses: tokens that do not divide over the ranks (uneven shards); x[t, h, d] = value(t, h*D+d).
TEST(MpiUlysses, SequenceShardsToHeadShardsAndBack) {
  auto& c = world();
  const int n = c.size();
  const int64_t heads = 2 * n, D = 3;
  // Shards start at multiples of 48 (kCpuShardAlign): uneven, then even, then one rank empty.
  for (int64_t tokens : {int64_t{48} * n + 17, int64_t{96} * n, int64_t{5}}) {
    dist::Ulysses u(c, tokens, heads, D);
    const int64_t nl = u.local_tokens(), off = u.offset(), hp = u.local_heads();
    std::vector<float> x(static_cast<size_t>(nl * heads * D));
    for (int64_t t = 0; t < nl; ++t)
      for (int64_t j = 0; j < heads * D; ++j) x[static_cast<size_t>(t * heads * D + j)] = value(off + t, j);
    std::vector<float> hs(static_cast<size_t>(tokens * hp * D), -1.0f);
    u.seq_to_heads(x.data(), hs.data());
    const int64_t h0 = c.rank() * hp;
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t h = 0; h < hp; ++h)
        for (int64_t d = 0; d < D; ++d)
          ASSERT_EQ(hs[static_cast<size_t>((t * hp + h) * D + d)], value(t, (h0 + h) * D + d)) << tokens << " " << t;
    std::vector<float> back(x.size(), -1.0f);
    u.heads_to_seq(hs.data(), back.data());
    EXPECT_EQ(back, x);
    std::vector<float> all(static_cast<size_t>(tokens * 2), -1.0f), mine(static_cast<size_t>(nl * 2));
    for (int64_t t = 0; t < nl; ++t) mine[static_cast<size_t>(2 * t)] = value(off + t, 0), mine[static_cast<size_t>(2 * t + 1)] = value(off + t, 1);
    u.gather_tokens(mine.data(), all.data(), 2);
    for (int64_t t = 0; t < tokens; ++t) EXPECT_EQ(all[static_cast<size_t>(2 * t + 1)], value(t, 1));
  }
  EXPECT_THROW(dist::Ulysses(c, 10, 2 * n + 1, D), Error);
}

// Joint rows replicated on every rank (HunyuanVideo's text): each rank cuts its heads, and the
// heads each rank computed are gathered back into whole rows.
TEST(MpiUlysses, JointRowsTakeAndGatherHeads) {
  auto& c = world();
  const int n = c.size();
  const int64_t heads = 2 * n, D = 3, rows = 7;
  dist::Ulysses u(c, 50, heads, D);
  const int64_t hp = u.local_heads(), h0 = c.rank() * hp;
  std::vector<float> x(static_cast<size_t>(rows * heads * D));
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t j = 0; j < heads * D; ++j) x[static_cast<size_t>(t * heads * D + j)] = value(t, j);
  std::vector<float> mine(static_cast<size_t>(rows * hp * D), -1.0f);
  u.take_heads(x.data(), mine.data(), rows);
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t j = 0; j < hp * D; ++j) ASSERT_EQ(mine[static_cast<size_t>(t * hp * D + j)], value(t, h0 * D + j));
  std::vector<float> back(x.size(), -1.0f);
  u.gather_heads(mine.data(), back.data(), rows);
  EXPECT_EQ(back, x);
}
