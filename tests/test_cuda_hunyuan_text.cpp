// The CUDA LLM text encoder (fp16 weights, f32 compute) against the CPU encoder and the official
// goldens on the tiny checkpoint (tests/data/hunyuan_text). GPU only: skips without a device.
#include <gtest/gtest.h>

#include "backend/cuda/cuda_backend.h"
#include "golden_compare.h"
#include "io/image_reader.h"
#include "io/safetensors.h"
#include "models/hunyuan/i2v_text_encoder.h"
#include "models/hunyuan/llama_text_encoder.h"
#include "models/hunyuan/llama_text_encoder_cuda.h"
#include "models/hunyuan/llava_vision.h"
#include "test_util.h"

namespace hy = jenga::hunyuan;
using jenga::test::max_rel_error;

namespace {
const std::string kDir = std::string(JENGA_TEST_DATA) + "/hunyuan_text/";
std::vector<int64_t> i64(const jenga::SafetensorsFile& f, const std::string& name) {
  const auto t = f.load(name).to(jenga::DType::I64);
  return std::vector<int64_t>(t.data_as<int64_t>(), t.data_as<int64_t>() + t.numel());
}
}  // namespace

TEST(CudaHunyuanLlama, MatchesTheCpuEncoderAndTheGolden) {
  if (!jenga::cuda::available()) GTEST_SKIP() << "no CUDA device";
  const auto g = jenga::SafetensorsFile::open(kDir + "text_encoder_golden.safetensors");
  const auto ids = i64(*g, "llm_ids"), mask = i64(*g, "llm_mask");
  for (const std::string dir : {"llm_official", "llm_fp8"}) {
    const auto cpu = hy::LlamaTextEncoder::open(kDir + dir);
    for (int64_t skip : {2, 0}) {
      const auto gpu = hy::LlamaTextEncoderCuda::upload(cpu, skip)->encode(ids, mask);
      const auto want = cpu.encode(ids, mask, skip).to_f32_vector();
      // The GPU keeps weights in fp16: fp16 weights load exactly, but fp8 x per-tensor scale is
      // rounded to fp16 (2^-11 relative) where the CPU keeps it in f32; measured 7.9e-4 on an H100.
      const double tol = dir == "llm_fp8" ? 2e-3 : 1e-4;
      EXPECT_LE(max_rel_error(gpu.to_f32_vector(), want), tol) << dir << " skip " << skip;
    }
  }
  const auto official = hy::LlamaTextEncoder::open(kDir + "llm_official");
  const auto gpu = hy::LlamaTextEncoderCuda::upload(official)->encode(ids, mask);
  EXPECT_LE(max_rel_error(gpu.to_f32_vector(), g->load("llm_hidden_m3").to_f32_vector()), 1e-4);
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
  const auto gpu = hy::LlamaTextEncoderCuda::upload(llm, 2);
  hy::I2vTextCrop crop;  // the tiny template's (tests/test_hunyuan_i2v_text.cpp)
  crop.crop_start = 20, crop.image_emb_start = 5, crop.double_return_id = 27, crop.interleave = 4;
  for (const std::string c : {"padded", "truncated", "extra"}) {
    const auto ids = i64(*g, c + "_ids"), mask = i64(*g, c + "_mask");
    const auto m = hy::llava_merge_input(llm, ids, mask, image.projected, sp);
    const auto hidden = gpu->encode_embeddings(m.embeds, m.positions, m.mask);
    EXPECT_LE(max_rel_error(hidden.to_f32_vector(), g->load(c + "_hidden").to_f32_vector()), 1e-4) << c;
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
