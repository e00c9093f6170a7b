// `jenga bench vae --model hunyuan` and `jenga bench text-encoder --model hunyuan`: the
// HunyuanVideo VAE decode (official tiling, tiles on the GPU) and the LLM + CLIP-L encode of one
// templated prompt on the GPU (fp16 operands, as transformers), wall time of each (median of N
// after warm-up; each call synchronises, host input and output included), their sum, and peak GPU
// memory (bench/gpu_hunyuan_components.sh runs transformers on the same weights beside it).
#include "cli/bench_hunyuan.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "jenga/version.h"
#if JENGA_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/device_upload.h"
#include "core/tensor.h"
#include "models/hunyuan/clip_text_encoder.h"
#include "models/hunyuan/clip_text_encoder_cuda.h"
#include "models/hunyuan/hunyuan_vae.h"
#include "models/hunyuan/hunyuan_vae_cuda.h"
#include "models/hunyuan/hunyuan_vae_random.h"
#include "models/hunyuan/hunyuan_vae_tiling.h"
#include "models/hunyuan/llama_text_encoder.h"
#include "models/hunyuan/llama_text_encoder_cuda.h"
#include "models/hunyuan/hunyuan_tiny_folder.h"
#include "models/hunyuan/llava_vision.h"
#include "models/hunyuan/llava_vision_cuda.h"
#endif

namespace jenga::cli {
#if JENGA_HAVE_CUDA
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Median, min, max of `iters` timed calls after `warmup` untimed ones (each call synchronises).
template <class F>
std::vector<double> time_calls(int warmup, int iters, F&& f) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) {
    const double t0 = now_ms();
    f();
    ms.push_back(now_ms() - t0);
  }
  std::sort(ms.begin(), ms.end());
  return ms;
}

void check_finite(const Tensor& t, const char* what) {
  const float* p = t.data_as<float>();
  for (int64_t i = 0; i < t.numel(); ++i)
    if (!std::isfinite(p[i])) fail("{} produced a non-finite value; the benchmark is void", what);
}

void require_gpu(const char* cmd) {
  if (!cuda::available()) fail("{}: '{}' needs a GPU", cuda::no_gpu_reason(), cmd);
  cuda::init();
}

}  // namespace

