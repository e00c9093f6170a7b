// `jenga debug dit-forward` / `debug denoise` with HunyuanVideo inputs as the official code hands
// them over (tools/golden drive the official code on the same files): what is documented as
// optional defaults, what the official code accepts is read exactly, anything else is refused in
// one line naming the tensor.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/rng.h"
#include "io/safetensors.h"
#include "models/hunyuan/hunyuan_config.h"
#include "models/hunyuan/hunyuan_dit.h"
#include "models/hunyuan/hunyuan_dit_cpu.h"
#include "models/hunyuan/hunyuan_tiny.h"
#include "test_util.h"

using namespace jenga;

namespace {

Tensor randn(Shape s, uint64_t seed) {
  Tensor t = Tensor::empty(DType::F32, s);
  fill_normal({t.data_as<float>(), static_cast<size_t>(t.numel())}, seed);
  return t;
}

Tensor values(const std::vector<float>& v, Shape s) { return Tensor::from_f32(v, s); }
Tensor scalar(float v) { return values({v}, Shape{1}); }

// A tiny random HunyuanVideo DiT (HunyuanConfig::tiny(): text dims 48 / 40) in a temp folder.
struct TinyHunyuan {
  test::TempDir dir;
  hunyuan::HunyuanConfig config = hunyuan::HunyuanConfig::tiny();
  std::string model = dir / "dit";
  explicit TinyHunyuan(bool guidance_embed = true) {
    config.guidance_embed = guidance_embed;
    hunyuan::write_random_checkpoint(model, config, 7, DType::F32);
  }
  // debug denoise inputs: noise [16, 1, 4, 6], a 10-row context (6 real) and its pooled vector.
  std::vector<std::pair<std::string, Tensor>> denoise_inputs(int64_t rows = 10) const {
    return {{"noise", randn(Shape{16, 1, 4, 6}, 1)},
            {"context", randn(Shape{rows, config.text_dim}, 2)},
            {"context_valid", scalar(6)},
            {"pooled", randn(Shape{config.text_dim_2}, 3)},
            {"context_null", randn(Shape{rows, config.text_dim}, 4)},
            {"context_null_valid", scalar(4)},
            {"pooled_null", randn(Shape{config.text_dim_2}, 5)}};
  }
};

using Inputs = std::vector<std::pair<std::string, Tensor>>;

Inputs without(Inputs in, const std::string& name) {
  std::erase_if(in, [&](const auto& e) { return e.first == name; });
  return in;
}

Inputs with(Inputs in, const std::string& name, Tensor t) {
  in = without(std::move(in), name);
  in.emplace_back(name, std::move(t));
  return in;
}

std::string write(const test::TempDir& dir, const std::string& name, const Inputs& in) {
  SafetensorsWriter w;
  for (const auto& [n, t] : in) w.add(n, t);
  const std::string path = dir / (name + ".safetensors");
  w.write(path);
  return path;
}

// A tensor stored in a dtype jenga computes in (F64, BOOL, I64 ...), from values.
struct Raw {
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<double> v;
};

std::string write_raw(const test::TempDir& dir, const std::string& name, const Inputs& in,
                      const std::vector<std::pair<std::string, Raw>>& raw) {
  SafetensorsWriter w;
  for (const auto& [n, t] : in) w.add(n, t);
  for (const auto& [n, r] : raw) {
    auto bytes = std::make_shared<std::vector<uint8_t>>();
    for (double x : r.v) {
      auto put = [&](auto y) {
        const auto* b = reinterpret_cast<const uint8_t*>(&y);
        bytes->insert(bytes->end(), b, b + sizeof(y));
      };
      if (r.dtype == "F64") put(x);
      else if (r.dtype == "F32") put(static_cast<float>(x));
      else if (r.dtype == "I64") put(static_cast<int64_t>(x));
      else if (r.dtype == "I32") put(static_cast<int32_t>(x));
      else put(static_cast<uint8_t>(x));  // BOOL, U8
    }
    w.add_view(n, r.dtype, r.shape, *bytes, bytes);
  }
  const std::string path = dir / (name + ".safetensors");
  w.write(path);
  return path;
}

std::vector<float> latents_of(const std::string& path, const char* name = "latents") {
  return SafetensorsFile::open(path)->load(name, DType::F32).to_f32_vector();
}

// dit-forward inputs of the tiny model: x [16, 2, 4, 6], 8 text rows (5 real), guidance 6016.
Inputs forward_inputs(const hunyuan::HunyuanConfig& c) {
  Tensor mask = values({1, 1, 1, 1, 1, 0, 0, 0}, Shape{8});
  return {{"x", randn(Shape{16, 2, 4, 6}, 11)},          {"t", scalar(500)},
          {"text_states", randn(Shape{8, c.text_dim}, 12)}, {"text_mask", mask},
          {"text_states_2", randn(Shape{c.text_dim_2}, 13)}, {"guidance", scalar(6016)}};
}

}  // namespace

