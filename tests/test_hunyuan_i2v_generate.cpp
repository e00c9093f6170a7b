// HunyuanVideo-I2V image-to-video end to end (issue #25): the pipeline's loop with the first-frame
// condition against the official I2V sampler (tools/golden/hunyuan_i2v_loop_golden.py: official
// FlowMatchDiscreteScheduler + the I2V HYVideoDiffusionTransformer with token_replace, stepped as
// pipeline_hunyuan_video.py's i2v loop, our noise fed to it), and `generate --image` on the whole
// tiny I2V folder `debug make-tiny --family hunyuan-i2v` writes (dense and --preset base).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "backend/block_sparse.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/sha256.h"
#include "golden_compare.h"
#include "io/safetensors.h"
#include "jenga/schedule.h"
#include "models/hunyuan/hunyuan_dit_cpu.h"
#include "models/hunyuan/hunyuan_folder.h"
#include "models/hunyuan/hunyuan_model.h"
#include "models/hunyuan/hunyuan_presets.h"
#include "models/hunyuan/hunyuan_tiny.h"
#include "pipeline/denoise.h"
#include "test_util.h"

using namespace jenga;
using jenga::test::max_rel_error;
namespace fs = std::filesystem;

namespace {

const std::string kData = std::string(JENGA_TEST_DATA) + "/hunyuan_i2v/";

}  // namespace

// The whole token_replace loop, "dynamic" (shift 17) and "stable" (--i2v-stability, shift 7),
// through the model-neutral denoise() with the image latent as its first-frame condition.
TEST(HunyuanI2vGenerate, LoopMatchesTheOfficialI2vSampler) {
  const Checkpoint g = Checkpoint::open(kData + "i2v_loop_golden.safetensors");
  test::TempDir dir;  // the golden's DiT: make-tiny --family hunyuan --dit-only --seed 7 --dtype f32
  hunyuan::write_random_checkpoint(dir.path().string(), hunyuan::HunyuanConfig::tiny(), 7, DType::F32);
  const hunyuan::HunyuanDit dit = hunyuan::load_hunyuan_dit(dir.path().string());
  const auto den = hunyuan::make_cpu_denoiser(dit, hunyuan::Release::I2V);
  ASSERT_EQ(den->info().geometry.image_condition, ImageCondition::FirstFrame);
  Conditioning c;
  c.tokens = g.load("text_states", DType::F32);
  int64_t valid = 0;
  for (float m : g.load("text_mask", DType::F32).to_f32_vector()) valid += m > 0.5f;
  c.valid = valid;
  c.pooled = g.load("text_states_2", DType::F32);
  for (const std::string name : {"dynamic", "stable"}) {
    SCOPED_TRACE(name);
    const auto p = g.load(name + ".params", DType::F32).to_f32_vector();  // steps, shift, guidance, stability
    DenoiseRequest r;
    r.denoiser = den.get();
    const Tensor stored = g.load(name + ".noise", DType::F32);  // a read-only view of the file
    r.noise = Tensor::from_f32(stored.to_f32_vector(), stored.shape());
    r.first_frame = g.load(name + ".image_latent", DType::F32);
    if (p[3] > 0.5f) blend_toward_first_frame(r.noise, r.first_frame, den->info().geometry.image_blend_t);
    r.context = c;
    r.steps = static_cast<int>(p[0]), r.shift = p[1], r.embedded_guidance = p[2];
    r.solver = "euler";
    Progress quiet(Progress::Mode::Quiet);
    const DenoiseResult res = denoise(r, quiet);
    EXPECT_EQ(res.forwards, r.steps);
    const auto got = res.latents.to_f32_vector(), want = g.load(name + ".latents", DType::F32).to_f32_vector();
    const double err = max_rel_error(got, want);
    std::printf("hunyuan i2v loop %s vs official: max rel error %.2e\n", name.c_str(), err);
    EXPECT_LE(err, 1e-4);
    // Frame 0 is the image latent, untouched by the solver.
    const auto img = r.first_frame.to_f32_vector();
    const int64_t T = res.latents.dim(1), HW = res.latents.dim(2) * res.latents.dim(3);
    for (int64_t ch = 0; ch < 16; ++ch)
      for (int64_t i = 0; i < HW; ++i) ASSERT_EQ(got[ch * T * HW + i], img[ch * HW + i]);
  }
}

