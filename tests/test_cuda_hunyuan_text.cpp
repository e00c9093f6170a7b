// The CUDA text encoders (LLM and CLIP-L) against the CPU f32 encoders and the official goldens on
// the tiny checkpoints (tests/data/hunyuan_text). GPU only: skips without a device.
//
// Two precisions: the f32 reference (TextEncoderPrecision::F32: fp16 weights widened per GEMM,
// f32 everything) must match the CPU to 1e-4 (max abs error over max abs value, as the golden
// tests); the default fp16 path (fp16 GEMM operands, f32 accumulation / norms / residual stream)
// is held to rel L2 <= 5e-3. Why that bound: each fp16 operand carries a rounding error of at
// most 2^-11 relative (RMS ~2.8e-4); a layer rounds its activations at four GEMM inputs plus q/k/v
// and the attention probabilities, errors of independent roundings add in quadrature and the
// f32 residual stream does not compound them, so a few layers land near 1e-3 (transformers' own
// fp16 forward is 8.9e-3 from f32 at full size, 32 layers; bench/gpu_hunyuan_components.sh
// checks ours against that). A wrong kernel, layout or mask is O(1) off.
#include <gtest/gtest.h>

#include "backend/cuda/cuda_backend.h"
#include "golden_compare.h"
#include "io/image_reader.h"
#include "io/safetensors.h"
#include "models/hunyuan/clip_text_encoder.h"
#include "models/hunyuan/clip_text_encoder_cuda.h"
#include "models/hunyuan/i2v_text_encoder.h"
#include "models/hunyuan/llama_text_encoder.h"
#include "models/hunyuan/llama_text_encoder_cuda.h"
#include "models/hunyuan/llava_vision.h"
#include "tensor_compare.h"
#include "test_util.h"

namespace hy = jenga::hunyuan;
using jenga::test::max_rel_error;
using jenga::test::rel_l2;
using P = hy::TextEncoderPrecision;

namespace {
const std::string kDir = std::string(JENGA_TEST_DATA) + "/hunyuan_text/";
constexpr double kFp16RelL2 = 5e-3;
std::vector<int64_t> i64(const jenga::SafetensorsFile& f, const std::string& name) {
  const auto t = f.load(name).to(jenga::DType::I64);
  return std::vector<int64_t>(t.data_as<int64_t>(), t.data_as<int64_t>() + t.numel());
}
// f(dir, cpu encoder, skip) over the tiny official fp16 shards and ComfyUI's scaled fp8 file, for
// hidden_states[-3] (skip 2) and the final norm's output (skip 0).
template <class F>
void for_each_llm(F&& f) {
  for (const std::string dir : {"llm_official", "llm_fp8"}) {
    const auto cpu = hy::LlamaTextEncoder::open(kDir + dir);
    for (int64_t skip : {2, 0}) f(dir, cpu, skip);
  }
}
}  // namespace

TEST(CudaHunyuanLlama, F32ReferenceMatchesTheCpuEncoderAndTheGolden) {
  if (!jenga::cuda::available()) GTEST_SKIP() << "no CUDA device";
  const auto g = jenga::SafetensorsFile::open(kDir + "text_encoder_golden.safetensors");
  const auto ids = i64(*g, "llm_ids"), mask = i64(*g, "llm_mask");
  for_each_llm([&](const std::string& dir, const hy::LlamaTextEncoder& cpu, int64_t skip) {
    const auto gpu = hy::LlamaTextEncoderCuda::upload(cpu, skip, P::F32)->encode(ids, mask);
    const auto want = cpu.encode(ids, mask, skip).to_f32_vector();
    // The GPU keeps weights in fp16: fp16 weights load exactly, but fp8 x per-tensor scale is
    // rounded to fp16 (2^-11 relative) where the CPU keeps it in f32; measured 7.9e-4 on an H100.
    const double tol = dir == "llm_fp8" ? 2e-3 : 1e-4;
    EXPECT_LE(max_rel_error(gpu.to_f32_vector(), want), tol) << dir << " skip " << skip;
  });
  const auto official = hy::LlamaTextEncoder::open(kDir + "llm_official");
  const auto gpu = hy::LlamaTextEncoderCuda::upload(official, 2, P::F32)->encode(ids, mask);
  EXPECT_LE(max_rel_error(gpu.to_f32_vector(), g->load("llm_hidden_m3").to_f32_vector()), 1e-4);
}