// The docs: context_valid / context_null_valid default to all rows. Absent, the loop runs on every
// row (the same latents as an explicit count of all rows), with and without the negative branch,
// and for I2V's 396-row context (it crashed reading the absent tensor).
TEST(DebugInputs, DenoiseValidCountsDefaultToAllRows) {
  TinyHunyuan hy;
  const test::TempDir& d = hy.dir;
  auto run = [&](const std::string& name, const Inputs& in, const std::string& extra = "") {
    const auto r = test::run_jenga("debug denoise -q --steps 2 --model " + hy.model + " --inputs " + write(d, name, in) +
                                   " --out " + (d / (name + ".out.safetensors")) + extra);
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.output;
    return r.exit_code == 0 ? SafetensorsFile::open(d / (name + ".out.safetensors"))->load("latents", DType::F32).to_f32_vector()
                            : std::vector<float>{};
  };
  const Inputs base = hy.denoise_inputs();
  const auto all = run("all", with(with(base, "context_valid", scalar(10)), "context_null_valid", scalar(10)), " --cfg-scale 2");
  const auto absent = run("absent", without(without(base, "context_valid"), "context_null_valid"), " --cfg-scale 2");
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(absent, all);
  EXPECT_EQ(run("one", without(base, "context_valid")), run("one_all", with(base, "context_valid", scalar(10))));
  // I2V: 144 image + 252 prompt rows, image_latent held in frame 0.
  Inputs i2v = without(hy.denoise_inputs(396), "context_valid");
  i2v.emplace_back("image_latent", randn(Shape{16, 1, 4, 6}, 9));
  EXPECT_FALSE(run("i2v", i2v, " --i2v").empty());
}

// A HunyuanVideo DiT without a guidance embedding (HunyuanVideo-I2V's HYVideo-T/2) at the default
// --cfg-scale 1 runs the official loop's one conditional forward (no CFG at a scale <= 1): one
// Euler step from sigma 1 is noise - v(noise, t = 1000). It failed with "no conditioning for branch 1".
TEST(DebugInputs, DenoiseWithoutGuidanceEmbeddingRunsOneBranch) {
  TinyHunyuan hy(/*guidance_embed=*/false);
  const test::TempDir& d = hy.dir;
  const Inputs in = hy.denoise_inputs();
  const auto r = test::run_jenga("debug denoise -q --steps 1 --model " + hy.model + " --inputs " + write(d, "in", in) +
                                 " --out " + (d / "o.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("1 forwards"), std::string::npos) << r.output;
  const hunyuan::HunyuanDit dit = hunyuan::load_hunyuan_dit(hy.model);
  const Tensor& noise = in[0].second;
  const Tensor& ctx = in[1].second;
  const auto v = hunyuan::hunyuan_forward_cpu(dit, noise.data_as<float>(), 1, 4, 6, 1000.0f, ctx.data_as<float>(), 10, 6,
                                              in[3].second.data_as<float>(), 0.0f);
  const auto got = latents_of(d / "o.safetensors");
  ASSERT_EQ(got.size(), v.size());
  for (size_t i = 0; i < v.size(); ++i) ASSERT_NEAR(got[i], noise.data_as<float>()[i] - v[i], 1e-4) << i;
  // --cfg-scale 2: both branches a step.
  const auto c = test::run_jenga("debug denoise -q --steps 1 --cfg-scale 2 --model " + hy.model + " --inputs " +
                                 (d / "in.safetensors") + " --out " + (d / "c.safetensors"));
  ASSERT_EQ(c.exit_code, 0) << c.output;
  EXPECT_NE(c.output.find("2 forwards"), std::string::npos) << c.output;
}

// generate on a folder whose DiT has no guidance embedding: one forward a step at the default
// --cfg-scale 1, two at 3; --embedded-cfg-scale is refused (the DiT has nothing to take it).
TEST(DebugInputs, GenerateWithoutGuidanceEmbeddingRunsOneBranch) {
  test::TempDir dir;
  const std::string model = dir / "ckpts";
  ASSERT_EQ(test::run_jenga("debug make-tiny --family hunyuan --seed 3 --out " + model).exit_code, 0);
  const std::string dit = model + "/hunyuan-video-t2v-720p/transformers";
  std::filesystem::remove_all(dit);
  hunyuan::HunyuanConfig c = hunyuan::HunyuanConfig::tiny();
  c.guidance_embed = false;
  hunyuan::write_random_checkpoint(dit, c, 5, DType::F32);
  const std::string common = "generate --model " + model + " -p cat --size 32x32 --frames 5 -q ";
  const auto g = test::run_jenga(common + "--steps 2 -o " + (dir / "a.y4m"));
  ASSERT_EQ(g.exit_code, 0) << g.output;
  std::ifstream sa(dir / "a.y4m.json");
  EXPECT_EQ(nlohmann::json::parse(sa)["forwards"], 2);
  const auto t = test::run_jenga(common + "--steps 2 --cfg-scale 3 -o " + (dir / "b.y4m"));
  ASSERT_EQ(t.exit_code, 0) << t.output;
  std::ifstream sb(dir / "b.y4m.json");
  EXPECT_EQ(nlohmann::json::parse(sb)["forwards"], 4);
  const auto e = test::run_jenga(common + "--steps 2 --embedded-cfg-scale 5 -o " + (dir / "e.y4m"));
  EXPECT_EQ(e.exit_code, 2) << e.output;
  EXPECT_NE(e.output.find("guidance embedding"), std::string::npos) << e.output;
}