// `jenga debug denoise --i2v` (what the full-size GPU parity against the official I2V loop feeds,
// bench/gpu_hunyuan_i2v_loop_parity.sh): the same golden through the CLI, the shifts left to its
// I2V defaults (17 dynamic, 7 with --i2v-stability), the noise blended by the flag.
TEST(HunyuanI2vGenerate, DebugDenoiseI2vMatchesTheOfficialI2vSampler) {
  const Checkpoint g = Checkpoint::open(kData + "i2v_loop_golden.safetensors");
  test::TempDir dir, io;
  hunyuan::write_random_checkpoint(dir.path().string(), hunyuan::HunyuanConfig::tiny(), 7, DType::F32);
  int64_t valid = 0;
  for (float m : g.load("text_mask", DType::F32).to_f32_vector()) valid += m > 0.5f;
  const std::string out = (io.path() / "out.safetensors").string();
  for (const std::string name : {"dynamic", "stable"}) {
    SCOPED_TRACE(name);
    const auto p = g.load(name + ".params", DType::F32).to_f32_vector();  // steps, shift, guidance, stability
    ASSERT_EQ(p[1], p[3] > 0.5f ? 7.0f : 17.0f);  // the defaults the CLI must pick
    ASSERT_EQ(p[2], 6.0f);
    const std::string in = (io.path() / (name + ".safetensors")).string();
    SafetensorsWriter w;
    w.add("noise", g.load(name + ".noise", DType::F32));
    w.add("image_latent", g.load(name + ".image_latent", DType::F32));
    w.add("context", g.load("text_states", DType::F32));
    w.add("context_valid", Tensor::from_f32(std::vector<float>{static_cast<float>(valid)}, Shape{1}));
    w.add("pooled", g.load("text_states_2", DType::F32));
    w.write(in);
    const std::string cmd = "debug denoise --model " + dir.path().string() + " --inputs " + in + " --out " + out +
                            " --i2v --steps " + std::to_string(static_cast<int>(p[0])) + " -q" +
                            (p[3] > 0.5f ? " --i2v-stability" : "");
    const auto run = test::run_jenga(cmd);
    ASSERT_EQ(run.exit_code, 0) << run.output;
    const auto got = SafetensorsFile::open(out)->load("latents", DType::F32).to_f32_vector();
    const double err = max_rel_error(got, g.load(name + ".latents", DType::F32).to_f32_vector());
    std::printf("debug denoise --i2v %s vs official: max rel error %.2e\n", name.c_str(), err);
    EXPECT_LE(err, 1e-4);
    if (name == "stable") {  // without --i2v the image latent is refused, one line naming the flag
      const auto bad = test::run_jenga("debug denoise --model " + dir.path().string() + " --inputs " + in + " --out " +
                                       out + " --steps 1 -q");
      EXPECT_EQ(bad.exit_code, 2) << bad.output;
      EXPECT_NE(bad.output.find("--i2v"), std::string::npos) << bad.output;
    }
  }
}

