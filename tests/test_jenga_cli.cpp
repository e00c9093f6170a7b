// `jenga debug curve|neighbors|carve-mask|schedule` through the binary.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/tensor.h"
#include "io/safetensors.h"
#include "jenga/block_neighbors.h"
#include "jenga/carve_mask.h"
#include "jenga/gilbert_curve.h"
#include "test_util.h"

using namespace jenga;
using jenga::test::run_jenga;

TEST(JengaCli, CurveAndNeighborsJson) {
  auto r = run_jenga("debug curve --shape 3,5,7 --sliced");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  CurveSpec s;
  s.t = 3;
  s.h = 5;
  s.w = 7;
  s.sliced = true;
  EXPECT_EQ(nlohmann::json::parse(r.output)["order"].get<std::vector<int32_t>>(), build_curve(s).order);
  r = run_jenga("debug curve --shape 3,5,7 --order 2,1,0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  s.axes = std::array<int, 3>{2, 1, 0};
  EXPECT_EQ(nlohmann::json::parse(r.output)["order"].get<std::vector<int32_t>>(), build_curve(s).order);
  r = run_jenga("debug neighbors --shape 4,9,11 --block 16");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  s.axes.reset();
  s.sliced = false;
  s.t = 4;
  s.h = 9;
  s.w = 11;
  const auto nb = build_block_neighbors(build_curve(s), 16);
  const auto rows = nlohmann::json::parse(r.output)["neighbors"];
  ASSERT_EQ(static_cast<int64_t>(rows.size()), nb.blocks);
  for (int64_t b = 0; b < nb.blocks; ++b) {
    const auto got = rows[b].get<std::vector<int32_t>>();
    EXPECT_EQ(got, std::vector<int32_t>(nb.of(b).begin(), nb.of(b).end()));
  }
}

TEST(JengaCli, BadArgumentsExit2) {
  for (const char* args : {"debug curve --shape 0,5,7", "debug curve --shape 3,5", "debug curve --shape 3,5,7 --order 0,0,1",
                           "debug neighbors --shape 2,2,2 --block 0", "debug schedule --preset nope --model wan",
                           "debug schedule --preset turbo --model hunyuan --steps -3"}) {
    const auto r = run_jenga(args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.output;
    EXPECT_NE(r.output.find("error: "), std::string::npos) << args;
  }
}

TEST(JengaCli, CarveMaskWritesOfficialMask) {
  jenga::test::TempDir dir;
  // B 2, H 2, N 300 (3 blocks, ragged), D 4, bf16 q and f32 k.
  const int64_t B = 2, H = 2, N = 300, D = 4;
  std::vector<float> q(B * H * N * D), k(q.size());
  for (size_t i = 0; i < q.size(); ++i) {
    q[i] = std::sin(0.37f * i) + ((i / (128 * D)) % 3);
    k[i] = std::cos(0.11f * i) * ((i / (128 * D)) % 3);
  }
  const Tensor qt = Tensor::from_f32(q, Shape{B, H, N, D}, DType::BF16);
  const Tensor kt = Tensor::from_f32(k, Shape{B, H, N, D});
  SafetensorsWriter wq, wk;
  wq.add("q", qt);
  wq.write(dir / "q.safetensors");
  wk.add("k", kt);
  wk.write(dir / "k.safetensors");
  const std::string base = "debug carve-mask --q " + (dir / "q.safetensors") + " --k " + (dir / "k.safetensors");
  auto r = run_jenga(base + " --top-k 1 --p 0.4 --text-blocks 1 --neighbors-shape 2,2,43 --out " + (dir / "m.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto f = SafetensorsFile::open(dir / "m.safetensors");
  const Tensor m = f->load("mask");
  ASSERT_EQ(m.shape(), (Shape{B, H, 3, 3}));
  CarveParams prm;
  prm.top_k = 1;
  prm.p = 0.4;
  prm.text_blocks = 1;
  CurveSpec s;
  s.t = 2;
  s.h = 2;
  s.w = 43;
  auto nb = cached_block_neighbors(s);
  prm.neighbors = nb.get();
  const auto qf = qt.to_f32_vector();
  const auto ref = build_carve_mask(qf.data(), k.data(), B, H, N, D, prm);
  EXPECT_EQ(std::vector<uint8_t>(m.data_as<uint8_t>(), m.data_as<uint8_t>() + m.numel()), ref.onehot);
  EXPECT_EQ(f->header().metadata.at("rounding"), "f32");  // the CPU's default
  // --rounding bf16: the official autocast rounding of means and scores, as build_carve_mask's.
  r = run_jenga(base + " --top-k 1 --p 0.4 --text-blocks 1 --neighbors-shape 2,2,43 --rounding bf16 --out " +
                (dir / "m16.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto f16 = SafetensorsFile::open(dir / "m16.safetensors");
  EXPECT_EQ(f16->header().metadata.at("rounding"), "bf16");
  const Tensor m16 = f16->load("mask");
  prm.bf16_rounding = true;
  const auto ref16 = build_carve_mask(qf.data(), k.data(), B, H, N, D, prm);
  EXPECT_EQ(std::vector<uint8_t>(m16.data_as<uint8_t>(), m16.data_as<uint8_t>() + m16.numel()), ref16.onehot);
  r = run_jenga(base + " --top-k 1 --p 0.4 --rounding f16 --out " + (dir / "x.safetensors"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  // Grid that does not hold the vision tokens, p out of range, missing file.
  r = run_jenga(base + " --top-k 1 --p 0.4 --text-blocks 1 --neighbors-shape 2,4,22 --out " + (dir / "x.safetensors"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_jenga(base + " --top-k 1 --p -0.5 --out " + (dir / "x.safetensors"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_jenga("debug carve-mask --q " + (dir / "none.safetensors") + " --k " + (dir / "k.safetensors") +
                " --top-k 1 --p 0.5 --out " + (dir / "x.safetensors"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  r = run_jenga("debug carve-mask --q " + (dir / "k.safetensors") + " --k " + (dir / "k.safetensors") +
                " --top-k 1 --p 0.5 --out " + (dir / "x.safetensors"));
  EXPECT_EQ(r.exit_code, 2) << r.output;  // no tensor named q
  std::vector<float> bad = k;
  bad[17] = NAN;
  SafetensorsWriter wn;
  wn.add("k", Tensor::from_f32(bad, Shape{B, H, N, D}));
  wn.write(dir / "nan.safetensors");
  r = run_jenga(base.substr(0, base.find(" --k ")) + " --k " + (dir / "nan.safetensors") + " --top-k 1 --p 0.5 --out " +
                (dir / "x.safetensors"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("NaN"), std::string::npos) << r.output;
}

TEST(JengaCli, ScheduleJson) {
  auto r = run_jenga("debug schedule --preset turbo --model hunyuan --steps 50");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  ASSERT_EQ(j["plan"].size(), 50u);
  EXPECT_EQ(j["plan"][25]["stage_switch"]["new_shift"], 9.0);
  EXPECT_EQ(j["plan"][5]["compute"], "reused");
  EXPECT_EQ(j["plan"][5]["reused"], true);
  EXPECT_EQ(j["plan"][4]["reused"], false);
  EXPECT_EQ(j["plan"][0]["resolution"], (std::vector<int>{528, 960}));  // 0.75 x 720p
  EXPECT_EQ(j["plan"][30]["resolution"], (std::vector<int>{720, 1280}));
  r = run_jenga("debug schedule --preset turbo-14b --model wan");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto w = nlohmann::json::parse(r.output);
  EXPECT_EQ(w["plan"][10]["cond"], "model-dependent");
  EXPECT_EQ(w["plan"][30]["drop_rate"], 0.9);
}

// Wan takes jenga_wan.py's flags too: one drop rate for both stages (the official loop reuses
// rates[0] after step 25), p, the TeaCache threshold, and any size / frame count.
TEST(JengaCli, ScheduleWanTakesTheOfficialScriptFlags) {
  auto r = run_jenga("debug schedule --model wan --preset base --steps 40 --sa-drop-rates 0.5 --p-remain-rates 0.3 "
                     "--teacache-thresh 0.2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["p_remain"], 0.3);
  EXPECT_EQ(j["teacache"]["thresh"], 0.2);
  ASSERT_EQ(j["plan"].size(), 40u);
  EXPECT_EQ(j["plan"][30]["drop_rate"], 0.5);
  EXPECT_EQ(j["plan"][30]["top_k"], 128);  // int(ceil(21 * 30 * 52 / 128) * (1 - 0.5))
  r = run_jenga("debug schedule --model wan --preset turbo --size 1280x720 --frames 33 --steps 30");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["plan"][0]["tokens"], (std::vector<int>{9, 33, 60}));  // int(45 * 0.75), int(80 * 0.75)
  EXPECT_EQ(j["plan"][29]["tokens"], (std::vector<int>{9, 45, 80}));
  EXPECT_EQ(j["plan"][29]["top_k"], 38);  // int(ceil(9 * 45 * 80 / 128) * (1 - 0.85)), 1.3B's rates
  EXPECT_EQ(run_jenga("debug schedule --model wan --preset base --size 832x470").exit_code, 2);
  EXPECT_EQ(run_jenga("debug schedule --model wan --preset base --frames 80").exit_code, 2);
  EXPECT_EQ(run_jenga("debug schedule --model wan --preset base --step-rate-list 0.5 1.0").exit_code, 2);
}

// The plan of a size generate refuses is refused too (same line), the I2V preset has one.
TEST(JengaCli, ScheduleRefusesGridsJengaCannotTakeAndKnowsI2v) {
  auto bad = run_jenga("debug schedule --preset turbo --model hunyuan --size 848x480 --frames 33");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("7722 image tokens, not a multiple of 128"), std::string::npos) << bad.output;
  auto small = run_jenga("debug schedule --preset 3stage --model hunyuan --size 512x288 --frames 125");
  ASSERT_EQ(small.exit_code, 0) << small.output;
  EXPECT_EQ(nlohmann::json::parse(small.output)["plan"].size(), 50u);
  auto i2v = run_jenga("debug schedule --preset i2v-base --model hunyuan");
  ASSERT_EQ(i2v.exit_code, 0) << i2v.output;
  const auto j = nlohmann::json::parse(i2v.output);
  int computed = 0;
  for (const auto& s : j["plan"]) computed += s["compute"] == "computed";
  EXPECT_EQ(computed, 24);  // jenga_hyi2v.py: 24 of 50 steps
}

// `--preset dense` prints the official loop's plan (every step computed, full attention, the
// release's default size / steps / shift); --model hunyuan-i2v and accvideo pick the release.
TEST(JengaCli, ScheduleDensePlanAndReleaseModels) {
  auto count_computed = [](const nlohmann::json& j) {
    int n = 0;
    for (const auto& s : j["plan"]) n += s["compute"] == "computed" && s["attention"] == "dense";
    return n;
  };
  auto t2v = run_jenga("debug schedule --model hunyuan --preset dense");
  ASSERT_EQ(t2v.exit_code, 0) << t2v.output;
  auto j = nlohmann::json::parse(t2v.output);
  EXPECT_EQ(count_computed(j), 50);
  EXPECT_EQ(j["frames"], 129);
  EXPECT_EQ(j["plan"][0]["shift"], 7.0);
  EXPECT_EQ(j["plan"][0]["tokens"], (std::vector<int>{33, 45, 80}));
  auto few = run_jenga("debug schedule --model hunyuan --preset dense --steps 7");
  ASSERT_EQ(few.exit_code, 0) << few.output;
  j = nlohmann::json::parse(few.output);
  EXPECT_EQ(j["plan"].size(), 7u);
  EXPECT_EQ(count_computed(j), 7);
  auto acc = run_jenga("debug schedule --model accvideo --preset dense");
  ASSERT_EQ(acc.exit_code, 0) << acc.output;
  j = nlohmann::json::parse(acc.output);
  EXPECT_EQ(count_computed(j), 5);
  EXPECT_EQ(j["size"], (std::vector<int>{960, 544}));
  auto i2v = run_jenga("debug schedule --model hunyuan-i2v --preset dense");
  ASSERT_EQ(i2v.exit_code, 0) << i2v.output;
  EXPECT_EQ(nlohmann::json::parse(i2v.output)["plan"][0]["shift"], 17.0);  // config.py's I2V default
  auto base = run_jenga("debug schedule --model hunyuan-i2v --preset base");
  ASSERT_EQ(base.exit_code, 0) << base.output;
  EXPECT_EQ(nlohmann::json::parse(base.output)["preset"], "i2v-base");
  auto wrong = run_jenga("debug schedule --model hunyuan-i2v --preset turbo");
  EXPECT_EQ(wrong.exit_code, 2) << wrong.output;
  EXPECT_NE(wrong.output.find("runs --preset base"), std::string::npos) << wrong.output;
  auto wan = run_jenga("debug schedule --model wan --preset dense");
  EXPECT_EQ(wan.exit_code, 2) << wan.output;
  EXPECT_NE(wan.output.find("official loop"), std::string::npos) << wan.output;
  auto flags = run_jenga("debug schedule --model hunyuan --preset dense --sa-drop-rates 0.5");
  EXPECT_EQ(flags.exit_code, 2) << flags.output;
  // An unknown name lists what --preset takes, dense included.
  auto unknown = run_jenga("debug schedule --model hunyuan --preset nope");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.output;
  EXPECT_NE(unknown.output.find("use one of dense, base, turbo"), std::string::npos) << unknown.output;
}
