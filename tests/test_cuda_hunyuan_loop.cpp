// HunyuanVideo's whole denoising loop on CUDA (bf16 DiT from bf16 host matrices, the CUDA loop
// backend: layouts over image + valid text rows, text amplifier as a key-block bias, step reuse,
// embedded guidance and true CFG) against the CPU f32 loop on a small random model; and
// `generate --device cuda` on a whole tiny folder. GPU only: skips without a device.
//
// Tolerances (final latents, relative L2): the DiT forward alone is ~6e-3 off the f32 one (bf16
// weights and activations, docs/BENCHMARKS.md); dense loops <= 2e-2. Under AttenCarve the masks
// come from bf16 q/k of each forward, so a block at a near-tie may flip between the two: <= 5e-2,
// and the kept-block densities within 0.05 of each other.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/cuda/cuda_backend.h"
#include "core/rng.h"
#include "dist/nccl_communicator.h"
#include "io/safetensors.h"
#include "jenga/schedule.h"
#include "models/hunyuan/hunyuan_dit.h"
#include "models/hunyuan/hunyuan_model.h"
#include "models/hunyuan/hunyuan_presets.h"
#include "models/hunyuan/hunyuan_tiny.h"
#include "pipeline/denoise.h"
#include "cuda_tiny_folder_check.h"
#include "hunyuan_cuda_test_config.h"
#include "tensor_compare.h"
#include "test_util.h"

using namespace jenga;
namespace fs = std::filesystem;

