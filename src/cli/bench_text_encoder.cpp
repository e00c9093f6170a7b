// `jenga bench text-encoder`: one umT5 encode on the GPU (median of N after warm-up), random
// umT5-XXL weights unless --model is given. llama-bench style output. `--model hunyuan` hands over
// to HunyuanVideo's LLM + CLIP-L (bench_hunyuan.cpp).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/bench_hunyuan.h"
#include "cli/commands.h"
#include "core/error.h"
#include "jenga/version.h"
#if JENGA_HAVE_CUDA
#include <cuda_runtime.h>

#include "backend/cuda/bench_util.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "core/tensor.h"
#include "models/wan/t5_encoder.h"
#include "models/wan/t5_encoder_cuda.h"
#endif

namespace jenga::cli {
namespace {

struct BenchT5Options {
  std::string model;
  int tokens = 512;
  int iters = 5;
  int warmup = 2;
  uint64_t seed = 0;
  bool json = false;
  std::string llm, clip;  // --model hunyuan: text_encoder/ and text_encoder_2/
  std::string llava, precision = "fp16";  // --model hunyuan-i2v: the LLaVA folder, GEMM operands
  int valid = 0;          // --model hunyuan: real tokens before right padding (0 = all)
};

#if JENGA_HAVE_CUDA
void run_bench_t5(const BenchT5Options& o) {
  if (o.tokens < 1 || o.iters < 1 || o.warmup < 0) usage_fail("--tokens and --iters must be >= 1 and --warmup >= 0");
  if (!cuda::available()) fail("{}: 'jenga bench text-encoder' needs a GPU", cuda::no_gpu_reason());
  cuda::init();
  std::unique_ptr<wan::T5EncoderCuda> enc;
  std::string name;
  if (!o.model.empty()) {
    enc = wan::T5EncoderCuda::from_encoder(wan::T5Encoder::open(o.model));
    name = o.model;
  } else {
    enc = wan::T5EncoderCuda::random(wan::T5Config::umt5_xxl(), o.seed);
    name = "umt5-xxl (random)";
  }
  const auto& c = enc->config();
  const int64_t L = o.tokens;
  enc->reserve(L);
  // A prompt of L tokens, all valid (the encoder computes only up to the last token, so this is
  // also the cost of any prompt padded to L).
  std::vector<int32_t> ids(static_cast<size_t>(L));
  for (int64_t i = 0; i < L; ++i) ids[i] = static_cast<int32_t>((i * 7919 + 3) % c.vocab);
  ids.back() = 1;  // </s>
  std::vector<uint8_t> mask(static_cast<size_t>(L), 1);
  Tensor dids = Tensor::empty(DType::I32, Shape{L}, Device::CUDA);
  Tensor dmask = Tensor::empty(DType::U8, Shape{L}, Device::CUDA);
  Tensor out = Tensor::empty(DType::F32, Shape{L, c.dim}, Device::CUDA);
  cuda::copy_to_device(dids.data(), ids.data(), ids.size() * 4);
  cuda::copy_to_device(dmask.data(), mask.data(), mask.size());

  cudaStream_t stream;
  JENGA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  auto step = [&] { enc->forward(dids.data_as<int32_t>(), dmask.data_as<uint8_t>(), L, out.data_as<float>(), L, stream); };
  for (int i = 0; i < std::max(o.warmup, 1); ++i) step();  // the first call builds the GEMM plans
  JENGA_CUDA_CHECK(cudaStreamSynchronize(stream));
  std::vector<float> ms;
  {
    cuda::GpuTimer timer;
    for (int i = 0; i < o.iters; ++i) {
      timer.start(stream);
      step();
      ms.push_back(timer.stop_ms(stream));
    }
  }
  std::sort(ms.begin(), ms.end());
  const double med = ms[ms.size() / 2];
  std::vector<float> host(static_cast<size_t>(out.numel()));
  cuda::copy_to_host(host.data(), out.data(), host.size() * 4);
  for (float v : host)
    if (!std::isfinite(v)) fail("the umT5 encoder produced a non-finite value; the benchmark is void");
  cudaStreamDestroy(stream);

  const auto dev = cuda::device_info(0);
  const double tflops = enc->flops(L) / (med * 1e-3) / 1e12;
  const double gib = 1024.0 * 1024.0 * 1024.0;
  const auto mem = cuda::memory_stats();
  if (o.json) {
    nlohmann::json j = {{"bench", "text-encoder"}, {"model", name}, {"tokens", L}, {"layers", c.layers}, {"dim", c.dim},
                        {"ms_median", med}, {"ms_min", ms.front()}, {"ms_max", ms.back()}, {"iters", o.iters},
                        {"tflops", tflops}, {"weights_gib", enc->weight_bytes() / gib},
                        {"activations_gib", enc->activation_bytes() / gib}, {"peak_alloc_gib", mem.peak / gib},
                        {"device_used_gib", cuda::device_used_bytes() / gib}, {"device", dev.name},
                        {"commit", JENGA_GIT_COMMIT}};
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("| model | tokens | ms | TFLOP/s | weights GiB | peak GiB | device GiB | device | commit |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  std::printf("| %s | %lld | %.2f | %.0f | %.2f | %.2f | %.2f | %s | %s |\n", name.c_str(), static_cast<long long>(L),
              med, tflops, enc->weight_bytes() / gib, mem.peak / gib, cuda::device_used_bytes() / gib,
              dev.name.c_str(), JENGA_GIT_COMMIT);
}
#else
void run_bench_t5(const BenchT5Options&) {
  fail("'jenga bench text-encoder' needs the CUDA backend; this build has none (install the CUDA toolkit and re-run scripts/setup.sh)");
}
#endif

}  // namespace

void register_bench_text_encoder(CLI::App& bench) {
  auto o = std::make_shared<BenchT5Options>();
  auto* c = bench.add_subcommand("text-encoder", "One text encode on the GPU: Wan2.1's umT5, HunyuanVideo's LLM + CLIP-L, or the I2V LLaVA vision tower");
  c->add_option("-m,--model", o->model,
                 "umT5 encoder weights (default: random umT5-XXL weights), 'hunyuan' (needs --llm) or 'hunyuan-i2v' "
                 "(LLaVA's vision tower + projector; needs --llava)");
  auto* tokens = c->add_option("--tokens", o->tokens, "Prompt length in tokens, all valid (hunyuan default: 351)")->capture_default_str();
  c->add_option("--llm", o->llm, "--model hunyuan: the LLM weights (text_encoder/ folder or file)");
  c->add_option("--clip", o->clip, "--model hunyuan: CLIP-L weights (text_encoder_2/), encoded on the GPU after the LLM");
  c->add_option("--llava", o->llava,
                 "--model hunyuan-i2v: the LLaVA folder (text_encoder_i2v/); a new or empty one gets random full-size "
                 "ViT-L/14-336 weights, kept for a peer to read");
  c->add_option("--precision", o->precision, "--model hunyuan-i2v: fp16 (what generate runs) or f32 (the reference)")
      ->check(CLI::IsMember({"fp16", "f32"}))
      ->capture_default_str();
  c->add_option("--valid", o->valid, "--model hunyuan: real tokens before right padding (0 = all)")->capture_default_str();
  c->add_option("--iters", o->iters, "Timed encodes (median reported)")->capture_default_str();
  c->add_option("--warmup", o->warmup, "Untimed encodes first")->capture_default_str();
  c->add_option("--seed", o->seed, "Seed of the random weights")->capture_default_str();
  c->add_flag("--json", o->json, "One JSON object instead of a markdown table");
  c->callback([o, tokens] {
    if (o->model == "hunyuan-i2v") {
      if (!o->llm.empty() || !o->clip.empty() || o->valid || tokens->count())
        usage_fail("--llm, --clip, --valid and --tokens are for --model hunyuan; hunyuan-i2v takes --llava");
      return run_bench_hunyuan_vision({o->llava, o->iters, o->warmup, o->seed, o->json, o->precision});
    }
    if (!o->llava.empty() || o->precision != "fp16") usage_fail("--llava and --precision are for --model hunyuan-i2v");
    if (o->model != "hunyuan") {
      if (!o->llm.empty() || !o->clip.empty() || o->valid) usage_fail("--llm, --clip and --valid are for --model hunyuan");
      return run_bench_t5(*o);
    }
    run_bench_hunyuan_text({o->llm, o->clip, tokens->count() ? o->tokens : 351, o->valid, o->iters, o->warmup, o->json});
  });
}

}  // namespace jenga::cli