TEST(HunyuanI2vGenerate, GeometryPresetsAndFolder) {
  hunyuan::HunyuanConfig cfg = hunyuan::HunyuanConfig::tiny();
  const Geometry geo = hunyuan::hunyuan_geometry(cfg, hunyuan::Release::I2V);
  EXPECT_EQ(geo.default_shift, 17.0);  // "dynamic" (config.py's default)
  EXPECT_EQ(geo.default_shift_stable, 7.0);  // --i2v-stability
  EXPECT_EQ(geo.condition_blocks, 4);
  EXPECT_EQ(hunyuan::hunyuan_denoiser_info(cfg, hunyuan::Release::I2V).text_len, 396);
  EXPECT_EQ(geo.presets, (std::vector<std::string>{"dense", "base"}));
  const auto base = hunyuan::hunyuan_preset_for("base", hunyuan::Release::I2V, {}, 0);
  ASSERT_TRUE(base.has_value());
  EXPECT_EQ(base->name, "i2v-base");
  EXPECT_EQ(base->flow_shift, 5.0);
  EXPECT_EQ(base->computed_steps.size(), 24u);
  EXPECT_EQ(base->sa_drop_rates, (std::vector<double>{0.75, 0.85}));
  EXPECT_EQ(base->p_remain, 0.3);
  EXPECT_THROW(hunyuan::hunyuan_preset_for("turbo", hunyuan::Release::I2V, {}, 0), UsageError);
  EXPECT_THROW(hunyuan::hunyuan_preset_for("i2v-base", hunyuan::Release::T2V, {}, 0), UsageError);
  // The official I2V ckpts/ layout: hunyuan-video-i2v-720p/{transformers,vae}, text_encoder_i2v.
  test::TempDir dir;
  const fs::path root = dir / "ckpts";
  for (const char* d : {"hunyuan-video-i2v-720p/transformers", "hunyuan-video-i2v-720p/vae", "text_encoder_i2v",
                        "text_encoder_2"})
    fs::create_directories(root / d);
  for (const char* f : {"hunyuan-video-i2v-720p/transformers/mp_rank_00_model_states.pt", "text_encoder_i2v/tokenizer.json",
                        "text_encoder_2/vocab.json"})
    std::ofstream(root / f) << "x";
  const auto p = hunyuan::resolve_hunyuan(root.string(), {}, false, false);
  EXPECT_EQ(p.release, hunyuan::Release::I2V);
  EXPECT_EQ(fs::path(p.vae), root / "hunyuan-video-i2v-720p/vae");
  EXPECT_EQ(fs::path(p.text_encoder), root / "text_encoder_i2v");
  EXPECT_EQ(fs::path(p.tokenizer), root / "text_encoder_i2v/tokenizer.json");
  EXPECT_EQ(hunyuan::release_from_path("hunyuan_video_v2_replace_image_to_video_720p_bf16.safetensors"),
            hunyuan::Release::I2V);
}

