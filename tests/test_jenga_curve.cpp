// Curves and block-neighbour sets against goldens from the official gilbert.py
// (tools/golden/jenga_core_golden.py).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/safetensors.h"
#include "jenga/block_neighbors.h"
#include "jenga/gilbert_curve.h"

using namespace jenga;

namespace {

const std::string kDir = std::string(JENGA_TEST_DATA) + "/jenga_core/";

std::vector<int32_t> ints(const SafetensorsFile& f, const std::string& name) {
  Tensor t = f.load(name);
  const int32_t* p = t.data_as<int32_t>();
  return {p, p + t.numel()};
}

CurveSpec spec_for(const std::vector<int32_t>& shape, const std::string& variant) {
  CurveSpec s;
  s.t = shape[0];
  s.h = shape[1];
  s.w = shape[2];
  if (variant == "sliced") s.sliced = true;
  if (variant.size() == 4 && variant[0] == 't')
    s.axes = std::array<int, 3>{variant[1] - '0', variant[2] - '0', variant[3] - '0'};
  return s;
}

}  // namespace

TEST(JengaCurve, MatchesOfficialGoldens) {
  int files = 0, full = 0, neighbour_sets = 0;
  for (const auto& e : std::filesystem::directory_iterator(kDir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("curve_", 0) != 0) continue;
    SCOPED_TRACE(name);
    ++files;
    // curve_TxHxW_<variant>.safetensors
    const std::string stem = e.path().stem().string();
    const std::string variant = stem.substr(stem.rfind('_') + 1);
    auto f = SafetensorsFile::open(e.path().string());
    const CurveSpec spec = spec_for(ints(*f, "shape"), variant);
    const Curve c = build_curve(spec);
    for (size_t i = 0; i < c.order.size(); ++i) ASSERT_EQ(c.inverse[c.order[i]], static_cast<int32_t>(i));
    if (f->find("order")) {
      ++full;
      EXPECT_EQ(c.order, ints(*f, "order"));
    } else {
      const auto pos = ints(*f, "order_pos");
      const auto val = ints(*f, "order_val");
      ASSERT_EQ(pos.size(), val.size());
      ASSERT_GT(pos.size(), 1000u);
      for (size_t i = 0; i < pos.size(); ++i) ASSERT_EQ(c.order[pos[i]], val[i]) << "position " << pos[i];
    }
    if (f->find("nb_offsets")) {
      ++neighbour_sets;
      const auto nb = build_block_neighbors(c, 128);
      EXPECT_EQ(nb.offsets, ints(*f, "nb_offsets"));
      EXPECT_EQ(nb.indices, ints(*f, "nb_indices"));
    }
  }
  EXPECT_GE(files, 20);
  EXPECT_GE(full, 15);
  EXPECT_EQ(neighbour_sets, 12);
}

TEST(JengaCurve, CachedAndValidated) {
  CurveSpec s;
  s.t = 3;
  s.h = 5;
  s.w = 7;
  auto a = cached_curve(s), b = cached_curve(s);
  EXPECT_EQ(a.get(), b.get());
  s.sliced = true;
  EXPECT_NE(cached_curve(s).get(), a.get());
  s.h = 0;
  EXPECT_THROW(build_curve(s), UsageError);
  s.h = 5;
  s.axes = std::array<int, 3>{0, 0, 2};
  EXPECT_THROW(build_curve(s), UsageError);
  // Sliced curves stay inside one frame per H*W positions.
  s.axes.reset();
  const Curve c = build_curve(s);
  for (size_t i = 0; i < c.order.size(); ++i) EXPECT_EQ(c.order[i] / 35, static_cast<int32_t>(i / 35));
}

TEST(JengaNeighbors, SymmetricAndSelf) {
  CurveSpec s;
  s.t = 4;
  s.h = 9;
  s.w = 11;
  const auto nb = build_block_neighbors(build_curve(s), 16);
  const auto dense = nb.to_dense();
  for (int64_t i = 0; i < nb.blocks; ++i) {
    EXPECT_TRUE(dense[i * nb.blocks + i]);
    for (int64_t j = 0; j < nb.blocks; ++j) EXPECT_EQ(dense[i * nb.blocks + j], dense[j * nb.blocks + i]);
  }
}