namespace {

using test::rel_l2;
hunyuan::HunyuanConfig cuda_config() { return test::hunyuan_cuda_test_config(); }

// One prompt's conditioning as the LLM gives it: 256 rows (the official crop), `valid` real.
Conditioning text(const hunyuan::HunyuanConfig& c, int64_t valid, uint64_t seed) {
  Conditioning k;
  k.tokens = Tensor::empty(DType::F32, Shape{256, c.text_dim});
  fill_normal({k.tokens.data_as<float>(), static_cast<size_t>(k.tokens.numel())}, seed);
  k.valid = valid;
  k.pooled = Tensor::empty(DType::F32, Shape{c.text_dim_2});
  fill_normal({k.pooled.data_as<float>(), static_cast<size_t>(k.pooled.numel())}, seed + 1);
  return k;
}

struct LoopModels {
  test::TempDir dir;
  hunyuan::HunyuanDit f32, bf16;  // the CPU reference's and what the CUDA path loads
  LoopModels() {
    hunyuan::write_random_checkpoint(dir.path().string(), cuda_config(), 13, DType::F32);
    f32 = hunyuan::load_hunyuan_dit(dir.path().string());
    bf16 = hunyuan::load_hunyuan_dit(dir.path().string(), DType::BF16);
  }
};

struct LoopCase {
  std::string name;
  std::optional<Preset> jenga;
  int steps = 6;
  double cfg = 1.0;  // > 1: true CFG with the negative prompt
};

// Latent 4 x 12 x 64: 768 image tokens at full size, 384 at the 0.75 ProRes stage (4 x 8 x 48):
// whole 128-token blocks at both, as generate requires under Jenga.
DenoiseResult run(Denoiser& d, const LoopCase& k, const hunyuan::HunyuanConfig& c) {
  DenoiseRequest r;
  r.denoiser = &d;
  r.jenga = k.jenga;
  uint64_t offset = 0;
  const auto sizes = stage_latents(k.jenga, 4, 12, 64);
  for (size_t i = 0; i < sizes.size(); ++i) {
    const auto& l = sizes[i];
    Tensor t = Tensor::empty(DType::F32, Shape{c.out_channels, l[0], l[1], l[2]});
    fill_normal({t.data_as<float>(), static_cast<size_t>(t.numel())}, 21, offset);
    offset += static_cast<uint64_t>(t.numel());
    if (i == 0)
      r.noise = t;
    else
      r.renoise.push_back(t);
  }
  r.context = text(c, 20, 31), r.context_null = text(c, 11, 41);  // different valid lengths per branch
  r.steps = k.steps, r.shift = 7.0, r.embedded_guidance = 6.0, r.guide_scale = k.cfg, r.true_cfg = k.cfg > 1.0;
  r.solver = "euler";
  Progress quiet(Progress::Mode::Quiet);
  return denoise(r, quiet);
}

// The CUDA loop's result against the CPU loop's: the same forwards and computed calls, finite
// latents within 2e-2 (dense) or 5e-2 (sparse: masks from bf16 q/k may flip a near-tie block),
// kept-block densities within 0.05 of each other and below 1.
void expect_loops_match(const DenoiseResult& got, const DenoiseResult& want, const std::string& what, bool sparse) {
  EXPECT_EQ(got.forwards, want.forwards);
  EXPECT_EQ(got.forwards_reused, want.forwards_reused);
  EXPECT_EQ(got.computed_calls, want.computed_calls);
  const auto g = got.latents.to_f32_vector(), w = want.latents.to_f32_vector();
  ASSERT_EQ(g.size(), w.size());
  for (float v : g) ASSERT_TRUE(std::isfinite(v));
  const double e = rel_l2(g, w);
  double dc = 0, dg = 0;
  if (sparse) {
    dc = want.report["sparse_block_density"].get<double>(), dg = got.report["sparse_block_density"].get<double>();
    EXPECT_GT(dg, 0.0);
    EXPECT_LT(dg, 1.0) << "the layouts should drop blocks";
    EXPECT_NEAR(dg, dc, 0.05);
  }
  std::printf("%s: CUDA (bf16) vs CPU (f32) final latents rel L2 %.2e; %d forwards, %d reused; "
              "block density CUDA %.4f CPU %.4f\n",
              what.c_str(), e, got.forwards, got.forwards_reused, dg, dc);
  EXPECT_LT(e, sparse ? 5e-2 : 2e-2);
}

// make-tiny's whole folder of `family` in dir/ckpts with its DiT (under model_dir) swapped for
// one with head dim 64, which the CUDA attention serves; "" (and a test failure) if make-tiny failed.
std::string tiny_cuda_folder(const test::TempDir& dir, const std::string& family, const std::string& model_dir) {
  const std::string model = dir / "ckpts";
  auto mk = test::run_jenga("debug make-tiny --family " + family + " --seed 3 --out " + model);
  EXPECT_EQ(mk.exit_code, 0) << mk.output;
  if (mk.exit_code != 0) return "";
  const fs::path dit = fs::path(model) / model_dir / "transformers";
  fs::remove_all(dit);
  hunyuan::write_random_checkpoint(dit.string(), cuda_config(), 5, DType::BF16);
  return model;
}

}  // namespace

