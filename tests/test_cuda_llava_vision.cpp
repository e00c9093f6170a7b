// LLaVA's image side on CUDA (HunyuanVideo-I2V's vision tower + projector, llava_vision_cuda.*)
// against the CPU f32 encoder and transformers' goldens; the whole I2V text encoder with it on the
// make-tiny folder; a full-size random ViT-L/14-336. GPU only: skips without a device.
//
// Bounds as in test_cuda_hunyuan_text.cpp: the f32 mode (fp16 weights widened per GEMM) matches
// the CPU to 1e-4 (max abs error over max abs value) when the weights are stored in fp16; f32
// weights are rounded to fp16 on the GPU (2^-11 relative), and the default fp16 path rounds its
// GEMM operands too: rel L2 <= 5e-3 for both.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "backend/cuda/cuda_backend.h"
#include "golden_compare.h"
#include "io/image_reader.h"
#include "io/safetensors.h"
#include "models/hunyuan/hunyuan_folder.h"
#include "models/hunyuan/hunyuan_model.h"
#include "models/hunyuan/hunyuan_tiny_folder.h"
#include "models/hunyuan/llava_vision.h"
#include "models/hunyuan/llava_vision_cuda.h"
#include "models/video_model.h"
#include "tensor_compare.h"
#include "test_util.h"

namespace hy = jenga::hunyuan;
using jenga::test::max_rel_error;
using jenga::test::rel_l2;
using P = hy::TextEncoderPrecision;

namespace {
const std::string kData = std::string(JENGA_TEST_DATA) + "/hunyuan_i2v/";
constexpr double kFp16RelL2 = 5e-3;

jenga::Tensor pixels_of(const std::string& folder, const std::string& image) {
  return hy::clip_preprocess(jenga::read_image_rgb(kData + image), hy::ClipImageProcessorConfig::load(folder));
}
}  // namespace

