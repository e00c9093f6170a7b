// `jenga bench dit --config hunyuan`: one HunyuanVideo DiT forward (HYVideo-T/2-cfgdistill
// shapes, random bf16 weights drawn on the GPU) at a video size, median of N after warm-up; the
// inputs of the official anchor (../shared/peer-bench/anchor_hunyuan_step.py): t = 900,
// guidance 6.0 (6016 in bf16), 256 text rows of which 40 are real. --attention svg: Sparse
// VideoGen (the loop's SVG step: profiling, placement, block-sparse kernel) in every block past
// the official warm-up layers, the official HunyuanVideo script's settings.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/bench_hunyuan.h"
#include "cli/commands.h"
#include "core/error.h"
#include "jenga/version.h"
#if JENGA_HAVE_CUDA
#include <cuda_runtime.h>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/random.h"
#include "cli/bench_forward_timer.h"
#include "core/tensor.h"
#include "models/hunyuan/hunyuan_dit_cuda.h"
#include "backend/cuda/svg_attention.h"
#include "jenga/svg/svg_plan.h"
#include "pipeline/attention_mode.h"
#endif

namespace jenga::cli {

#if JENGA_HAVE_CUDA
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr int64_t kTextLen = 256;

// bench --breakdown's groups: GEMMs, attention, the rest (norms, RoPE, residuals, GEMVs).
const char* group_of(const std::string& phase) {
  if (phase.rfind("gemm", 0) == 0) return "GEMM";
  if (phase == "self-attn") return "attention";
  return "other";
}

}  // namespace

