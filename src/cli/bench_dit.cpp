// `jenga bench dit`: one Wan2.1 DiT forward on the GPU (median of N after warm-up), dense
// attention, random weights unless --model is given. llama-bench style output. `--config
// hunyuan` runs the HunyuanVideo DiT instead (bench_hunyuan_dit.cpp).
#include <algorithm>
#include <map>
#include <string>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/bench_hunyuan.h"
#include "cli/commands.h"
#include "core/error.h"
#include "jenga/version.h"
#include "models/wan/wan_config.h"
#if JENGA_HAVE_CUDA
#include <cuda_runtime.h>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/random.h"
#include "cli/bench_forward_timer.h"
#include "core/tensor.h"
#include "models/wan/wan_dit.h"
#include "models/wan/wan_dit_cuda.h"
#endif

namespace jenga::cli {
namespace {

struct BenchDitOptions {
  std::string model;
  std::string config = "1.3b";
  std::string size = "832x480";
  int frames = 81;
  int iters = 5;
  int warmup = 2;
  bool json = false;
  bool graph = false;
  bool breakdown = false;
  bool offload = false;
  int attention_path = 0;
  uint64_t seed = 0;
  int text_valid = 40;  // HunyuanVideo: real text tokens of 256
  std::string attention = "dense";  // HunyuanVideo: dense | svg
  SvgOverrides svg;
};

// --config hunyuan: the HunyuanVideo DiT with random weights (no --model yet).
void run_bench_dit_hunyuan(const BenchDitOptions& o) {
  if (!o.model.empty()) usage_fail("bench dit --config hunyuan runs random weights; --model is not supported with it yet");
  if (o.attention_path != 0) usage_fail("bench dit --config hunyuan: --attention-path is not supported yet");
  BenchHunyuanDitOptions h;
  h.size = o.size, h.frames = o.frames, h.iters = o.iters, h.warmup = o.warmup, h.seed = o.seed;
  h.text_valid = o.text_valid, h.json = o.json, h.graph = o.graph, h.breakdown = o.breakdown;
  h.offload = o.offload;
  if (o.svg.first_times_fp) usage_fail("bench dit times one forward: --first-times-fp does not apply (every forward is an SVG step)");
  if (o.attention != "svg" && o.svg.any()) usage_fail("--svg-sparsity / --first-layers-fp / ... need --attention svg");
  h.attention = o.attention;
  h.svg_sparsity = o.svg.sparsity, h.first_layers_fp = o.svg.first_layers_fp;
  h.num_sampled_rows = o.svg.num_sampled_rows, h.sample_mse_max_row = o.svg.sample_mse_max_row;
  run_bench_hunyuan_dit(h);
}

#if JENGA_HAVE_CUDA
void run_bench_dit(const BenchDitOptions& o) {
  auto [width, height] = parse_size("--size", o.size);
  if (width % 16 || height % 16) usage_fail("--size {}: width and height must be multiples of 16", o.size);
  if (o.frames < 1 || (o.frames - 1) % 4) usage_fail("--frames {}: must be 4k+1", o.frames);
  if (o.iters < 1 || o.warmup < 0) usage_fail("--iters must be >= 1 and --warmup >= 0");
  if (!cuda::available()) fail("{}: 'jenga bench dit' needs a GPU", cuda::no_gpu_reason());
  cuda::init();

  std::unique_ptr<wan::WanDitCuda> dit;
  std::string name;
  if (!o.model.empty()) {
    const wan::WanDit model = wan::load_wan_dit(o.model, DType::BF16);
    dit = wan::WanDitCuda::from_model(model, o.offload);
    name = o.model;
  } else {
    const wan::WanConfig c = o.config == "14b" ? wan::WanConfig::wan_14b()
                             : o.config == "tiny" ? wan::WanConfig::tiny()
                                                  : wan::WanConfig::wan_1_3b();
    dit = wan::WanDitCuda::random(c, o.seed, o.offload);
    name = "wan2.1-" + o.config + " (random)";
  }
  dit->set_attention_path(o.attention_path);
  const wan::WanConfig& c = dit->config();
  const int64_t lf = (o.frames - 1) / 4 + 1, lh = height / 8, lw = width / 8;
  if (lf % c.patch[0] || lh % c.patch[1] || lw % c.patch[2])
    usage_fail("latent {}x{}x{} is not divisible by the patch size", lf, lh, lw);
  const int64_t tf = lf / c.patch[0], th = lh / c.patch[1], tw = lw / c.patch[2];
  dit->prepare(tf, th, tw);

  // Inputs: random latents, t = 900, 120 random context rows then zero padding.
  Tensor x = Tensor::empty(DType::F32, Shape{c.in_dim, lf, lh, lw}, Device::CUDA);
  Tensor out = Tensor::empty(DType::F32, Shape{c.out_dim, lf, lh, lw}, Device::CUDA);
  Tensor t = Tensor::empty(DType::F32, Shape{1}, Device::CUDA);
  Tensor ctx = Tensor::empty(DType::BF16, Shape{c.text_len, c.text_dim}, Device::CUDA);
  cuda::fill_normal_f32(x.data_as<float>(), x.numel(), o.seed + 1, 0, 1.0f, 0.0f);
  const float tv = 900.0f;
  cuda::copy_to_device(t.data(), &tv, 4);
  JENGA_CUDA_CHECK(cudaMemset(ctx.data(), 0, ctx.nbytes()));
  cuda::fill_normal_bf16(ctx.data(), std::min<int64_t>(120, c.text_len) * c.text_dim, o.seed + 2, 0, 1.0f, 0.0f);

  cudaStream_t stream;
  JENGA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  auto step = [&] { dit->forward(x.data_as<float>(), t.data_as<float>(), ctx.data(), out.data_as<float>(), stream); };
  const ForwardTimes times = time_forwards([&] { step(); }, stream, o.warmup, o.iters, o.graph);
  const double med = times.median_ms;
  require_finite_output(out);
  // Where a forward's time goes: one more forward with an event at each phase boundary.
  std::vector<std::pair<std::string, double>> phases;  // first-seen order, summed over layers
  if (o.breakdown) {
    std::vector<cudaEvent_t> ev(4096);
    for (auto& e : ev) JENGA_CUDA_CHECK(cudaEventCreate(&e));
    std::vector<const char*> names;
    CudaDitHooks hooks;
    hooks.mark = [&](const char* phase, void* st) {
      if (names.size() >= ev.size()) fail("bench dit --breakdown: more than {} phases", ev.size());
      JENGA_CUDA_CHECK(cudaEventRecord(ev[names.size()], static_cast<cudaStream_t>(st)));
      names.push_back(phase);
    };
    dit->forward(x.data_as<float>(), t.data_as<float>(), ctx.data(), out.data_as<float>(), stream, &hooks);
    JENGA_CUDA_CHECK(cudaStreamSynchronize(stream));
    std::map<std::string, size_t> slot;
    for (size_t i = 0; i + 1 < names.size(); ++i) {
      float m = 0;
      JENGA_CUDA_CHECK(cudaEventElapsedTime(&m, ev[i], ev[i + 1]));
      auto [it, fresh] = slot.emplace(names[i], phases.size());
      if (fresh) phases.emplace_back(names[i], 0.0);
      phases[it->second].second += m;
    }
    for (auto& e : ev) cudaEventDestroy(e);
  }
  cudaStreamDestroy(stream);

  const auto dev = cuda::device_info(0);
  const double tflops = dit->dense_flops() / (med * 1e-3) / 1e12;
  const double gib = 1024.0 * 1024.0 * 1024.0;
  const auto mem = cuda::memory_stats();
  const int64_t tokens = tf * th * tw;
  if (o.json) {
    nlohmann::json j = {{"bench", "dit"}, {"model", name}, {"size", o.size}, {"frames", o.frames},
                        {"tokens", tokens}, {"attention", "dense"}, {"attention_path", o.attention_path}, {"graph", o.graph},
                        {"offload", o.offload}, {"offload_ring", dit->offload_ring()},
                        {"streamed_block_mib", dit->offload() ? dit->streamed_block_bytes() / (1024.0 * 1024.0) : 0.0},
                        {"host_pinned_gib", dit->host_weight_bytes() / gib},
                        {"ms_median", med}, {"ms_min", times.min_ms}, {"ms_max", times.max_ms},
                        {"iters", o.iters}, {"tflops", tflops},
                        {"weights_gib", dit->weight_bytes() / gib}, {"activations_gib", dit->activation_bytes() / gib},
                        {"peak_alloc_gib", mem.peak / gib}, {"device_used_gib", cuda::device_used_bytes() / gib},
                        {"device", dev.name}, {"commit", JENGA_GIT_COMMIT}};
    if (o.breakdown) {
      j["breakdown_ms"] = nlohmann::json::object();
      for (const auto& [n, m] : phases) j["breakdown_ms"][n] = m;
    }
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  // weights GiB: held on the GPU (with --offload: the resident part and the ring of block buffers).
  std::printf("| model | size | frames | tokens | attention | graph | offload | ms | TFLOP/s | weights GiB | peak GiB | device | commit |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  std::printf("| %s | %s | %d | %lld | dense (path %d) | %s | %s | %.1f | %.0f | %.2f | %.2f | %s | %s |\n", name.c_str(),
              o.size.c_str(), o.frames, static_cast<long long>(tokens), o.attention_path, o.graph ? "yes" : "no",
              o.offload ? fmt::format("yes ({} x {:.0f} MiB)", dit->offload_ring(),
                                      dit->streamed_block_bytes() / (1024.0 * 1024.0)).c_str()
                        : "no",
              med, tflops, dit->weight_bytes() / gib, mem.peak / gib, dev.name.c_str(), JENGA_GIT_COMMIT);
  if (o.breakdown) {
    double total = 0;
    for (const auto& p : phases) total += p.second;
    std::printf("\n| phase (all layers) | ms | share |\n| --- | --- | --- |\n");
    for (const auto& [n, m] : phases) std::printf("| %s | %.2f | %.1f%% |\n", n.c_str(), m, 100.0 * m / total);
    std::printf("| total (one forward with events) | %.2f | |\n", total);
  }
}
#else
void run_bench_dit(const BenchDitOptions&) {
  fail("'jenga bench dit' needs the CUDA backend; this build has none (install the CUDA toolkit and re-run scripts/setup.sh)");
}
#endif

}  // namespace

void register_bench_dit(CLI::App& bench) {
  auto o = std::make_shared<BenchDitOptions>();
  auto* c = bench.add_subcommand("dit", "One DiT forward on the GPU (dense or SVG attention): Wan2.1, or HunyuanVideo with --config hunyuan");
  c->add_option("-m,--model", o->model, "Checkpoint folder/file (default: random weights of --config)");
  c->add_option("--config", o->config, "Random-weight shape when no --model (hunyuan: the HunyuanVideo T2V DiT)")
      ->check(CLI::IsMember({"1.3b", "14b", "tiny", "hunyuan"}))
      ->capture_default_str();
  c->add_option("-s,--size", o->size, "WIDTHxHEIGHT in pixels")->capture_default_str();
  c->add_option("-f,--frames", o->frames, "Frames (4k+1)")->capture_default_str();
  c->add_option("--iters", o->iters, "Timed forwards (median reported)")->capture_default_str();
  c->add_option("--warmup", o->warmup, "Untimed forwards first")->capture_default_str();
  c->add_option("--seed", o->seed, "Seed of the random weights and inputs")->capture_default_str();
  c->add_flag("--graph", o->graph, "Capture the forward in a CUDA graph and replay it");
  c->add_option("--attention-path", o->attention_path, "Attention kernel: 0 default (warp-specialised wgmma on H100/H200), 1 mma.sync, 2 mma.sync with 64-key tiles")
      ->check(CLI::Range(0, 2))
      ->capture_default_str();
  c->add_flag("--offload", o->offload,
              "Stream the blocks' matrices from pinned host memory through two device block buffers (generate --offload)");
  c->add_flag("--breakdown", o->breakdown, "Also time each phase of one forward (GEMMs, attention, norms) with CUDA events");
  c->add_option("--text-valid", o->text_valid, "HunyuanVideo: real text tokens of the 256 rows (the rest padding)")
      ->capture_default_str();
  c->add_flag("--json", o->json, "One JSON object instead of a markdown table");
  c->add_option("--attention", o->attention,
                "HunyuanVideo: dense, or svg (Sparse VideoGen in every block past the official warm-up layers)")
      ->check(CLI::IsMember({"dense", "svg"}))
      ->capture_default_str();
  add_svg_flags(*c, o->svg);
  c->callback([o] {
    if (o->attention != "dense" && o->config != "hunyuan")
      usage_fail("bench dit --attention {}: only with --config hunyuan (time Wan's SVG with bench denoise)", o->attention);
    if (o->config == "hunyuan") return run_bench_dit_hunyuan(*o);
    run_bench_dit(*o);
  });
}

}  // namespace jenga::cli