// The default (fp16 tensor-core) path, official fp16 shards and ComfyUI's scaled fp8 file.
TEST(CudaHunyuanLlama, Fp16PathIsWithinFp16RoundingOfTheCpuEncoder) {
  if (!jenga::cuda::available()) GTEST_SKIP() << "no CUDA device";
  const auto g = jenga::SafetensorsFile::open(kDir + "text_encoder_golden.safetensors");
  const auto ids = i64(*g, "llm_ids"), mask = i64(*g, "llm_mask");
  for_each_llm([&](const std::string& dir, const hy::LlamaTextEncoder& cpu, int64_t skip) {
    const auto enc = hy::LlamaTextEncoderCuda::upload(cpu, skip);
    const auto gpu = enc->encode(ids, mask);
    const auto want = cpu.encode(ids, mask, skip);
    const double r = rel_l2(gpu, want);
    EXPECT_LE(r, kFp16RelL2) << dir << " skip " << skip;
    EXPECT_GT(r, 1e-7) << "the default path should round operands to fp16 (is it running f32?)";
    // Buffers are kept between calls: a second, shorter prompt must not see the first's state.
    const std::vector<int64_t> ids2(ids.begin(), ids.begin() + ids.size() / 2), mask2(ids2.size(), 1);
    const auto again = enc->encode(ids2, mask2);
    EXPECT_LE(rel_l2(again, cpu.encode(ids2, mask2, skip)), kFp16RelL2) << dir << " shorter prompt";
    EXPECT_LE(rel_l2(enc->encode(ids, mask), gpu), 1e-6) << dir << " the first prompt again";
  });
}

TEST(CudaHunyuanClip, MatchesTheCpuEncoderAndTheGolden) {
  if (!jenga::cuda::available()) GTEST_SKIP() << "no CUDA device";
  const auto g = jenga::SafetensorsFile::open(kDir + "text_encoder_golden.safetensors");
  const auto ids = i64(*g, "clip_ids"), mask = i64(*g, "clip_mask");
  const auto cpu = hy::ClipTextEncoder::open(kDir + "clip");
  const auto want = cpu.encode(ids, mask);
  {
    const auto r = hy::ClipTextEncoderCuda::upload(cpu, P::F32)->encode(ids, mask);
    EXPECT_LE(max_rel_error(r.last_hidden_state.to_f32_vector(), want.last_hidden_state.to_f32_vector()), 1e-4);
    EXPECT_LE(max_rel_error(r.pooled.to_f32_vector(), g->load("clip_pooled").to_f32_vector()), 1e-4);
  }
  const auto r = hy::ClipTextEncoderCuda::upload(cpu)->encode(ids, mask);
  const double rl = rel_l2(r.last_hidden_state, want.last_hidden_state), rp = rel_l2(r.pooled, want.pooled);
  EXPECT_LE(rl, kFp16RelL2);
  EXPECT_LE(rp, kFp16RelL2);
  EXPECT_GT(rl, 1e-7) << "the default path should round operands to fp16";
  // Fewer tokens than the 77 positions (the buffers are sized for 77) and a padded tail.
  std::vector<int64_t> ids2(ids.begin(), ids.begin() + 20), mask2(mask.begin(), mask.begin() + 20);
  mask2.back() = 0;
  const auto gpu2 = hy::ClipTextEncoderCuda::upload(cpu)->encode(ids2, mask2);
  EXPECT_LE(rel_l2(gpu2.last_hidden_state, cpu.encode(ids2, mask2).last_hidden_state), kFp16RelL2);
}