TEST(CudaHunyuanLoop, MatchesTheCpuLoopForEveryKind) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  LoopModels m;
  const auto& c = m.f32.config;
  // The bf16 load keeps the matrices bf16 and the vectors f32 (what the GPU path uploads from).
  EXPECT_EQ(m.bf16.weights.doubles[0].img.qkv.w.dtype(), DType::BF16);
  EXPECT_EQ(m.bf16.weights.doubles[0].img.qkv.b.dtype(), DType::F32);
  EXPECT_EQ(m.bf16.weights.img_in_w.dtype(), DType::BF16);
  const auto cpu = hunyuan::make_cpu_denoiser(m.f32);
  const auto gpu = hunyuan::cuda_parts().denoiser(m.bf16, false, hunyuan::Release::T2V);
  const std::vector<LoopCase> cases = {
      {"dense", std::nullopt, 6, 1.0},
      {"dense true cfg", std::nullopt, 4, 3.0},
      {"turbo", hunyuan::hunyuan_preset_for("turbo", false, {}, 8), 8, 1.0},
      {"turbo true cfg", hunyuan::hunyuan_preset_for("turbo", false, {}, 8), 8, 3.0},
      {"accvideo", hunyuan::hunyuan_preset_for("accvideo", true, {}, 0), 5, 1.0},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(k.name);
    const DenoiseResult want = run(*cpu, k, c);
    const DenoiseResult got = run(*gpu, k, c);
    expect_loops_match(got, want, "hunyuan loop " + k.name, k.jenga.has_value());
    EXPECT_EQ(got.forwards, k.steps * (k.cfg > 1.0 ? 2 : 1));
    if (k.name.rfind("turbo", 0) == 0) EXPECT_GT(got.forwards_reused, 0) << "the preset's reuse list";
  }
  // The text amplifier reaches the CUDA attention: Turbo without it (--scale-txt-amp 0) differs.
  JengaOverrides no_amp;
  no_amp.scale_txt_amp = 0.0;
  const LoopCase turbo{"turbo", hunyuan::hunyuan_preset_for("turbo", false, {}, 8), 8, 1.0};
  const LoopCase plain{"turbo, no text amp", hunyuan::hunyuan_preset_for("turbo", false, no_amp, 8), 8, 1.0};
  ASSERT_NE(build_plan(*turbo.jenga, 8).step[0].text_amp, 0.0);
  ASSERT_EQ(build_plan(*plain.jenga, 8).step[0].text_amp, 0.0);
  const double amp = rel_l2(run(*gpu, plain, c).latents.to_f32_vector(), run(*gpu, turbo, c).latents.to_f32_vector());
  std::printf("hunyuan loop turbo on CUDA: with vs without the text amplifier rel L2 %.2e\n", amp);
  EXPECT_GT(amp, 1e-3);
}

// A DiT without a guidance embedding (HunyuanVideo-I2V's HYVideo-T/2): the official loop's one
// conditional forward a step at --cfg-scale 1 and two at 3, on CUDA as on the CPU (the branch
// decision is the shared loop's; it failed with "no conditioning for branch 1").
TEST(CudaHunyuanLoop, NoGuidanceEmbeddingMatchesTheCpuLoop) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  test::TempDir dir;
  hunyuan::HunyuanConfig cfg = cuda_config();
  cfg.guidance_embed = false;
  hunyuan::write_random_checkpoint(dir.path().string(), cfg, 17, DType::F32);
  const auto f32 = hunyuan::load_hunyuan_dit(dir.path().string());
  const auto bf16 = hunyuan::load_hunyuan_dit(dir.path().string(), DType::BF16);
  const auto cpu = hunyuan::make_cpu_denoiser(f32);
  const auto gpu = hunyuan::cuda_parts().denoiser(bf16, false, hunyuan::Release::T2V);
  for (const LoopCase& k : {LoopCase{"no guidance embed", std::nullopt, 4, 1.0}, LoopCase{"no guidance embed, cfg 3", std::nullopt, 3, 3.0}}) {
    SCOPED_TRACE(k.name);
    const DenoiseResult want = run(*cpu, k, f32.config);
    const DenoiseResult got = run(*gpu, k, f32.config);
    expect_loops_match(got, want, "hunyuan loop " + k.name, false);
    EXPECT_EQ(got.forwards, k.steps * (k.cfg > 1.0 ? 2 : 1));
  }
}

