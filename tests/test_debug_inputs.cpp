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

// AccVideo has T2V's tensors: in debug denoise its path or --accvideo says so, as in generate.
// --preset accvideo is accvideo_jenga.sh, Turbo's flags at 5 steps (5 also the default), so it
// gives Turbo's latents at 5 steps. It was refused for every DiT, naming an --accvideo flag that
// debug denoise did not have.
TEST(DebugInputs, DenoiseRunsTheAccVideoPreset) {
  TinyHunyuan hy;
  const test::TempDir& d = hy.dir;
  const std::string acc = d / "AccVideo/accvideo-t2v-5-steps";
  hunyuan::write_random_checkpoint(acc, hy.config, 7, DType::F32);  // hy.model's weights
  // Stage 0 [2, 32, 48] and full [2, 44, 64] latents: 768 and 1408 tokens, whole 128-token blocks.
  const Inputs in = {{"noise", randn(Shape{16, 2, 32, 48}, 1)},
                     {"noise_full", randn(Shape{16, 2, 44, 64}, 2)},
                     {"context", randn(Shape{10, hy.config.text_dim}, 3)},
                     {"context_valid", scalar(6)},
                     {"pooled", randn(Shape{hy.config.text_dim_2}, 4)}};
  const std::string path = write(d, "in", in);
  auto run = [&](const std::string& model, const std::string& flags, const std::string& name) {
    return test::run_jenga("debug denoise -q --model " + model + " --inputs " + path + " --out " +
                           (d / (name + ".safetensors")) + " " + flags);
  };
  const auto turbo = run(hy.model, "--preset turbo --steps 5", "turbo");
  ASSERT_EQ(turbo.exit_code, 0) << turbo.output;
  const auto named = run(acc, "--preset accvideo", "named");
  ASSERT_EQ(named.exit_code, 0) << named.output;
  EXPECT_NE(named.output.find("5 forwards"), std::string::npos) << named.output;
  EXPECT_EQ(latents_of(d / "named.safetensors"), latents_of(d / "turbo.safetensors"));
  const auto flagged = run(hy.model, "--accvideo --preset accvideo --steps 5", "flagged");
  ASSERT_EQ(flagged.exit_code, 0) << flagged.output;
  EXPECT_EQ(latents_of(d / "flagged.safetensors"), latents_of(d / "turbo.safetensors"));
  // sample_t2v.py: the dense loop, 5 steps by default; --steps still wins.
  const std::string dense_path = write(d, "dense_in", hy.denoise_inputs());
  const auto five = test::run_jenga("debug denoise -q --model " + acc + " --inputs " + dense_path + " --out " + (d / "five.safetensors"));
  ASSERT_EQ(five.exit_code, 0) << five.output;
  EXPECT_NE(five.output.find("5 forwards"), std::string::npos) << five.output;
  const auto two = test::run_jenga("debug denoise -q --steps 2 --model " + acc + " --inputs " + dense_path + " --out " +
                                   (d / "two.safetensors"));
  EXPECT_NE(two.output.find("2 forwards"), std::string::npos) << two.output;
  // A T2V DiT is refused the preset, naming the flag; AccVideo is no I2V DiT.
  const auto t2v = run(hy.model, "--preset accvideo", "t2v");
  EXPECT_EQ(t2v.exit_code, 2);
  EXPECT_NE(t2v.output.find("--accvideo"), std::string::npos) << t2v.output;
  const auto both = run(acc, "--accvideo --i2v", "both");
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_NE(both.output.find("--accvideo and --i2v"), std::string::npos) << both.output;
}