// HunyuanVideo-I2V's text encoder with its LLM on the GPU: the merged LLaVA input (image rows
// spliced in, pad rows zeroed, masked rows at RoPE position 1) through encode_embeddings gives
// transformers' hidden states (tests/data/hunyuan_i2v golden), and the official crop of them.
TEST(CudaHunyuanLlama, I2vEncodeFromEmbeddingsMatchesTheGolden) {
  if (!jenga::cuda::available()) GTEST_SKIP() << "no CUDA device";
  const std::string dir = std::string(JENGA_TEST_DATA) + "/hunyuan_i2v";
  const std::string model = dir + "/llava_i2v_tiny";
  const auto g = jenga::SafetensorsFile::open(dir + "/i2v_text_golden.safetensors");
  const auto vision = hy::LlavaVisionEncoder::open(model);
  const auto llm = hy::LlamaTextEncoder::open(model);
  const auto sp = hy::LlavaSpecialTokens::load(model);
  const auto px = hy::clip_preprocess(jenga::read_image_rgb(dir + "/photo_71x43.jpg"), hy::ClipImageProcessorConfig::load(model));
  const auto image = vision.encode(px);
  const auto gpu = hy::LlamaTextEncoderCuda::upload(llm, 2, P::F32);  // the exact path for the 1e-4 bound
  const auto fast = hy::LlamaTextEncoderCuda::upload(llm, 2);
  hy::I2vTextCrop crop;  // the tiny template's (tests/test_hunyuan_i2v_text.cpp)
  crop.crop_start = 20, crop.image_emb_start = 5, crop.double_return_id = 27, crop.interleave = 4;
  for (const std::string c : {"padded", "truncated", "extra"}) {
    const auto ids = i64(*g, c + "_ids"), mask = i64(*g, c + "_mask");
    const auto m = hy::llava_merge_input(llm, ids, mask, image.projected, sp);
    const auto hidden = gpu->encode_embeddings(m.embeds, m.positions, m.mask);
    EXPECT_LE(max_rel_error(hidden.to_f32_vector(), g->load(c + "_hidden").to_f32_vector()), 1e-4) << c;
    EXPECT_LE(rel_l2(fast->encode_embeddings(m.embeds, m.positions, m.mask), hidden), kFp16RelL2) << c << " (fp16)";
    const auto s = hy::i2v_crop_states(hidden, ids, mask, image.projected.dim(0), crop);
    EXPECT_LE(max_rel_error(s.states.to_f32_vector(), g->load(c + "_states").to_f32_vector()), 1e-4) << c;
  }
  // `debug encode-text --image --device cuda`: the same states through the CLI.
  jenga::test::TempDir tmp;
  {
    jenga::SafetensorsWriter w;
    w.add("ids", g->load("padded_ids"));
    w.add("mask", g->load("padded_mask"));
    w.write(tmp / "ids.safetensors");
  }
  auto r = jenga::test::run_jenga("debug encode-text --text-encoder " + model + " --image " + dir +
                                  "/photo_71x43.jpg --ids " + (tmp / "ids.safetensors") +
                                  " --crop-start 20 --double-return-id 27 --device cuda --out " + (tmp / "s.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_LE(max_rel_error(jenga::SafetensorsFile::open(tmp / "s.safetensors")->load("hidden_states").to_f32_vector(),
                          g->load("padded_states").to_f32_vector()),
            1e-4);
  // Token ids through the same entry: encode() is encode_embeddings at positions 0 .. L-1.
  const auto ids = i64(*g, "padded_ids"), mask = i64(*g, "padded_mask");
  std::vector<int64_t> text_ids(ids);
  for (auto& id : text_ids) id = id == sp.image ? 0 : id;
  EXPECT_LE(max_rel_error(gpu->encode(text_ids, mask).to_f32_vector(), llm.encode(text_ids, mask, 2).to_f32_vector()),
            1e-4);
}