// HunyuanVideo-I2V's loop on CUDA (token_replace DiT, the first latent frame held to the image
// latent before every forward and after every update, the --i2v-stability blend, Jenga I2V base:
// 4 text blocks, the I2V kernel's zero rows, the 24-of-50 step list) against the CPU loop, which
// equals the official I2V sampler on goldens (tests/test_hunyuan_i2v_generate.cpp).
TEST(CudaHunyuanLoop, I2vMatchesTheCpuLoop) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  LoopModels m;
  const auto& c = m.f32.config;
  const auto cpu = hunyuan::make_cpu_denoiser(m.f32, hunyuan::Release::I2V);
  const auto gpu = hunyuan::cuda_parts().denoiser(m.bf16, false, hunyuan::Release::I2V);
  ASSERT_EQ(gpu->info().geometry.image_condition, ImageCondition::FirstFrame);
  ASSERT_EQ(gpu->info().geometry.condition_blocks, 4);
  // The I2V text encoder's 396 rows (144 image + 252 text at full size), 150 real.
  Conditioning ctx = text(c, 150, 61);
  ctx.tokens = Tensor::empty(DType::F32, Shape{396, c.text_dim});
  fill_normal({ctx.tokens.data_as<float>(), static_cast<size_t>(ctx.tokens.numel())}, 61);
  Tensor image = Tensor::empty(DType::F32, Shape{c.out_channels, 1, 8, 48});
  fill_normal({image.data_as<float>(), static_cast<size_t>(image.numel())}, 71);
  struct I2vCase {
    std::string name;
    std::optional<Preset> jenga;
    int steps;
    double shift;
    bool stability;
  };
  const auto base = hunyuan::hunyuan_preset_for("base", hunyuan::Release::I2V, {}, 0);
  ASSERT_TRUE(base.has_value());
  const std::vector<I2vCase> cases = {{"dense dynamic", std::nullopt, 6, 17.0, false},
                                      {"dense stable", std::nullopt, 6, 7.0, true},
                                      {"base", base, 50, base->flow_shift, true}};
  // Latent 4 x 8 x 48: 384 image tokens, whole 128-token blocks as Jenga needs; with the 396
  // text rows the I2V kernel pads 116 zero rows, as at 720p.
  auto run_i2v = [&](Denoiser& d, const I2vCase& k) {
    DenoiseRequest r;
    r.denoiser = &d;
    r.jenga = k.jenga;
    r.noise = Tensor::empty(DType::F32, Shape{c.out_channels, 4, 8, 48});
    fill_normal({r.noise.data_as<float>(), static_cast<size_t>(r.noise.numel())}, 21);
    r.first_frame = image;
    if (k.stability) blend_toward_first_frame(r.noise, image, d.info().geometry.image_blend_t);
    r.context = ctx;
    r.steps = k.steps, r.shift = k.shift, r.embedded_guidance = 6.0;
    r.solver = "euler";
    Progress quiet(Progress::Mode::Quiet);
    return denoise(r, quiet);
  };
  const auto img = image.to_f32_vector();
  for (const auto& k : cases) {
    SCOPED_TRACE(k.name);
    const DenoiseResult want = run_i2v(*cpu, k);
    const DenoiseResult got = run_i2v(*gpu, k);
    expect_loops_match(got, want, "hunyuan i2v loop " + k.name, k.jenga.has_value());
    if (k.jenga) EXPECT_EQ(got.forwards_reused, 26) << "the 24-of-50 computed step list";
    // Frame 0 is the image latent on both devices, untouched by the solver.
    for (const DenoiseResult* r : {&got, &want}) {
      const auto l = r->latents.to_f32_vector();
      const int64_t T = r->latents.dim(1), HW = r->latents.dim(2) * r->latents.dim(3);
      for (int64_t ch = 0; ch < c.out_channels; ++ch)
        for (int64_t i = 0; i < HW; ++i) ASSERT_EQ(l[ch * T * HW + i], img[ch * HW + i]) << "channel " << ch;
    }
  }
}

