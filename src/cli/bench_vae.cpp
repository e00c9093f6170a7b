// `jenga bench vae`: one Wan2.1 VAE decode on the GPU (median of N after warm-up) with its peak
// GPU memory; random weights of the official structure unless --model is given. `--model hunyuan`
// hands over to the HunyuanVideo VAE (bench_hunyuan.cpp).
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
#include "backend/cuda/random.h"
#include "core/tensor.h"
#include "io/safetensors.h"
#include "models/wan/vae_cuda.h"
#include "models/wan/vae_model.h"
#include "models/wan/vae_random.h"
#endif

namespace jenga::cli {
namespace {

struct BenchVaeOptions {
  std::string model;
  std::string size = "832x480";
  int frames = 81;
  int iters = 3;
  int warmup = 1;
  int dim = 96;
  int im2col_mib = 512;
  bool json = false;
  uint64_t seed = 0;
  std::string precision = "bf16";
  std::string weights;  // --model hunyuan: its VAE file or folder (default: random)
  bool encode = false;     // --model hunyuan: time the encoder
  bool breakdown = false;  // --model hunyuan: GPU time per kind of work
  bool warmup_small = false;  // --model hunyuan: an untimed small-clip pass first (as the official peer)
};

#if JENGA_HAVE_CUDA
void run_bench_vae(const BenchVaeOptions& o) {
  auto [width, height] = parse_size("--size", o.size);
  if (width % 8 || height % 8) usage_fail("--size {}: width and height must be multiples of 8", o.size);
  if (o.frames < 1 || (o.frames - 1) % 4) usage_fail("--frames {}: must be 4k+1", o.frames);
  if (o.iters < 1 || o.warmup < 0) usage_fail("--iters must be >= 1 and --warmup >= 0");
  if (!cuda::available()) fail("{}: 'jenga bench vae' needs a GPU", cuda::no_gpu_reason());
  cuda::init();

  std::unique_ptr<wan::WanVaeCuda> vae;
  std::string name;
  {
    const wan::WanVae host = o.model.empty() ? wan::random_wan_vae_decoder(o.dim, o.seed)
                                             : wan::WanVae::load(Checkpoint::open(o.model));
    vae = wan::WanVaeCuda::from_model(host, o.precision == "f32" ? wan::VaePrecision::F32 : wan::VaePrecision::Bf16);
    name = o.model.empty() ? "wan2.1-vae dim " + std::to_string(o.dim) + " (random)" : o.model;
  }
  vae->set_im2col_budget(static_cast<size_t>(o.im2col_mib) << 20);
  const int64_t T = (o.frames - 1) / vae->temporal_factor() + 1, H = height / vae->spatial_factor(),
                W = width / vae->spatial_factor();
  const int64_t F = 1 + vae->temporal_factor() * (T - 1);
  Tensor z = Tensor::empty(DType::F32, Shape{vae->z_dim(), T, H, W}, Device::CUDA);
  Tensor out = Tensor::empty(DType::F32, Shape{vae->out_channels(), F, height, width}, Device::CUDA);
  cuda::fill_normal_f32(z.data_as<float>(), z.numel(), o.seed + 1, 0, 1.0f, 0.0f);

  auto decode = [&] { vae->decode(z.data_as<float>(), T, H, W, out.data_as<float>(), true); };
  const std::vector<float> ms = cuda::time_sorted_ms(o.warmup, o.iters, decode);
  const double med = ms[ms.size() / 2];
  std::vector<float> host(static_cast<size_t>(std::min<int64_t>(out.numel(), 1 << 20)));
  cuda::copy_to_host(host.data(), out.data(), host.size() * 4);
  for (float v : host)
    if (!std::isfinite(v)) fail("the VAE decode produced a non-finite value; the benchmark is void");

  const auto dev = cuda::device_info(0);
  const double gib = 1024.0 * 1024.0 * 1024.0;
  const auto mem = cuda::memory_stats();
  if (o.json) {
    nlohmann::json j = {{"bench", "vae"}, {"model", name}, {"size", o.size}, {"frames", o.frames},
                        {"latent", {T, H, W}}, {"ms_median", med}, {"ms_min", ms.front()}, {"ms_max", ms.back()},
                        {"iters", o.iters}, {"weights_gib", vae->weight_bytes() / gib},
                        {"peak_alloc_gib", mem.peak / gib}, {"device_used_gib", cuda::device_used_bytes() / gib},
                        {"im2col_mib", o.im2col_mib}, {"precision", o.precision}, {"device", dev.name}, {"commit", JENGA_GIT_COMMIT}};
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("| model | size | frames | ms | weights GiB | peak GiB | device | commit |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
  std::printf("| %s | %s | %d | %.1f | %.2f | %.2f | %s | %s |\n", name.c_str(), o.size.c_str(), o.frames, med,
              vae->weight_bytes() / gib, mem.peak / gib, dev.name.c_str(), JENGA_GIT_COMMIT);
}
#else
void run_bench_vae(const BenchVaeOptions&) {
  fail("'jenga bench vae' needs the CUDA backend; this build has none (install the CUDA toolkit and re-run scripts/setup.sh)");
}
#endif

}  // namespace

void register_bench_vae(CLI::App& bench) {
  auto o = std::make_shared<BenchVaeOptions>();
  auto* c = bench.add_subcommand("vae", "One VAE decode on the GPU (time and peak memory): Wan2.1, or HunyuanVideo with --model hunyuan");
  c->add_option("-m,--model", o->model,
                "Wan2.1 VAE weights (default: random weights of the official structure), or 'hunyuan' for the "
                "HunyuanVideo VAE (official tiling; random full-size weights unless --weights)");
  c->add_option("--weights", o->weights, "--model hunyuan: HunyuanVideo VAE weights (a file, or a folder with config.json)");
  c->add_option("-s,--size", o->size, "WIDTHxHEIGHT in pixels")->capture_default_str();
  c->add_option("-f,--frames", o->frames, "Frames (4k+1)")->capture_default_str();
  c->add_option("--iters", o->iters, "Timed decodes (median reported)")->capture_default_str();
  c->add_option("--warmup", o->warmup, "Untimed decodes first")->capture_default_str();
  c->add_option("--dim", o->dim, "Base width of the random VAE (Wan2.1: 96)")->check(CLI::Range(1, 1024))->capture_default_str();
  c->add_option("--im2col-mib", o->im2col_mib, "im2col tile budget in MiB")->check(CLI::Range(1, 65536))->capture_default_str();
  c->add_option("--seed", o->seed, "Seed of the random weights and latents")->capture_default_str();
  c->add_option("--precision", o->precision, "Conv operands: bf16 or f32 (exact f32 reference)")
      ->check(CLI::IsMember({"bf16", "f32"}))
      ->capture_default_str();
  c->add_flag("--json", o->json, "One JSON object instead of a markdown table");
  c->add_flag("--encode", o->encode, "--model hunyuan: time the encoder (random frames of --size x --frames) instead");
  c->add_flag("--warmup-small", o->warmup_small,
              "--model hunyuan: one untimed pass over a small clip (latents 2x16x16) first, as the official "
              "peer warms up (kernels loaded, GEMM plans made)");
  c->add_flag("--breakdown", o->breakdown,
              "--model hunyuan: GPU ms per kind of work (conv input, conv GEMM, norm, attention, io; CUDA events)");
  c->callback([o] {
    if (o->model != "hunyuan") {
      if (!o->weights.empty()) usage_fail("--weights are for --model hunyuan; give Wan2.1 weights as --model PATH");
      if (o->encode || o->breakdown || o->warmup_small)
        usage_fail("--encode, --breakdown and --warmup-small are for --model hunyuan (Wan2.1: JENGA_VAE_PROFILE=1)");
      return run_bench_vae(*o);
    }
    run_bench_hunyuan_vae({o->weights, o->size, o->frames, o->iters, o->warmup, o->seed, o->json, o->encode, o->breakdown,
                           o->warmup_small});
  });
}

}  // namespace jenga::cli