TEST(HunyuanI2vGenerate, Sha256) {
  const std::string abc = "abc";
  EXPECT_EQ(sha256_hex(reinterpret_cast<const uint8_t*>(abc.data()), abc.size()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(nullptr, 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const std::string m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";  // two blocks
  EXPECT_EQ(sha256_hex(reinterpret_cast<const uint8_t*>(m.data()), m.size()),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

// generate --image on the whole tiny I2V folder: dense and Jenga base, the sidecar's image record,
// the size from the bucket, and the one-line errors before any model loads.
TEST(HunyuanI2vGenerate, GenerateRunsTheTinyI2vFolder) {
  test::TempDir dir;
  const std::string model = dir / "ckpts";
  auto m = test::run_jenga("debug make-tiny --family hunyuan-i2v --seed 3 --out " + model);
  ASSERT_EQ(m.exit_code, 0) << m.output;
  EXPECT_NE(m.output.find("template 103 tokens"), std::string::npos) << m.output;
  for (const char* f : {"hunyuan-video-i2v-720p/transformers/diffusion_pytorch_model.safetensors",
                        "hunyuan-video-i2v-720p/vae/config.json", "text_encoder_i2v/tokenizer.json",
                        "text_encoder_i2v/model.safetensors", "text_encoder_i2v/preprocessor_config.json",
                        "text_encoder_2/vocab.json"})
    EXPECT_TRUE(fs::exists(fs::path(model) / f)) << f;
  const std::string image = kData + "grey_50x50.png";
  // Dense, "dynamic" (shift 17), a 64-px bucket: a square image -> 64x64.
  const std::string out = dir / "cat.y4m";
  auto g = test::run_jenga("generate --model " + model + " --image " + image +
                           " -p \"a cat walks\" --i2v-resolution 64 --frames 5 --steps 3 -q -o " + out);
  ASSERT_EQ(g.exit_code, 0) << g.output;
  {
    std::ifstream sc(out + ".json");
    const auto j = nlohmann::json::parse(sc);
    EXPECT_EQ(j["model"]["release"], "I2V");
    EXPECT_EQ(j["settings"]["width"], 64);
    EXPECT_EQ(j["settings"]["height"], 64);
    EXPECT_EQ(j["settings"]["shift"], 17.0);
    EXPECT_EQ(j["settings"]["embedded_cfg_scale"], 6.0);
    EXPECT_EQ(j["forwards"], 3);
    EXPECT_EQ(j["settings"]["image"]["path"], fs::absolute(image).lexically_normal().string());
    EXPECT_EQ(j["settings"]["image"]["sha256"], sha256_file_hex(image));
    EXPECT_EQ(j["settings"]["image"]["stability"], false);
  }
  // --i2v-stability: shift 7.
  auto s = test::run_jenga("generate --model " + model + " --image " + image +
                           " -p cat --i2v-resolution 64 --frames 5 --steps 2 --i2v-stability -q -o " + (dir / "s.y4m"));
  ASSERT_EQ(s.exit_code, 0) << s.output;
  {
    std::ifstream sc(dir / "s.y4m.json");
    const auto j = nlohmann::json::parse(sc);
    EXPECT_EQ(j["settings"]["shift"], 7.0);
    EXPECT_EQ(j["settings"]["image"]["stability"], true);
  }
  // Jenga base (jenga_hyi2v.py): 128-px bucket x 5 frames = 2 x 8 x 8 = 128 tokens (one block),
  // 4 text blocks, the 24-of-50 list over 50 steps.
  auto b = test::run_jenga("generate --model " + model + " --image " + image +
                           " -p cat --i2v-resolution 128 --frames 5 --preset base --i2v-stability -q -o " +
                           (dir / "b.y4m"));
  ASSERT_EQ(b.exit_code, 0) << b.output;
  {
    std::ifstream sc(dir / "b.y4m.json");
    const auto j = nlohmann::json::parse(sc);
    EXPECT_EQ(j["settings"]["preset"], "i2v-base");
    EXPECT_EQ(j["settings"]["shift"], 5.0);
    EXPECT_EQ(j["settings"]["steps"], 50);
    EXPECT_EQ(j["forwards"], 50);
    EXPECT_EQ(j["forwards_reused"], 26);
    EXPECT_EQ(j["denoise"]["attention"], "jenga");
  }
  // Errors, each one line, before any model loads.
  auto bad = test::run_jenga("generate --model " + model + " --image " + (dir / "none.png") + " -p cat -o " +
                             (dir / "x.y4m"));
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("--image"), std::string::npos) << bad.output;
  EXPECT_EQ(bad.output.find("loading"), std::string::npos) << bad.output;
  {
    std::ofstream(dir / "junk.png") << "not an image";
  }
  auto junk = test::run_jenga("generate --model " + model + " --image " + (dir / "junk.png") + " -p cat -o " +
                              (dir / "x.y4m"));
  EXPECT_EQ(junk.exit_code, 2) << junk.output;
  EXPECT_EQ(junk.output.find("loading"), std::string::npos) << junk.output;
  // Empty values (an unset shell variable), a bucket base of 0, a symlink loop: named, before loading.
  fs::create_symlink(dir / "loop2.png", dir / "loop1.png");
  fs::create_symlink(dir / "loop1.png", dir / "loop2.png");
  for (const auto& [flags, says] :
       {std::pair<std::string, std::string>{"--image ''", "--image '': an empty value"},
        {"--image " + image + " --i2v-resolution ''", "--i2v-resolution '': an empty value"},
        {"--image " + image + " --i2v-resolution 0", "at least 32"},
        {"--image " + (dir / "loop1.png"), "symbolic links"}}) {
    auto e = test::run_jenga("generate --model " + model + " " + flags + " -p cat -o " + (dir / "x.y4m"));
    EXPECT_EQ(e.exit_code, 2) << flags << "\n" << e.output;
    EXPECT_NE(e.output.find(says), std::string::npos) << flags << "\n" << e.output;
    EXPECT_EQ(e.output.find("loading"), std::string::npos) << flags << "\n" << e.output;
  }
  auto empty_model = test::run_jenga("generate --model '' -p cat -o " + (dir / "x.y4m"));
  EXPECT_EQ(empty_model.exit_code, 2) << empty_model.output;
  EXPECT_NE(empty_model.output.find("--model '': an empty value"), std::string::npos) << empty_model.output;
  EXPECT_FALSE(fs::exists(dir / "x.y4m"));
  auto empty_inspect = test::run_jenga("inspect ''");
  EXPECT_EQ(empty_inspect.exit_code, 2) << empty_inspect.output;
  EXPECT_NE(empty_inspect.output.find("an empty value"), std::string::npos) << empty_inspect.output;
  auto noimg = test::run_jenga("generate --model " + model + " -p cat --frames 5 -o " + (dir / "x.y4m"));
  EXPECT_EQ(noimg.exit_code, 2) << noimg.output;
  EXPECT_NE(noimg.output.find("image-to-video model"), std::string::npos) << noimg.output;
  auto size = test::run_jenga("generate --model " + model + " --image " + image + " --size 64x64 -p cat -o " +
                              (dir / "x.y4m"));
  EXPECT_EQ(size.exit_code, 2) << size.output;
  auto turbo = test::run_jenga("generate --model " + model + " --image " + image +
                               " -p cat --i2v-resolution 128 --frames 5 --preset turbo -o " + (dir / "x.y4m"));
  EXPECT_EQ(turbo.exit_code, 2) << turbo.output;
  // inspect: I2V, usable.
  auto in = test::run_jenga("inspect --summary " + model);
  ASSERT_EQ(in.exit_code, 0) << in.output;
  EXPECT_NE(in.output.find("release:    HunyuanVideo I2V"), std::string::npos) << in.output;
  EXPECT_NE(in.output.find("usable:     yes"), std::string::npos) << in.output;
}

// Jenga I2V's sparse kernel pads the sequence with zero rows to a multiple of 128 and its text
// rows attend over them too (hyvideo_i2v attention_block_triton_diffres.py): with an all-kept
// layout, 128 image + 128 text rows (no padding) give the dense model, 128 + 9 rows do not.
TEST(HunyuanI2vGenerate, SparseTextRowsSeeTheKernelsZeroPadding) {
  test::TempDir dir;
  hunyuan::write_random_checkpoint(dir.path().string(), hunyuan::HunyuanConfig::tiny(), 7, DType::F32);
  const hunyuan::HunyuanDit dit = hunyuan::load_hunyuan_dit(dir.path().string());
  const auto& c = dit.config;
  Tensor x = Tensor::empty(DType::F32, Shape{16, 2, 16, 16});  // 128 image tokens: 1 block
  fill_normal({x.data_as<float>(), static_cast<size_t>(x.numel())}, 8);
  Tensor txt = Tensor::empty(DType::F32, Shape{128, c.text_dim}), pooled = Tensor::empty(DType::F32, Shape{c.text_dim_2});
  fill_normal({txt.data_as<float>(), static_cast<size_t>(txt.numel())}, 9);
  fill_normal({pooled.data_as<float>(), static_cast<size_t>(pooled.numel())}, 10);
  const BlockSparseLayout all = BlockSparseLayout::dense(1, c.heads, 2, 2);
  DitForwardHooks h;
  h.self_attn_layout = [&](int, const float*, const float*, int64_t, int64_t) { return &all; };
  auto fwd = [&](int64_t rows, const DitForwardHooks* hooks, bool token_replace) {
    return hunyuan::hunyuan_forward_cpu(dit, x.data_as<float>(), 2, 16, 16, 800.0f, txt.data_as<float>(), rows, rows,
                                        pooled.data_as<float>(), 6000.0f, hooks, token_replace);
  };
  EXPECT_LE(max_rel_error(fwd(128, &h, true), fwd(128, nullptr, true)), 1e-4);  // 256 rows: no padding
  EXPECT_GT(max_rel_error(fwd(9, &h, true), fwd(9, nullptr, true)), 1e-4);      // 137 rows + 119 zero rows
  EXPECT_LE(max_rel_error(fwd(9, &h, false), fwd(9, nullptr, false)), 1e-4);    // T2V's kernel pads nothing
}

// generate --image on an I2V folder whose text_encoder_i2v/ lost preprocessor_config.json: one
// line naming it (the official CLIPImageProcessor.from_pretrained raises), not CLIP-336 defaults.
TEST(HunyuanI2vGenerate, MissingPreprocessorConfigIsNamed) {
  test::TempDir dir;
  const std::string model = dir / "ckpts";
  auto m = test::run_jenga("debug make-tiny --family hunyuan-i2v --out " + model);
  ASSERT_EQ(m.exit_code, 0) << m.output;
  fs::remove(fs::path(model) / "text_encoder_i2v" / "preprocessor_config.json");
  auto g = test::run_jenga("generate --model " + model + " --image " + kData + "grey_50x50.png" +
                           " -p cat --i2v-resolution 64 --frames 5 --steps 1 -q -o " + (dir / "x.y4m"));
  EXPECT_NE(g.exit_code, 0) << g.output;
  EXPECT_NE(g.output.find("text_encoder_i2v: no preprocessor_config.json"), std::string::npos) << g.output;
  EXPECT_FALSE(fs::exists(dir / "x.y4m"));
}