// `generate --device cuda` on make-tiny's whole folder (its DiT swapped for one with head dim 64):
// LLM, DiT and VAE decoder on the GPU, a video and its sidecar; the final latents near the CPU
// run's; Turbo (sparse, ProRes) runs too; --offload gives the same latents.
TEST(CudaHunyuanLoop, GenerateOnTheGpu) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  test::TempDir dir;
  const std::string model = tiny_cuda_folder(dir, "hunyuan", "hunyuan-video-t2v-720p");
  ASSERT_FALSE(model.empty());
  const std::string common = "generate --model " + model + " -p \"a cat walks\" --size 512x96 --frames 13 -q ";
  auto g = test::run_jenga(common + "--steps 3 --device cuda --latents-out " + (dir / "gpu.safetensors") + " -o " +
                           (dir / "gpu.y4m"));
  ASSERT_EQ(g.exit_code, 0) << g.output;
  EXPECT_GT(fs::file_size(dir / "gpu.y4m"), 0u);
  std::ifstream sc(dir / "gpu.y4m.json");
  const auto j = nlohmann::json::parse(sc);
  EXPECT_EQ(j["settings"]["device"], "cuda");
  EXPECT_EQ(j["settings"]["devices"]["text_encoder"], "cuda");
  EXPECT_EQ(j["settings"]["devices"]["dit"], "cuda");
  EXPECT_EQ(j["settings"]["devices"]["vae"], "cuda");
  EXPECT_EQ(j["forwards"], 3);
  auto c = test::run_jenga(common + "--steps 3 --device cpu --latents-out " + (dir / "cpu.safetensors") + " -o " +
                           (dir / "cpu.y4m"));
  ASSERT_EQ(c.exit_code, 0) << c.output;
  const auto lg = SafetensorsFile::open(dir / "gpu.safetensors")->load("latents").to_f32_vector();
  const auto lc = SafetensorsFile::open(dir / "cpu.safetensors")->load("latents").to_f32_vector();
  ASSERT_EQ(lg.size(), lc.size());
  const double e = rel_l2(lg, lc);
  std::printf("generate --device cuda vs cpu (tiny folder, 3 steps): final latents rel L2 %.2e\n", e);
  EXPECT_LT(e, 2e-2);
  // The LLM on the CPU on request; Turbo with its sparse stages.
  auto t = test::run_jenga(common + "--steps 8 --preset turbo --t5-cpu --device cuda -o " + (dir / "turbo.y4m"));
  ASSERT_EQ(t.exit_code, 0) << t.output;
  std::ifstream st(dir / "turbo.y4m.json");
  const auto jt = nlohmann::json::parse(st);
  EXPECT_EQ(jt["settings"]["devices"]["text_encoder"], "cpu");
  EXPECT_EQ(jt["settings"]["preset"], "turbo");
  EXPECT_GT(jt["forwards_reused"].get<int>(), 0);
  // --offload: the blocks stream from pinned host memory; the same latents, bit for bit.
  auto o = test::run_jenga(common + "--steps 3 --device cuda --offload --latents-out " + (dir / "off.safetensors") +
                           " -o " + (dir / "off.y4m"));
  ASSERT_EQ(o.exit_code, 0) << o.output;
  EXPECT_EQ(SafetensorsFile::open(dir / "off.safetensors")->load("latents").to_f32_vector(), lg);
  std::ifstream so(dir / "off.y4m.json");
  EXPECT_EQ(nlohmann::json::parse(so)["settings"]["offload"], true);
}

// make-tiny's own HunyuanVideo folder (DiT head dim 32) through the CLI on the GPU
// (cuda_tiny_folder_check.h); Turbo at a size its checks take is the sparse run refused.
TEST(CudaHunyuanLoop, MakeTinyFolderRunsPaddedOnTheGpu) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  test::expect_tiny_folder_runs_padded("hunyuan", "--size 64x48 --frames 5 --steps 2",
                                       "--size 512x96 --frames 13 --steps 8 --preset turbo");
}

