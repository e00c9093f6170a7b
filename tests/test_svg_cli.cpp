// `jenga debug svg-classify` through the binary, on the official golden q/k/v and sampled rows.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "test_util.h"

using namespace jenga;
using jenga::test::run_jenga;

namespace {
std::string golden(const std::string& name) { return std::string(JENGA_TEST_DATA) + "/svg/" + name + ".safetensors"; }
}  // namespace

TEST(SvgCli, ClassifyMatchesOfficialAndWritesLayout) {
  const std::string g = golden("ragged");
  jenga::test::TempDir dir;
  const std::string out = dir / "layout.safetensors";
  const auto r = run_jenga("debug svg-classify --q " + g + " --k " + g + " --v " + g +
                           " --frames 5 --frame-tokens 56 --sparsity 0.6 --sampled-rows " + g + " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  auto f = SafetensorsFile::open(g);
  const Tensor best = f->load("best");
  ASSERT_EQ(j["heads"].size(), static_cast<size_t>(best.numel()));
  for (int64_t h = 0; h < best.numel(); ++h)
    EXPECT_EQ(j["heads"][h]["pattern"].get<std::string>(), best.data_as<int32_t>()[h] ? "temporal" : "spatial");
  auto o = SafetensorsFile::open(out);
  const Tensor mask = o->load("mask"), order = o->load("order"), cover = f->load("block_cover");
  ASSERT_EQ(mask.dim(0), best.numel());
  for (int64_t h = 0; h < mask.dim(0); ++h)
    for (int64_t t = 0; t < cover.numel(); ++t)
      EXPECT_EQ(mask.data_as<uint8_t>()[h * cover.numel() + t], cover.data_as<uint8_t>()[t]);
  const Tensor gold_order = f->load("order");
  ASSERT_EQ(order.numel(), gold_order.numel());
  for (int64_t i = 0; i < order.numel(); ++i) ASSERT_EQ(order.data_as<int32_t>()[i], gold_order.data_as<int32_t>()[i]);
}

TEST(SvgCli, OwnSamplerRunsAndBadArgumentsExit2) {
  const std::string g = golden("aligned");
  const std::string base = "debug svg-classify --q " + g + " --k " + g + " --v " + g;
  auto r = run_jenga(base + " --frames 3 --frame-tokens 128 --seed 5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output)["heads"].size(), 4u);
  r = run_jenga(base + " --frames 4 --frame-tokens 128");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--frames 4"), std::string::npos) << r.output;
  r = run_jenga(base + " --frames 3 --frame-tokens 128 --sparsity 0");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_jenga(base + " --frames 3 --frame-tokens 128 --sampled-rows " + g.substr(0, g.size() - 3));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--sampled-rows"), std::string::npos) << r.output;
  r = run_jenga("debug svg-classify --q " + g + " --k " + g + " --frames 3 --frame-tokens 128");
  EXPECT_EQ(r.exit_code, 2) << r.output;  // --v missing
}