// llava_i2v_tiny holds fp16 weights (exact on the GPU): the f32 mode equals the CPU encoder;
// llava_tiny (f32 weights) is transformers' golden (tools/golden/hunyuan_i2v_llava_golden.py).
TEST(CudaLlavaVision, MatchesTheCpuEncoderAndTransformers) {
  if (!jenga::cuda::available()) GTEST_SKIP() << "no CUDA device";
  {
    const std::string model = kData + "llava_i2v_tiny";
    const auto cpu = hy::LlavaVisionEncoder::open(model);
    const auto exact = hy::LlavaVisionEncoderCuda::upload(cpu, P::F32);
    const auto fast = hy::LlavaVisionEncoderCuda::upload(cpu);
    EXPECT_FALSE(exact->f16());
    EXPECT_TRUE(fast->f16()) << "widths 32 / 48 / 40, head dim 8: the fp16 path applies";
    for (const std::string image : {"photo_71x43.jpg", "rgba_29x61.png"}) {
      const auto px = pixels_of(model, image);
      const auto want = cpu.encode(px);
      const auto got = exact->encode(px);
      ASSERT_EQ(got.features.shape().str(), want.features.shape().str());
      ASSERT_EQ(got.projected.shape().str(), want.projected.shape().str());
      EXPECT_LE(max_rel_error(got.features.to_f32_vector(), want.features.to_f32_vector()), 1e-4) << image;
      EXPECT_LE(max_rel_error(got.projected.to_f32_vector(), want.projected.to_f32_vector()), 1e-4) << image;
      const auto f = fast->encode(px);
      const double rf = rel_l2(f.features, want.features), rp = rel_l2(f.projected, want.projected);
      std::printf("llava_i2v_tiny %s: fp16 path features rel L2 %.2e, projected %.2e\n", image.c_str(), rf, rp);
      EXPECT_LE(rf, kFp16RelL2) << image;
      EXPECT_LE(rp, kFp16RelL2) << image;
      EXPECT_GT(rp, 1e-7) << "the default path should round operands to fp16 (is it running f32?)";
    }
  }
  const std::string model = kData + "llava_tiny";
  const auto g = jenga::SafetensorsFile::open(kData + "llava_golden.safetensors");
  const auto cpu = hy::LlavaVisionEncoder::open(model);
  for (const P p : {P::F32, P::F16}) {
    const auto gpu = hy::LlavaVisionEncoderCuda::upload(cpu, p);
    const auto r = gpu->encode(pixels_of(model, "photo_71x43.jpg"));
    EXPECT_LE(rel_l2(r.features.to_f32_vector(), g->load("features_photo_71x43_jpg").to_f32_vector()), kFp16RelL2);
    EXPECT_LE(rel_l2(r.projected.to_f32_vector(), g->load("projected_photo_71x43_jpg").to_f32_vector()), kFp16RelL2);
    // A second image through the same buffers.
    const auto px2 = pixels_of(model, "grey_50x50.png");
    EXPECT_LE(rel_l2(gpu->encode(px2).projected, cpu.encode(px2).projected), kFp16RelL2);
  }
  // `debug encode-image --device cuda --precision f32` through the CLI.
  jenga::test::TempDir tmp;
  const std::string i2v = kData + "llava_i2v_tiny";
  auto r = jenga::test::run_jenga("debug encode-image --device cuda --precision f32 --text-encoder " + i2v +
                                  " --image " + kData + "photo_71x43.jpg --out " + (tmp / "e.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto want = hy::LlavaVisionEncoder::open(i2v).encode(pixels_of(i2v, "photo_71x43.jpg"));
  EXPECT_LE(max_rel_error(jenga::SafetensorsFile::open(tmp / "e.safetensors")->load("projected").to_f32_vector(),
                          want.projected.to_f32_vector()),
            1e-4);
}

// The make-tiny I2V folder as generate runs it: its vision tower (width 16, 2 heads of 8, f32
// weights) alone, then the whole I2V text encoder of open_hunyuan_model with the CUDA parts
// (vision tower, projector and LLM on the GPU) vs without (all CPU): the image + text rows.
TEST(CudaLlavaVision, TinyI2vFolderTextStatesMatchTheCpu) {
  if (!jenga::cuda::available()) GTEST_SKIP() << "no CUDA device";
  jenga::test::TempDir d;
  hy::write_tiny_hunyuan_i2v_folder(d.path().string(), 3, jenga::DType::F32);
  const std::string llava = (d / "text_encoder_i2v");
  const auto cpu = hy::LlavaVisionEncoder::open(llava);
  const auto px = pixels_of(llava, "rgb_53x37.png");
  const auto want = cpu.encode(px);
  for (const P p : {P::F32, P::F16}) {
    const auto got = hy::LlavaVisionEncoderCuda::upload(cpu, p)->encode(px);
    const double rf = rel_l2(got.features, want.features), rp = rel_l2(got.projected, want.projected);
    std::printf("make-tiny I2V image states (%s): features rel L2 %.2e, projected %.2e\n", p == P::F32 ? "f32" : "fp16",
                rf, rp);
    EXPECT_LE(rf, kFp16RelL2);
    EXPECT_LE(rp, kFp16RelL2);
  }

  const auto paths = hy::resolve_hunyuan(d.path().string(), {}, false, false);
  ASSERT_EQ(paths.release, hy::Release::I2V);
  jenga::ReferenceImage ref;
  ref.source = jenga::read_image_rgb(kData + "rgb_53x37.png");
  const std::string prompt = "a red cat walks on the grass";
  const auto parts = hy::cuda_parts();
  const auto on_gpu = hy::open_hunyuan_model(paths, &parts)->text_encoder(false)->encode_with_image(prompt, ref);
  const auto on_cpu = hy::open_hunyuan_model(paths, nullptr)->text_encoder(true)->encode_with_image(prompt, ref);
  ASSERT_EQ(on_gpu.tokens.shape().str(), on_cpu.tokens.shape().str());
  EXPECT_EQ(on_gpu.valid, on_cpu.valid);
  const double r = rel_l2(on_gpu.tokens, on_cpu.tokens);
  std::printf("make-tiny I2V text states %s (%lld valid): GPU vs CPU rel L2 %.2e\n", on_gpu.tokens.shape().str().c_str(),
              static_cast<long long>(on_gpu.valid), r);
  EXPECT_LE(r, kFp16RelL2);
  EXPECT_LE(rel_l2(on_gpu.pooled, on_cpu.pooled), 1e-5) << "CLIP-L stays on the CPU in both";
}

// Full size (ViT-L/14-336: 24 layers, width 1024, 16 heads, ffn 4096, 577 positions; projector
// 1024 -> 4096 -> 4096), random fp16 weights: the f32 mode equals the CPU f32 encoder, and the
// fp16 path's distance from it is printed (bench/hunyuan_i2v_vision_peer.py puts transformers'
// fp16-vs-f32 distance beside it).
TEST(CudaLlavaVision, FullSizeRandomTowerFp16IsNearTheF32Path) {
  if (!jenga::cuda::available()) GTEST_SKIP() << "no CUDA device";
  jenga::test::TempDir d;
  hy::write_random_llava_vision(d.path().string(), {}, 11, jenga::DType::F16);
  const auto cpu = hy::LlavaVisionEncoder::open(d.path().string());
  ASSERT_EQ(cpu.config().tokens(), 576);
  ASSERT_EQ(cpu.config().heads, 16);
  ASSERT_EQ(cpu.config().layers_run(), 23);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.8f, 2.1f);  // CLIP-normalised pixels span about this
  jenga::Tensor px = jenga::Tensor::empty(jenga::DType::F32, {3, 336, 336});
  for (int64_t i = 0; i < px.numel(); ++i) px.data_as<float>()[i] = u(rng);
  const auto exact = hy::LlavaVisionEncoderCuda::upload(cpu, P::F32)->encode(px);
  const auto fast = hy::LlavaVisionEncoderCuda::upload(cpu)->encode(px);
  const auto want = cpu.encode(px);
  ASSERT_EQ(exact.projected.shape().str(), "[576, 4096]");
  const double ef = max_rel_error(exact.features.to_f32_vector(), want.features.to_f32_vector());
  const double ep = max_rel_error(exact.projected.to_f32_vector(), want.projected.to_f32_vector());
  const double rf = rel_l2(fast.features, exact.features), rp = rel_l2(fast.projected, exact.projected);
  std::printf("full-size vision tower: f32 mode vs CPU max rel %.2e / %.2e; fp16 path vs f32 rel L2: features %.2e, "
              "projected %.2e\n", ef, ep, rf, rp);
  EXPECT_LE(ef, 1e-4);
  EXPECT_LE(ep, 1e-4);
  EXPECT_LE(rf, 1e-2);
  EXPECT_LE(rp, 1e-2);
  EXPECT_GT(rp, 1e-7);
}

// A head dim (12) that is not a whole 16-byte fp16 slice: the default precision falls back to the
// exact f32 mode (precision_for_widths), which then equals the CPU (fp16 weights, exact on the GPU).
TEST(CudaLlavaVision, OddHeadDimFallsBackToTheF32Mode) {
  if (!jenga::cuda::available()) GTEST_SKIP() << "no CUDA device";
  jenga::test::TempDir d;
  hy::LlavaVisionShape s;
  s.hidden = 24, s.ffn = 40, s.layers = 3, s.heads = 2, s.image = 42, s.proj_out = 16;
  hy::write_random_llava_vision(d.path().string(), s, 9, jenga::DType::F16);
  const auto cpu = hy::LlavaVisionEncoder::open(d.path().string());
  const auto gpu = hy::LlavaVisionEncoderCuda::upload(cpu);
  EXPECT_FALSE(gpu->f16());
  jenga::Tensor px = jenga::Tensor::empty(jenga::DType::F32, {3, 42, 42});
  for (int64_t i = 0; i < px.numel(); ++i) px.data_as<float>()[i] = static_cast<float>((i * 7) % 23) / 11.0f - 1.0f;
  const auto got = gpu->encode(px), want = cpu.encode(px);
  EXPECT_LE(max_rel_error(got.features.to_f32_vector(), want.features.to_f32_vector()), 1e-4);
  EXPECT_LE(max_rel_error(got.projected.to_f32_vector(), want.projected.to_f32_vector()), 1e-4);
}