// Jenga's sparse attention on HunyuanVideo: the official kernel's sequence always holds the LLM's
// 256 text rows, and its text queries attend over all of them, padding included. A shorter
// context is run as that context zero-padded to 256 rows (bit-identical latents); it ran on its
// own rows only (rel 1e-3 from the official run on the zero-padded context).
TEST(DebugInputs, DenoiseJengaPadsTheTextToTheOfficial256Rows) {
  TinyHunyuan hy;
  const test::TempDir& d = hy.dir;
  const Tensor ctx = randn(Shape{12, hy.config.text_dim}, 3), ctx_null = randn(Shape{20, hy.config.text_dim}, 5);
  auto padded = [&](const Tensor& t) {
    std::vector<float> v(static_cast<size_t>(256 * hy.config.text_dim), 0.0f);
    std::copy_n(t.data_as<float>(), t.numel(), v.data());
    return Tensor::from_f32(v, Shape{256, hy.config.text_dim});
  };
  // Base at [1, 16, 32] latents: 128 image tokens, one whole block.
  auto inputs = [&](const Tensor& c, const Tensor& cn) {
    return Inputs{{"noise", randn(Shape{16, 1, 16, 32}, 1)}, {"context", c},        {"context_valid", scalar(7)},
                  {"pooled", randn(Shape{hy.config.text_dim_2}, 4)}, {"context_null", cn}, {"context_null_valid", scalar(9)},
                  {"pooled_null", randn(Shape{hy.config.text_dim_2}, 6)}};
  };
  auto run = [&](const std::string& name, const Inputs& in, const std::string& flags) {
    const auto r = test::run_jenga("debug denoise -q --steps 2 --preset base --model " + hy.model + " --inputs " +
                                   write(d, name, in) + " --out " + (d / (name + ".out.safetensors")) + " " + flags);
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.output;
    return r.exit_code == 0 ? latents_of(d / (name + ".out.safetensors")) : std::vector<float>{};
  };
  for (const std::string flags : {"", "--cfg-scale 3"}) {
    const auto short_rows = run("short", inputs(ctx, ctx_null), flags);
    const auto full_rows = run("full", inputs(padded(ctx), padded(ctx_null)), flags);
    ASSERT_FALSE(short_rows.empty());
    EXPECT_EQ(short_rows, full_rows) << flags;
  }
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

// dit-forward checks each input's exact shape (a leading batch dim of 1 is fine): text states of
// the wrong width, transposed or batched, a guidance of two values, an empty x were reinterpreted
// by element count (exit 0, a wrong output). Each is one line naming the tensor and both shapes.
TEST(DebugInputs, DitForwardChecksEachShape) {
  TinyHunyuan hy;
  const test::TempDir& d = hy.dir;
  const Inputs base = forward_inputs(hy.config);
  auto run = [&](const std::string& name, const Inputs& in) {
    return test::run_jenga("debug dit-forward --model " + hy.model + " --inputs " + write(d, name, in) + " --out " +
                           (d / (name + ".out.safetensors")));
  };
  const auto ok = run("ok", base);
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  const Tensor& txt = base[2].second;
  struct Bad {
    std::string name;
    Inputs in;
    std::string says;
  };
  const std::vector<Bad> bad{
      {"txt_batch2", with(base, "text_states", randn(Shape{2, 8, 48}, 1)), "'text_states' has shape [2, 8, 48]; expected [L, 48]"},
      {"txt_width", with(base, "text_states", randn(Shape{16, 24}, 1)), "'text_states' has shape [16, 24]; expected [L, 48]"},
      {"txt_transposed", with(base, "text_states", randn(Shape{48, 8}, 1)), "'text_states' has shape [48, 8]; expected [L, 48]"},
      {"txt2_batch2", with(base, "text_states_2", randn(Shape{2, 40}, 1)), "'text_states_2' has shape [2, 40]; expected [40]"},
      {"guidance2", with(base, "guidance", values({6016, 1}, Shape{2})), "'guidance' has shape [2]; expected one value"},
      {"t2", with(base, "t", values({1, 2}, Shape{2})), "'t' has shape [2]; expected one value"},
      {"x_empty", with(base, "x", Tensor::empty(DType::F32, Shape{16, 0, 4, 6})), "'x' has shape [16, 0, 4, 6]; expected [16, F, H, W]"},
      {"x_batch2", with(base, "x", randn(Shape{2, 16, 2, 4, 6}, 1)), "'x' has shape [2, 16, 2, 4, 6]; expected [16, F, H, W]"},
      {"x_channels", with(base, "x", randn(Shape{8, 2, 4, 6}, 1)), "'x' has shape [8, 2, 4, 6]; expected [16, F, H, W]"},
      {"mask_len", with(base, "text_mask", values({1, 1, 0}, Shape{3})), "'text_mask' has shape [3]; expected [8]"},
  };
  for (const Bad& b : bad) {
    const auto r = run(b.name, b.in);
    EXPECT_EQ(r.exit_code, 1) << b.name << ": " << r.output;
    EXPECT_NE(r.output.find(b.says), std::string::npos) << b.name << ": " << r.output;
    EXPECT_FALSE(std::filesystem::exists(d / (b.name + ".out.safetensors"))) << b.name;
  }
  // Batch 1 of every input: the same output.
  Inputs b1;
  for (const auto& [n, t] : base) {
    std::vector<int64_t> dims{1};
    for (int i = 0; i < t.ndim(); ++i) dims.push_back(t.dim(i));
    b1.emplace_back(n, values(t.to_f32_vector(), Shape(dims)));
  }
  ASSERT_EQ(run("batch1", b1).exit_code, 0);
  EXPECT_EQ(latents_of(d / "batch1.out.safetensors", "out"), latents_of(d / "ok.out.safetensors", "out"));
  (void)txt;
}

// What the official code hands over is read exactly: the tokenizer's int64 (or a bool) text_mask,
// t / guidance as i64 or f64, context_valid as i64: the same output as f32. A non-integer count,
// a mask value other than 0 / 1 and an all-padding mask are refused in one line.
TEST(DebugInputs, OfficialDtypesAreReadExactly) {
  TinyHunyuan hy;
  const test::TempDir& d = hy.dir;
  const Inputs base = forward_inputs(hy.config);
  auto forward = [&](const std::string& name, const std::string& path) {
    return test::run_jenga("debug dit-forward --model " + hy.model + " --inputs " + path + " --out " +
                           (d / (name + ".out.safetensors")));
  };
  ASSERT_EQ(forward("ok", write(d, "ok", base)).exit_code, 0);
  const auto want = latents_of(d / "ok.out.safetensors", "out");
  const std::vector<double> mask{1, 1, 1, 1, 1, 0, 0, 0};
  const std::vector<std::pair<std::string, std::vector<std::pair<std::string, Raw>>>> same{
      {"mask_i64", {{"text_mask", {"I64", {1, 8}, mask}}}},
      {"mask_bool", {{"text_mask", {"BOOL", {8}, mask}}}},
      {"t_i64", {{"t", {"I64", {1}, {500}}}}},
      {"t_f64", {{"t", {"F64", {}, {500}}}}},
      {"guidance_i32", {{"guidance", {"I32", {1}, {6016}}}}},
      {"guidance_f64", {{"guidance", {"F64", {1}, {6016}}}}},
  };
  for (const auto& [name, raw] : same) {
    Inputs in = base;
    for (const auto& [n, r] : raw) in = without(in, n);
    const auto r = forward(name, write_raw(d, name, in, raw));
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.output;
    EXPECT_EQ(latents_of(d / (name + ".out.safetensors"), "out"), want) << name;
  }
  for (const auto& [name, raw, says] : std::vector<std::tuple<std::string, Raw, std::string>>{
           {"mask_half", {"F32", {8}, {1, 1, 0.5, 0, 0, 0, 0, 0}}, "'text_mask' holds 0.5 at row 2; a mask holds 0s and 1s"},
           {"mask_gap", {"I64", {8}, {1, 0, 1, 0, 0, 0, 0, 0}}, "'text_mask' must be 1s then 0s"},
           {"mask_zero", {"I64", {8}, {0, 0, 0, 0, 0, 0, 0, 0}}, "'text_mask' is all 0s"}}) {
    const auto r = forward(name, write_raw(d, name, without(base, "text_mask"), {{"text_mask", raw}}));
    EXPECT_EQ(r.exit_code, 1) << name << ": " << r.output;
    EXPECT_NE(r.output.find(says), std::string::npos) << name << ": " << r.output;
  }
  // debug denoise: context_valid 6 as i64 equals f32 6; 2.7 is refused, not truncated to 2.
  auto denoise = [&](const std::string& name, const std::string& path) {
    return test::run_jenga("debug denoise -q --steps 1 --model " + hy.model + " --inputs " + path + " --out " +
                           (d / (name + ".out.safetensors")));
  };
  const Inputs dn = hy.denoise_inputs();
  ASSERT_EQ(denoise("dn", write(d, "dn", dn)).exit_code, 0);
  ASSERT_EQ(denoise("dn_i64", write_raw(d, "dn_i64", without(dn, "context_valid"), {{"context_valid", {"I64", {1}, {6}}}})).exit_code, 0);
  EXPECT_EQ(latents_of(d / "dn_i64.out.safetensors"), latents_of(d / "dn.out.safetensors"));
  const auto frac = denoise("frac", write(d, "frac", with(dn, "context_valid", scalar(2.7f))));
  EXPECT_EQ(frac.exit_code, 1) << frac.output;
  EXPECT_NE(frac.output.find("'context_valid' is 2.7"), std::string::npos) << frac.output;
  EXPECT_NE(frac.output.find("whole number"), std::string::npos) << frac.output;
  const auto vec = denoise("vec", write(d, "vec", with(dn, "context_valid", values({1, 1, 0}, Shape{3}))));
  EXPECT_EQ(vec.exit_code, 1) << vec.output;
  EXPECT_NE(vec.output.find("'context_valid' has shape [3]; expected one value"), std::string::npos) << vec.output;
}

// The model is opened first: a --model that is missing, damaged or no DiT is named as such (it
// was "inputs.safetensors: no tensor 'context' ... the inputs file needs x, t and context"), and
// the inputs are read for the family the model is.
TEST(DebugInputs, ModelProblemsAreNamedBeforeTheInputs) {
  TinyHunyuan hy;
  const test::TempDir& d = hy.dir;
  const std::string fwd_in = write(d, "fwd", forward_inputs(hy.config));
  const std::string dn_in = write(d, "dn", hy.denoise_inputs());
  namespace fs = std::filesystem;
  auto copy_model = [&](const std::string& name) {
    fs::copy(hy.model, d / name, fs::copy_options::recursive);
    return d / name;
  };
  // A truncated DiT, a config.json whose RoPE split does not fit, broken JSON, a VAE, nothing.
  const std::string trunc = copy_model("trunc");
  fs::resize_file(trunc + "/diffusion_pytorch_model.safetensors", fs::file_size(trunc + "/diffusion_pytorch_model.safetensors") / 2);
  const std::string rope = copy_model("rope");
  {
    std::ifstream in(rope + "/config.json");
    auto j = nlohmann::json::parse(in);
    j["rope_dim_list"] = {8, 8, 8};
    std::ofstream(rope + "/config.json") << j.dump();
  }
  const std::string json = copy_model("json");
  std::ofstream(json + "/config.json") << "{\"hidden_size\": ";
  const std::string vae = d / "vae";
  fs::create_directories(vae);
  write(d, "vae/diffusion_pytorch_model", {{"decoder.conv_in.weight", randn(Shape{4}, 1)}, {"post_quant_conv.weight", randn(Shape{4}, 2)}});
  for (const auto& [model, says] : std::vector<std::pair<std::string, std::string>>{
           {trunc, "file truncated"},
           {rope, "rope_dim_list [8, 8, 8] must sum to the head dim 32"},
           {json, "not valid JSON"},
           {vae, "holds wan2.1-vae, not a DiT"},
           {d / "none", "--model " + (d / "none") + ": no such file or folder"}}) {
    for (const std::string cmd : {"dit-forward --inputs " + fwd_in, "denoise --inputs " + dn_in}) {
      const auto r = test::run_jenga("debug " + cmd + " --model " + model + " --out " + (d / "o.safetensors"));
      EXPECT_EQ(r.exit_code, 1) << cmd << " " << model << ": " << r.output;
      EXPECT_NE(r.output.find(says), std::string::npos) << cmd << " " << model << ": " << r.output;
      EXPECT_EQ(r.output.find("no tensor"), std::string::npos) << r.output;
    }
  }
  // A Wan DiT given HunyuanVideo inputs: the missing tensor, and what a Wan2.1 DiT takes.
  const std::string wan = d / "wan";
  ASSERT_EQ(test::run_jenga("debug make-tiny --family wan --dit-only --out " + wan).exit_code, 0);
  const auto w = test::run_jenga("debug denoise --steps 1 --model " + wan + " --inputs " + dn_in + " --out " + (d / "o.safetensors"));
  EXPECT_EQ(w.exit_code, 1) << w.output;
  EXPECT_NE(w.output.find("'context' has shape [10, 48]; expected [L, 64] for a Wan2.1 DiT"), std::string::npos) << w.output;
  const auto wf = test::run_jenga("debug dit-forward --model " + wan + " --inputs " + fwd_in + " --out " + (d / "o.safetensors"));
  EXPECT_EQ(wf.exit_code, 1) << wf.output;
  EXPECT_NE(wf.output.find("no tensor 'context'"), std::string::npos) << wf.output;
  EXPECT_NE(wf.output.find("--model is a Wan2.1 DiT, whose inputs are x, t and context"), std::string::npos) << wf.output;
}

// --shift outside (0.01, 100] is refused up front, as generate does (the flow-match loop said
// "UniPC: sigma 0 = 1.001002 is outside (0, 1)").
TEST(DebugInputs, DenoiseChecksTheShiftFirst) {
  TinyHunyuan hy;
  const std::string in = write(hy.dir, "in", hy.denoise_inputs());
  for (const std::string shift : {"-1", "0"}) {
    const auto r = test::run_jenga("debug denoise --steps 2 --shift " + shift + " --model " + hy.model + " --inputs " + in +
                                   " --out " + (hy.dir / "o.safetensors"));
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("--shift " + shift + ": must be between 0.01 and 100"), std::string::npos) << r.output;
  }
}