void run_bench_hunyuan_dit(const BenchHunyuanDitOptions& o) {
  auto [width, height] = parse_size("--size", o.size);
  if (width % 16 || height % 16) usage_fail("--size {}: width and height must be multiples of 16", o.size);
  if (o.frames < 1 || (o.frames - 1) % 4) usage_fail("--frames {}: must be 4k+1", o.frames);
  if (o.iters < 1 || o.warmup < 0) usage_fail("--iters must be >= 1 and --warmup >= 0");
  if (o.text_valid < 1 || o.text_valid > kTextLen) usage_fail("--text-valid {}: must be 1 .. {}", o.text_valid, kTextLen);
  if (o.attention != "dense" && o.attention != "svg") usage_fail("--attention {}: use dense or svg", o.attention);
  SvgOverrides ov;
  ov.sparsity = o.svg_sparsity, ov.first_layers_fp = o.first_layers_fp;
  ov.num_sampled_rows = o.num_sampled_rows, ov.sample_mse_max_row = o.sample_mse_max_row;
  const bool svg_on = o.attention == "svg";
  if (svg_on && o.graph) usage_fail("bench dit --attention svg: --graph is not supported with it (time it without --graph)");
  (void)resolve_attention(o.attention, false, ov);  // checks the SVG values
  const SvgSettings ss = svg_settings(ov, o.seed, SvgFamily::hunyuan);
  if (!cuda::available()) fail("{}: 'jenga bench dit' needs a GPU", cuda::no_gpu_reason());
  cuda::init();
  const hunyuan::HunyuanConfig c = hunyuan::HunyuanConfig::t2v_720p();
  auto dit = hunyuan::HunyuanDitCuda::random(c, o.seed, o.offload);
  const int64_t lf = (o.frames - 1) / 4 + 1, lh = height / 8, lw = width / 8;
  const int64_t tf = lf / c.patch[0], th = lh / c.patch[1], tw = lw / c.patch[2];
  dit->prepare(tf, th, tw, kTextLen);

  Tensor x = Tensor::empty(DType::F32, Shape{c.in_channels, lf, lh, lw}, Device::CUDA);
  Tensor out = Tensor::empty(DType::F32, Shape{c.out_channels, lf, lh, lw}, Device::CUDA);
  Tensor t = Tensor::empty(DType::F32, Shape{1}, Device::CUDA);
  Tensor states = Tensor::empty(DType::BF16, Shape{kTextLen, c.text_dim}, Device::CUDA);
  Tensor mean = Tensor::empty(DType::F32, Shape{c.text_dim}, Device::CUDA);
  Tensor pooled = Tensor::empty(DType::F32, Shape{c.text_dim_2}, Device::CUDA);
  cuda::fill_normal_f32(x.data_as<float>(), x.numel(), o.seed + 1, 0, 1.0f, 0.0f);
  cuda::fill_normal_bf16(states.data(), states.numel(), o.seed + 2, 0, 1.0f, 0.0f);
  cuda::fill_normal_f32(mean.data_as<float>(), mean.numel(), o.seed + 3, 0, 0.05f, 0.0f);
  cuda::fill_normal_f32(pooled.data_as<float>(), pooled.numel(), o.seed + 4, 0, 1.0f, 0.0f);
  const float tv = 900.0f, guidance = 6016.0f;
  cuda::copy_to_device(t.data(), &tv, 4);
  hunyuan::HunyuanTextDevice text;
  text.states = states.data(), text.mean = mean.data_as<float>(), text.pooled = pooled.data_as<float>();
  text.valid = o.text_valid;

  // Sparse VideoGen: the stage set up once (rows, placed-order CSR uploaded), as the loop's set_svg.
  cuda::SvgAttention svg;
  svg::SvgGrid grid;
  int64_t dense_layers = 0, band = 0;
  CudaDitHooks svg_hooks;
  if (svg_on) {
    grid.frames = tf, grid.frame_tokens = th * tw, grid.text = kTextLen, grid.text_valid = o.text_valid;
    grid.rules = svg::SvgRules::hunyuan;
    const svg::SvgParams p = ss.params();
    band = svg::band_width(grid, svg::band_multiplier(grid, p.sparsity));
    const cuda::SvgBranch branch{svg::placed_layout(grid, band, c.heads, 128), grid.real()};
    svg.set_stage(cuda::svg_grid_args(grid, c.heads, c.head_dim()), svg::sample_rows(p, grid.sequence(), o.seed),
                  std::span<const cuda::SvgBranch>(&branch, 1));
    dense_layers = svg::SvgWarmup::from_fractions(0, ss.first_layers_fp, 1, c.double_blocks + c.single_blocks).dense_layers;
    svg_hooks.self_attention = [&](int layer, const void* q, const void* k, const void* v, int64_t rs, void* o_,
                                   int64_t ors, int64_t, void* st) {
      if (layer < dense_layers) return false;  // official first_layers_fp warm-up
      svg.run(static_cast<const uint16_t*>(q), static_cast<const uint16_t*>(k), static_cast<const uint16_t*>(v), rs,
              static_cast<uint16_t*>(o_), ors, st);
      return true;
    };
  }

  cudaStream_t stream;
  JENGA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  auto step = [&](const CudaDitHooks* hooks = nullptr) {
    dit->forward(x.data_as<float>(), t.data_as<float>(), text, guidance, out.data_as<float>(), stream, hooks);
  };
  const ForwardTimes times =
      time_forwards([&] { step(svg_on ? &svg_hooks : nullptr); }, stream, o.warmup, o.iters, o.graph);
  const double med = times.median_ms;
  require_finite_output(out);
  // Where a forward's time goes: one more forward with an event at each phase boundary.
  std::vector<std::pair<std::string, double>> phases;  // first-seen order, summed over blocks
  std::map<std::string, double> groups;
  if (o.breakdown) {
    std::vector<cudaEvent_t> ev(4096);
    for (auto& e : ev) JENGA_CUDA_CHECK(cudaEventCreate(&e));
    std::vector<const char*> names;
    CudaDitHooks hooks = svg_hooks;
    hooks.mark = [&](const char* phase, void* st) {
      if (names.size() >= ev.size()) fail("bench dit --breakdown: more than {} phases", ev.size());
      JENGA_CUDA_CHECK(cudaEventRecord(ev[names.size()], static_cast<cudaStream_t>(st)));
      names.push_back(phase);
    };
    step(&hooks);
    JENGA_CUDA_CHECK(cudaStreamSynchronize(stream));
    std::map<std::string, size_t> slot;
    for (size_t i = 0; i + 1 < names.size(); ++i) {
      float m = 0;
      JENGA_CUDA_CHECK(cudaEventElapsedTime(&m, ev[i], ev[i + 1]));
      auto [it, fresh] = slot.emplace(names[i], phases.size());
      if (fresh) phases.emplace_back(names[i], 0.0);
      phases[it->second].second += m;
      groups[group_of(names[i])] += m;
    }
    for (auto& e : ev) cudaEventDestroy(e);
  }
  cudaStreamDestroy(stream);

  const auto dev = cuda::device_info(0);
  const double tflops = dit->dense_flops(o.text_valid) / (med * 1e-3) / 1e12;
  const auto mem = cuda::memory_stats();
  const int64_t tokens = tf * th * tw;
  const std::string name = "hunyuanvideo-t2v (random bf16)";
  const std::string attn =
      svg_on ? fmt::format("svg (sparsity {}, band {} tokens, {} dense layers)", ss.sparsity, band, dense_layers) : "dense";
  const double temporal = svg_on ? svg.temporal_fraction() : 0.0;
  if (o.json) {
    nlohmann::json j = {{"bench", "dit"}, {"model", name}, {"size", o.size}, {"frames", o.frames},
                        {"tokens", tokens}, {"text_rows", kTextLen}, {"text_valid", o.text_valid},
                        {"attention", o.attention}, {"graph", o.graph}, {"offload", o.offload}, {"ms_median", med}, {"ms_min", times.min_ms},
                        {"ms_max", times.max_ms}, {"iters", o.iters}, {"tflops", tflops},
                        {"weights_gib", dit->weight_bytes() / kGiB}, {"activations_gib", dit->activation_bytes() / kGiB},
                        {"peak_alloc_gib", mem.peak / kGiB}, {"device_used_gib", cuda::device_used_bytes() / kGiB},
                        {"device", dev.name}, {"commit", JENGA_GIT_COMMIT}};
    if (svg_on)
      j["svg"] = {{"sparsity", ss.sparsity},          {"first_layers_fp", ss.first_layers_fp},
                  {"dense_layers", dense_layers},     {"num_sampled_rows", ss.num_sampled_rows},
                  {"sample_mse_max_row", ss.sample_mse_max_row}, {"band_width", band},
                  {"block_density", svg.density()},   {"temporal_head_fraction", temporal},
                  {"source", svg_defaults_source(SvgFamily::hunyuan)}};
    if (o.breakdown) {
      j["breakdown_ms"] = nlohmann::json::object();
      for (const auto& [n, m] : phases) j["breakdown_ms"][n] = m;
      j["breakdown_groups_ms"] = groups;
    }
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("| model | size | frames | tokens (image + text) | attention | graph | offload | ms | TFLOP/s | weights GiB | peak GiB | device | commit |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  std::printf("| %s | %s | %d | %lld + %lld (%d real) | %s | %s | %s | %.1f | %.0f | %.2f | %.2f | %s | %s |\n",
              name.c_str(), o.size.c_str(), o.frames, static_cast<long long>(tokens), static_cast<long long>(kTextLen),
              o.text_valid, attn.c_str(), o.graph ? "yes" : "no",
              o.offload ? fmt::format("yes ({} x {:.0f} MiB)", dit->offload_ring(), dit->streamed_block_bytes() / 1048576.0).c_str()
                        : "no",
              med, tflops, dit->weight_bytes() / kGiB, mem.peak / kGiB,
              dev.name.c_str(), JENGA_GIT_COMMIT);
  if (svg_on)
    std::printf("\nsvg: block density %.4f of the video rows' tiles, temporal heads %.3f (TFLOP/s above: dense-equivalent)\n",
                svg.density(), temporal);
  if (o.breakdown) {
    double total = 0;
    for (const auto& p : phases) total += p.second;
    std::printf("\n| phase (all blocks) | ms | share |\n| --- | --- | --- |\n");
    for (const auto& [n, m] : phases) std::printf("| %s | %.2f | %.1f%% |\n", n.c_str(), m, 100.0 * m / total);
    std::printf("| total (one forward with events) | %.2f | |\n", total);
    std::printf("\n| group | ms | share |\n| --- | --- | --- |\n");
    for (const auto& [n, m] : groups) std::printf("| %s | %.2f | %.1f%% |\n", n.c_str(), m, 100.0 * m / total);
  }
}
#else
void run_bench_hunyuan_dit(const BenchHunyuanDitOptions&) {
  fail("'jenga bench dit' needs the CUDA backend; this build has none (install the CUDA toolkit and re-run scripts/setup.sh)");
}
#endif

}  // namespace jenga::cli