void run_bench_hunyuan_vae(const BenchHunyuanVaeOptions& o) {
  auto [width, height] = parse_size("--size", o.size);
  if (width % 8 || height % 8) usage_fail("--size {}: width and height must be multiples of 8", o.size);
  if (o.frames < 1 || (o.frames - 1) % 4) usage_fail("--frames {}: must be 4k+1", o.frames);
  if (o.iters < 1 || o.warmup < 0) usage_fail("--iters must be >= 1 and --warmup >= 0");
  require_gpu("jenga bench vae");
  std::string name = o.weights;
  std::optional<hunyuan::HunyuanVae> vae;
  if (o.weights.empty()) {
    // Random weights of the published structure, written and read back through the loader.
    const auto dir = std::filesystem::temp_directory_path() /
                     ("jenga-bench-hyvae-" + std::to_string(std::random_device{}()));
    try {
      hunyuan::write_random_hunyuan_vae(hunyuan::HunyuanVaeConfig{}, dir.string(), o.seed, DType::F32);
      vae = hunyuan::HunyuanVae::load(dir.string());
    } catch (...) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
      throw;
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    name = "hunyuanvideo-vae (random)";
  } else {
    vae = hunyuan::HunyuanVae::load(o.weights);
  }
  const auto& c = vae->config;
  if (o.encode && !vae->has_encoder) fail("{}: no encoder.* weights; --encode needs them", o.weights);
  const int64_t T = (o.frames - 1) / c.time_compression_ratio + 1, H = height / c.spatial_compression_ratio,
                W = width / c.spatial_compression_ratio;
  // Decode: latents N(0, 1) as the denoiser sees them; encode: frames U(-1, 1).
  Tensor input = o.encode ? Tensor::empty(DType::F32, Shape{c.in_channels, o.frames, height, width})
                          : Tensor::empty(DType::F32, Shape{c.latent_channels, T, H, W});
  std::mt19937_64 rng(o.seed + 1);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::uniform_real_distribution<float> ud(-1.f, 1.f);
  for (int64_t i = 0; i < input.numel(); ++i) input.data_as<float>()[i] = o.encode ? ud(rng) : nd(rng);

  // The weights go up once, outside the timed calls (the official peer times decode() alone).
  cuda::reset_peak_memory();
  auto gpu = hunyuan::HunyuanVaeCuda::from_model(*vae, {.decoder = !o.encode, .encoder = o.encode});
  gpu->set_breakdown(o.breakdown);
  Tensor out;
  if (o.warmup_small) {  // as bench/hunyuan_vae_peer.py: z[:, :2, :16, :16] (or 5 frames of 128x128)
    const Tensor small = o.encode ? Tensor::zeros(DType::F32, Shape{c.in_channels, 1 + c.time_compression_ratio,
                                                                     16 * c.spatial_compression_ratio,
                                                                     16 * c.spatial_compression_ratio})
                                  : Tensor::zeros(DType::F32, Shape{c.latent_channels, 2, 16, 16});
    if (o.encode)
      hunyuan::hunyuan_vae_encode(*vae, small, true, [&](const hunyuan::HyClip& x) { return gpu->encode_tile(x); });
    else
      hunyuan::hunyuan_vae_decode(*vae, small, true, true, [&](const hunyuan::HyClip& z) { return gpu->decode_tile(z); });
    gpu->take_breakdown();  // not part of the timed calls
    cuda::reset_peak_memory();
  }
  const auto ms = time_calls(o.warmup, o.iters, [&] {
    out = o.encode ? hunyuan::hunyuan_vae_encode(*vae, input, true, [&](const hunyuan::HyClip& x) { return gpu->encode_tile(x); })
                   : hunyuan::hunyuan_vae_decode(*vae, input, true, true,
                                                 [&](const hunyuan::HyClip& z) { return gpu->decode_tile(z); });
  });
  check_finite(out, o.encode ? "the HunyuanVideo VAE encode" : "the HunyuanVideo VAE decode");
  const auto mem = cuda::memory_stats();
  const auto dev = cuda::device_info(0);
  const double med = ms[ms.size() / 2];
  const char* what = o.encode ? "encode" : "decode";
  // Per kind, averaged over the warm-up and timed calls (all were recorded).
  nlohmann::json breakdown = nlohmann::json::object();
  for (const auto& [kind, t] : gpu->take_breakdown()) breakdown[kind] = t / (o.warmup + o.iters);
  if (o.breakdown && breakdown.value("conv gemm", 0.0) > 0)  // GFLOP / ms = TFLOP/s
    breakdown["conv gemm TFLOP/s"] = breakdown["conv GFLOP"].get<double>() / breakdown["conv gemm"].get<double>();
  if (o.json) {
    nlohmann::json j = {{"bench", "vae"}, {"model", name}, {"family", "hunyuan"}, {"op", what}, {"size", o.size},
                        {"frames", o.frames}, {"latent", {T, H, W}}, {"ms_median", med}, {"ms_min", ms.front()},
                        {"ms_max", ms.back()}, {"iters", o.iters}, {"warmup", o.warmup}, {"warmup_small", o.warmup_small}, {"tiled", true}, {"peak_alloc_gib", mem.peak / kGiB},
                        {"weights_gib", gpu->weight_bytes() / kGiB}, {"workspace_gib", gpu->workspace_bytes() / kGiB},
                        {"device_used_gib", cuda::device_used_bytes() / kGiB},
                        {"precision", "fp16 act/weights, f32 accumulation"},
                        {"conv", gpu->conv_kernel()}, {"device", dev.name},
                        {"commit", JENGA_GIT_COMMIT}};
    if (o.breakdown) j["breakdown_gpu_ms"] = breakdown;
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("| model | op | size | frames | ms | peak GiB | workspace GiB | device | commit |\n"
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  std::printf("| %s | %s | %s | %d | %.1f | %.2f | %.2f | %s | %s |\n", name.c_str(), what, o.size.c_str(), o.frames,
              med, mem.peak / kGiB, gpu->workspace_bytes() / kGiB, dev.name.c_str(), JENGA_GIT_COMMIT);
  if (o.breakdown) std::printf("GPU ms per call by kind of work: %s\n", breakdown.dump().c_str());
}

void run_bench_hunyuan_text(const BenchHunyuanTextOptions& o) {
  if (o.llm.empty()) usage_fail("--model hunyuan needs --llm DIR (text_encoder/ weights; bench/hunyuan_text_peer.py writes random ones)");
  if (o.tokens < 1 || o.iters < 1 || o.warmup < 0) usage_fail("--tokens and --iters must be >= 1 and --warmup >= 0");
  if (o.valid < 0 || o.valid > o.tokens) usage_fail("--valid {}: must be in 0..--tokens ({})", o.valid, o.tokens);
  require_gpu("jenga bench text-encoder");
  const auto llm = hunyuan::LlamaTextEncoder::open(o.llm);
  const auto& lc = llm.config();
  const int64_t L = o.tokens, valid = o.valid ? o.valid : o.tokens;
  std::vector<int64_t> ids(static_cast<size_t>(L)), mask(static_cast<size_t>(L), 0);
  for (int64_t i = 0; i < L; ++i) ids[i] = (i * 7919 + 3) % lc.vocab;
  for (int64_t i = 0; i < valid; ++i) mask[i] = 1;

  cuda::reset_peak_memory();
  const double u0 = now_ms();
  auto gpu = hunyuan::LlamaTextEncoderCuda::upload(llm, 2);
  const double upload_ms = now_ms() - u0;
  Tensor hs;
  const auto ms = time_calls(std::max(o.warmup, 1), o.iters, [&] { hs = gpu->encode(ids, mask); });
  check_finite(hs, "the HunyuanVideo LLM encoder");
  const auto mem = cuda::memory_stats();
  const double used = cuda::device_used_bytes() / kGiB;
  const size_t wbytes = gpu->weight_bytes();
  gpu.reset();

  double clip_ms = 0, clip_peak = 0;
  std::string clip_name = "none";
  if (!o.clip.empty()) {  // CLIP-L on the GPU, after the LLM is freed (as generate runs them)
    const auto clip = hunyuan::ClipTextEncoder::open(o.clip);
    const int64_t Lc = clip.config().positions;
    std::vector<int64_t> cids(static_cast<size_t>(Lc), clip.config().vocab - 1), cmask(static_cast<size_t>(Lc), 0);
    for (int64_t i = 0; i < std::min<int64_t>(Lc, 60); ++i) cids[i] = (i * 131 + 7) % (clip.config().vocab - 2), cmask[i] = 1;
    cuda::reset_peak_memory();
    auto cgpu = hunyuan::ClipTextEncoderCuda::upload(clip);
    const auto cms = time_calls(std::max(o.warmup, 1), o.iters,
                                [&] { check_finite(cgpu->encode(cids, cmask).pooled, "CLIP-L"); });
    clip_ms = cms[cms.size() / 2];
    clip_peak = cuda::memory_stats().peak / kGiB;
    clip_name = o.clip + " (cuda fp16)";
  }
  const auto dev = cuda::device_info(0);
  const double med = ms[ms.size() / 2];
  if (o.json) {
    nlohmann::json j = {{"bench", "text-encoder"}, {"model", "hunyuan"}, {"llm", o.llm}, {"layers", lc.layers},
                        {"hidden", lc.hidden}, {"tokens", L}, {"valid", valid}, {"llm_ms_median", med},
                        {"llm_ms_min", ms.front()}, {"llm_ms_max", ms.back()}, {"upload_ms", upload_ms},
                        {"iters", o.iters}, {"weights_gib", wbytes / kGiB}, {"peak_alloc_gib", mem.peak / kGiB},
                        {"device_used_gib", used}, {"clip", clip_name}, {"clip_ms_median", clip_ms},
                        {"clip_peak_alloc_gib", clip_peak}, {"total_ms", med + clip_ms},
                        {"precision", "fp16 operands, f32 accumulation and residual"},
                        {"device", dev.name}, {"commit", JENGA_GIT_COMMIT}};
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("| llm | tokens | LLM ms | CLIP ms | total ms | upload ms | weights GiB | peak GiB | device | commit |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  std::printf("| %s | %lld | %.2f | %.2f | %.2f | %.0f | %.2f | %.2f | %s | %s |\n", o.llm.c_str(),
              static_cast<long long>(L), med, clip_ms, med + clip_ms, upload_ms, wbytes / kGiB, mem.peak / kGiB,
              dev.name.c_str(), JENGA_GIT_COMMIT);
}

void run_bench_hunyuan_vision(const BenchHunyuanVisionOptions& o) {
  if (o.llava.empty()) usage_fail("--model hunyuan-i2v needs --llava DIR (a LLaVA folder; an empty or new one gets random full-size weights)");
  if (o.iters < 1 || o.warmup < 0) usage_fail("--iters must be >= 1 and --warmup >= 0");
  require_gpu("jenga bench text-encoder --model hunyuan-i2v");
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(fs::path(o.llava) / "model.safetensors", ec) && !fs::exists(fs::path(o.llava) / "config.json", ec)) {
    const double t0 = now_ms();
    hunyuan::write_random_llava_vision(o.llava, {}, o.seed, DType::F16);
    std::fprintf(stderr, "wrote random ViT-L/14-336 + projector weights (fp16) to %s in %.1f s\n", o.llava.c_str(),
                 (now_ms() - t0) / 1000.0);
  }
  const auto host = hunyuan::LlavaVisionEncoder::open(o.llava);
  const auto& c = host.config();
  std::mt19937 rng(static_cast<uint32_t>(o.seed + 1));
  std::uniform_real_distribution<float> u(-1.8f, 2.1f);
  Tensor px = Tensor::empty(DType::F32, {3, c.image_size, c.image_size});
  for (int64_t i = 0; i < px.numel(); ++i) px.data_as<float>()[i] = u(rng);
  cuda::reset_peak_memory();
  const double u0 = now_ms();
  auto gpu = hunyuan::LlavaVisionEncoderCuda::upload(
      host, o.precision == "f32" ? hunyuan::TextEncoderPrecision::F32 : hunyuan::TextEncoderPrecision::F16);
  const double upload_ms = now_ms() - u0;
  hunyuan::LlavaImageFeatures r;
  const auto ms = time_calls(std::max(o.warmup, 1), o.iters, [&] { r = gpu->encode(px); });
  check_finite(r.projected, "the LLaVA vision tower");
  const auto mem = cuda::memory_stats();
  // What of that is host I/O (pageable copies: pixels in, features + projected rows out), timed
  // alone, as a peer timing on-device tensors does not pay it.
  const int64_t out_n = r.features.numel() + r.projected.numel();
  Tensor dev_buf = cuda::device_empty(DType::F32, std::max<int64_t>(out_n, px.numel()));
  std::vector<float> host_buf(static_cast<size_t>(out_n));
  const auto io = time_calls(1, o.iters, [&] {
    cuda::copy_to_device(dev_buf.data(), px.data(), static_cast<size_t>(px.numel()) * sizeof(float));
    cuda::copy_to_host(host_buf.data(), dev_buf.data(), host_buf.size() * sizeof(float));
  });
  const double io_ms = io[io.size() / 2];
  const auto dev = cuda::device_info(0);
  const double med = ms[ms.size() / 2];
  const std::string precision = gpu->f16() ? "fp16 operands, f32 accumulation and residual" : "f32";
  if (o.json) {
    const nlohmann::json j = {{"bench", "text-encoder"}, {"model", "hunyuan-i2v"}, {"part", "vision tower + projector"},
                              {"llava", o.llava}, {"image_size", c.image_size}, {"rows", r.projected.dim(0)},
                              {"layers_run", c.layers_run()}, {"hidden", c.hidden}, {"vision_ms_median", med},
                              {"vision_ms_min", ms.front()}, {"vision_ms_max", ms.back()}, {"upload_ms", upload_ms},
                              {"host_io_ms", io_ms}, {"iters", o.iters}, {"weights_gib", gpu->weight_bytes() / kGiB},
                              {"peak_alloc_gib", mem.peak / kGiB}, {"precision", precision},
                              {"timed", "host pixels in, host features + projected rows out"}, {"device", dev.name},
                              {"commit", JENGA_GIT_COMMIT}};
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("| llava | rows | layers | vision + projector ms | of which host I/O ms | upload ms | weights GiB | peak GiB | precision | device | commit |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  std::printf("| %s | %lld | %lld | %.2f | %.2f | %.0f | %.2f | %.2f | %s | %s | %s |\n", o.llava.c_str(),
              static_cast<long long>(r.projected.dim(0)), static_cast<long long>(c.layers_run()), med, io_ms, upload_ms,
              gpu->weight_bytes() / kGiB, mem.peak / kGiB, precision.c_str(), dev.name.c_str(), JENGA_GIT_COMMIT);
}
#else
void run_bench_hunyuan_vision(const BenchHunyuanVisionOptions&) {
  fail("'jenga bench text-encoder --model hunyuan-i2v' needs the CUDA backend; this build has none (install the CUDA toolkit and re-run scripts/setup.sh)");
}
void run_bench_hunyuan_vae(const BenchHunyuanVaeOptions&) {
  fail("'jenga bench vae --model hunyuan' needs the CUDA backend; this build has none (install the CUDA toolkit and re-run scripts/setup.sh)");
}
void run_bench_hunyuan_text(const BenchHunyuanTextOptions&) {
  fail("'jenga bench text-encoder --model hunyuan' needs the CUDA backend; this build has none (install the CUDA toolkit and re-run scripts/setup.sh)");
}
#endif

}  // namespace jenga::cli