// `generate --image --device cuda` on make-tiny's whole I2V folder (its DiT swapped for one with
// head dim 64): the LLaVA LLM, the image's VAE encode and the DiT on the GPU (vision tower and
// CLIP-L on the CPU), dense and Jenga base; the final latents near the CPU run's.
TEST(CudaHunyuanLoop, I2vGenerateImageOnTheGpu) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  test::TempDir dir;
  const std::string model = tiny_cuda_folder(dir, "hunyuan-i2v", "hunyuan-video-i2v-720p");
  ASSERT_FALSE(model.empty());
  const std::string data = std::string(JENGA_TEST_DATA) + "/hunyuan_i2v/";
  const std::string common = "generate --model " + model + " -p \"a cat walks\" --frames 5 -q ";
  struct Run {
    std::string name, flags;
    double tol;
  };
  // Dense: a colour photo in a 64-px bucket; base: a square image in the 128-px bucket, 5 frames
  // -> 2 x 8 x 8 = 128 tokens (one whole block) + 253 text rows (3 zero rows of the I2V kernel).
  for (const Run& k : {Run{"dense", "--image " + data + "rgb_53x37.png --i2v-resolution 64 --steps 3", 2e-2},
                       Run{"base", "--image " + data + "grey_50x50.png --i2v-resolution 128 --preset base --i2v-stability",
                           5e-2}}) {
    SCOPED_TRACE(k.name);
    auto g = test::run_jenga(common + k.flags + " --device cuda --latents-out " + (dir / (k.name + "_gpu.safetensors")) +
                             " -o " + (dir / (k.name + "_gpu.y4m")));
    ASSERT_EQ(g.exit_code, 0) << g.output;
    std::ifstream sc(dir / (k.name + "_gpu.y4m.json"));
    const auto j = nlohmann::json::parse(sc);
    EXPECT_EQ(j["model"]["release"], "I2V");
    EXPECT_EQ(j["settings"]["devices"]["text_encoder"], "cuda");
    EXPECT_EQ(j["settings"]["devices"]["dit"], "cuda");
    auto c = test::run_jenga(common + k.flags + " --device cpu --latents-out " + (dir / (k.name + "_cpu.safetensors")) +
                             " -o " + (dir / (k.name + "_cpu.y4m")));
    ASSERT_EQ(c.exit_code, 0) << c.output;
    const Tensor tg = SafetensorsFile::open(dir / (k.name + "_gpu.safetensors"))->load("latents");
    const Tensor tc = SafetensorsFile::open(dir / (k.name + "_cpu.safetensors"))->load("latents");
    const auto lg = tg.to_f32_vector(), lc = tc.to_f32_vector();
    ASSERT_EQ(lg.size(), lc.size());
    // Frame 0 is the image latent of each run (its VAE encode on each device: near).
    const int64_t T = tg.dim(1), HW = tg.dim(2) * tg.dim(3), z = tg.dim(0);
    std::vector<float> f0g, f0c;
    for (int64_t ch = 0; ch < z; ++ch)
      for (int64_t i = 0; i < HW; ++i) f0g.push_back(lg[ch * T * HW + i]), f0c.push_back(lc[ch * T * HW + i]);
    const double e0 = rel_l2(f0g, f0c), e = rel_l2(lg, lc);
    std::printf("generate --image %s --device cuda vs cpu (tiny I2V folder): final latents rel L2 %.2e, frame 0 %.2e\n",
                k.name.c_str(), e, e0);
    EXPECT_LT(e0, 1e-2);
    EXPECT_LT(e, k.tol);
  }
}

#ifdef JENGA_MPIRUN
const char* const kMpirun = JENGA_MPIRUN;
#else
const char* const kMpirun = nullptr;
#endif

