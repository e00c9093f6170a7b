// A test suite over the tiny random HunyuanVideo DiT (HunyuanConfig::tiny(), seed 7, f32: the
// model the golden scripts of tools/golden rebuild) and one golden file under hunyuan_dit/.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "models/hunyuan/hunyuan_dit.h"
#include "models/hunyuan/hunyuan_tiny.h"
#include "test_util.h"

namespace jenga::test {

template <const char* kGoldenFile>
class HunyuanDitWithGolden : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TempDir dir;
    hunyuan::write_random_checkpoint(dir.path().string(), hunyuan::HunyuanConfig::tiny(), 7, DType::F32);
    model_.emplace(hunyuan::load_hunyuan_dit(dir.path().string()));
    golden_.emplace(Checkpoint::open(std::string(JENGA_TEST_DATA) + "/hunyuan_dit/" + kGoldenFile));
  }
  static void TearDownTestSuite() {
    model_.reset();
    golden_.reset();
  }
  static std::vector<float> g(const std::string& name) { return golden_->load(name, DType::F32).to_f32_vector(); }
  static const hunyuan::HunyuanDit& m() { return *model_; }
  // Real text tokens of the golden's text_mask (of the case whose tensor names start with prefix).
  static int64_t valid(const std::string& prefix = "") {
    int64_t n = 0;
    for (float v : g(prefix + "text_mask")) n += v > 0.5f;
    return n;
  }
  static inline std::optional<hunyuan::HunyuanDit> model_;
  static inline std::optional<Checkpoint> golden_;
};

}  // namespace jenga::test