// A HunyuanVideo-I2V release's DiT (its folder says so) runs its own condition, token_replace,
// unless --no-token-replace; the output line says which. A Jenga preset on a token grid that is
// no multiple of 128 is refused as generate, bench denoise and debug schedule refuse it.
TEST(DebugInputs, I2vDitRunsItsOwnConditionAndPresetsCheckTheGrid) {
  TinyHunyuan hy;
  const test::TempDir& d = hy.dir;
  namespace fs = std::filesystem;
  const std::string i2v = d / "ckpts/hunyuan-video-i2v-720p/transformers";
  fs::create_directories(i2v);
  fs::copy(hy.model, i2v, fs::copy_options::recursive);
  const std::string in = write(d, "in", forward_inputs(hy.config));
  auto run = [&](const std::string& model, const std::string& flags, const std::string& out) {
    const auto r = test::run_jenga("debug dit-forward --model " + model + " --inputs " + in + " --out " + (d / out) + flags);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.output;
  };
  EXPECT_NE(run(hy.model, "", "t2v.st").find("T2V condition"), std::string::npos);
  run(hy.model, " --token-replace", "tr.st");
  for (const std::string model : {i2v, d / "ckpts"}) {  // the DiT's folder, the whole release folder
    const std::string o = run(model, "", "i2v.st");
    EXPECT_NE(o.find("I2V token_replace (a HunyuanVideo-I2V DiT; --no-token-replace for T2V's)"), std::string::npos) << o;
    EXPECT_EQ(latents_of(d / "i2v.st", "out"), latents_of(d / "tr.st", "out"));
    EXPECT_NE(run(model, " --no-token-replace", "no.st").find("T2V condition (--no-token-replace)"), std::string::npos);
    EXPECT_EQ(latents_of(d / "no.st", "out"), latents_of(d / "t2v.st", "out"));
  }
  EXPECT_NE(latents_of(d / "tr.st", "out"), latents_of(d / "t2v.st", "out"));
  // Only the release's own names count (not a folder above that holds "i2v"); a diffusers config's
  // image_condition_type "token_replace" does.
  const std::string other = d / "my_i2v_runs/dit";
  fs::create_directories(other);
  fs::copy(hy.model, other, fs::copy_options::recursive);
  EXPECT_NE(run(other, "", "other.st").find("T2V condition"), std::string::npos);
  {
    std::ifstream cin(other + "/config.json");
    auto j = nlohmann::json::parse(cin);
    j["image_condition_type"] = "token_replace";
    std::ofstream(other + "/config.json") << j.dump();
  }
  EXPECT_NE(run(other, "", "cfg.st").find("I2V token_replace (a HunyuanVideo-I2V DiT"), std::string::npos);
  EXPECT_EQ(latents_of(d / "cfg.st", "out"), latents_of(d / "tr.st", "out"));
  const auto both = test::run_jenga("debug dit-forward --token-replace --no-token-replace --model " + i2v + " --inputs " + in +
                                    " --out " + (d / "b.st"));
  EXPECT_EQ(both.exit_code, 2) << both.output;
  // debug denoise --preset base on a 1x4x6 latent (6 tokens): debug schedule's refusal.
  const auto p = test::run_jenga("debug denoise --preset base --steps 2 --model " + hy.model + " --inputs " +
                                 write(d, "dn", hy.denoise_inputs()) + " --out " + (d / "p.st"));
  EXPECT_EQ(p.exit_code, 2) << p.output;
  EXPECT_NE(p.output.find("not a multiple of 128"), std::string::npos) << p.output;
}