namespace {
// Why `generate` under `mpirun -np gpus` through NCCL cannot run here, or "".
std::string sp_skip_reason(int gpus) {
  if (!cuda::available() || cuda::device_count() < gpus) return "needs " + std::to_string(gpus) + " CUDA device(s)";
  if (!kMpirun) return "this build has no MPI";
  if (!dist::nccl_available()) return "this build has no NCCL";
  if (getenv("OMPI_COMM_WORLD_SIZE")) return "launched by mpirun";
  return "";
}

struct SpRun {
  std::vector<float> plain, mpi;  // final latents of the one-process and the mpirun run
};
// `generate --device cuda` on tiny_cuda_folder, one process and then `mpirun -np N` (sequence parallel through NCCL); `args`: steps, preset.
SpRun run_plain_and_mpi(int np, const std::string& args) {
  SpRun r;
  test::TempDir dir;
  const std::string model = tiny_cuda_folder(dir, "hunyuan", "hunyuan-video-t2v-720p");
  if (model.empty()) return r;
  const std::string mpirun = std::string("NCCL_NVLS_ENABLE=0 OMPI_MCA_btl_vader_single_copy_mechanism=none ") +
                             kMpirun + " -np " + std::to_string(np) + " ";
  const std::string common = "generate --model " + model + " -p \"a cat walks\" --size 512x96 --frames 13 --device cuda -q " + args;
  auto a = test::run_jenga(common + " --latents-out " + (dir / "plain.safetensors") + " -o " + (dir / "plain.y4m"));
  [&] { ASSERT_EQ(a.exit_code, 0) << a.output; }();
  auto b = test::run_jenga_with_prefix(mpirun, common + " --latents-out " + (dir / "mpi.safetensors") + " -o " +
                                                   (dir / "mpi.y4m"));
  [&] { ASSERT_EQ(b.exit_code, 0) << b.output; }();
  if (a.exit_code || b.exit_code) return r;
  std::ifstream sc(dir / "mpi.y4m.json");
  const auto j = nlohmann::json::parse(sc);
  EXPECT_EQ(j["settings"]["parallel"]["world_size"], np);
  EXPECT_EQ(j["settings"]["parallel"]["mode"], "sequence");
  EXPECT_EQ(j["settings"]["parallel"]["communicator"], "nccl");
  r.plain = SafetensorsFile::open(dir / "plain.safetensors")->load("latents").to_f32_vector();
  r.mpi = SafetensorsFile::open(dir / "mpi.safetensors")->load("latents").to_f32_vector();
  return r;
}
}  // namespace

// Sequence parallel on the GPU (NCCL) with a world of one, `mpirun -np 1`: every exchange of the
// HunyuanVideo Ulysses path runs (image q/k/v all-to-all, text rows cut to the rank's heads and
// their output heads gathered, the head rows gathered) and the latents equal the plain CUDA
// run's bit for bit; dense and Turbo (AttenCarve over the exchanged heads, step reuse).
TEST(CudaHunyuanLoop, SequenceParallelWorldOfOneEqualsPlain) {
  if (const std::string why = sp_skip_reason(1); !why.empty()) GTEST_SKIP() << why;
  for (const std::string& k : {std::string("--steps 3"), std::string("--steps 8 --preset turbo")}) {
    SCOPED_TRACE(k);
    const SpRun r = run_plain_and_mpi(1, k);
    if (HasFatalFailure()) return;
    EXPECT_EQ(r.plain, r.mpi);
  }
}

// Two GPUs (skips with fewer): image tokens split over two ranks through NCCL, text replicated;
// the latents near the one-GPU run's (the GEMMs see other row counts: rounding, not bits).
TEST(CudaHunyuanLoop, SequenceParallelTwoGpusNearOneGpu) {
  if (const std::string why = sp_skip_reason(2); !why.empty()) GTEST_SKIP() << why;
  for (const std::string& k : {std::string("--steps 3"), std::string("--steps 8 --preset turbo")}) {
    SCOPED_TRACE(k);
    const SpRun r = run_plain_and_mpi(2, k);
    if (HasFatalFailure()) return;
    const double e = rel_l2(r.mpi, r.plain);
    std::printf("hunyuan generate, 2 GPUs (NCCL) vs 1 GPU, %s: final latents rel L2 %.2e\n", k.c_str(), e);
    EXPECT_LT(e, 2e-2);
  }
}
