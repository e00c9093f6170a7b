// `jenga bench attention`: times the CUDA attention kernel on random bf16 inputs, dense or with
// a random block layout of a given density, llama-bench style (markdown row, or JSON).
//
// Layout drawing (density d < 1): every (batch, head, query block) row keeps
// max(1, round(d * k_blocks)) key blocks: its diagonal block min(qb, k_blocks - 1) always, the
// rest a uniform random subset of the other blocks (std::mt19937 seeded with --seed).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "cli/bench_attention.h"
#include "core/error.h"
#include "jenga/version.h"
#ifdef JENGA_HAVE_CUDA
#include "backend/cuda/attention.h"
#include "backend/cuda/bench_util.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/mask_builder.h"
#include "core/dtype.h"
#include "core/tensor.h"
#endif

namespace jenga::cli {
namespace {

struct Shape3 {
  std::string name;
  int heads = 0, tokens = 0, head_dim = 0;
};

Shape3 parse_shape(const std::string& s) {
  if (s == "hunyuan720") return {s, 24, 115456, 128};
  if (s == "wan14b720") return {s, 40, 75600, 128};
  if (s == "wan1.3b480") return {s, 12, 32760, 128};
  int h = 0, n = 0, d = 0;
  char tail = 0;
  if (std::sscanf(s.c_str(), "%d,%d,%d%c", &h, &n, &d, &tail) != 3 || h <= 0 || n <= 0 || d <= 0)
    usage_fail("--shape '{}': expected hunyuan720, wan14b720, wan1.3b480 or H,N,D (e.g. 24,115456,128)", s);
  return {fmt::format("{},{},{}", h, n, d), h, n, d};
}

struct HostLayout {
  std::vector<int32_t> offsets, indices;
};

HostLayout draw_layout(int batch, int heads, int q_len, int k_len, double density, uint64_t seed) {
  const int qb = (q_len + 127) / 128, kb = (k_len + 127) / 128;
  const int keep = std::clamp(static_cast<int>(std::lround(density * kb)), 1, kb);
  std::mt19937 gen(static_cast<uint32_t>(seed));
  HostLayout l;
  l.offsets.reserve(static_cast<size_t>(batch) * heads * qb + 1);
  l.offsets.push_back(0);
  std::vector<int32_t> pool(kb);
  for (int r = 0; r < batch * heads * qb; ++r) {
    const int diag = std::min(r % qb, kb - 1);
    std::iota(pool.begin(), pool.end(), 0);
    std::swap(pool[0], pool[diag]);
    for (int i = 1; i < keep; ++i)  // partial Fisher-Yates over pool[1..]
      std::swap(pool[i], pool[std::uniform_int_distribution<int>(i, kb - 1)(gen)]);
    std::sort(pool.begin(), pool.begin() + keep);
    l.indices.insert(l.indices.end(), pool.begin(), pool.begin() + keep);
    l.offsets.push_back(static_cast<int32_t>(l.indices.size()));
  }
  return l;
}

double median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

void run_bench_attention(const BenchAttentionOptions& o) {
  const Shape3 shape = parse_shape(o.shape);
  if (!(o.density > 0.0 && o.density <= 1.0)) usage_fail("--density {} must be in (0, 1]", o.density);
  if (o.iters < 1 || o.warmup < 0) usage_fail("--iters must be >= 1 and --warmup >= 0");
  if (o.batch < 1) usage_fail("--batch must be >= 1");
  if (shape.head_dim != 64 && shape.head_dim != 128)
    usage_fail("--shape head dim {} is not supported by the attention kernel (64 or 128)", shape.head_dim);
  if (o.path < 0 || o.path > 2)
    usage_fail("--path {} must be 0 (default), 1 (mma.sync) or 2 (mma.sync, 64-key tiles); the other kernels are in "
               "the kernel lab "
               "(bin/attention_lab of a CUDA build, bench/kernels/attention/README.md)", o.path);
#ifndef JENGA_HAVE_CUDA
  fail("this build has no CUDA backend: 'jenga bench attention' needs jenga built with CUDA and a GPU");
#else
  if (!cuda::available()) fail("{}: 'jenga bench attention' needs a GPU", cuda::no_gpu_reason());
  cuda::init();
  const auto info = cuda::device_info(0);
  const int B = o.batch, H = shape.heads, N = shape.tokens, D = shape.head_dim;
  const size_t n = static_cast<size_t>(B) * N * H * D;
  Tensor q = Tensor::empty(DType::BF16, Shape{static_cast<int64_t>(n)}, Device::CUDA);
  Tensor k = Tensor::empty(DType::BF16, Shape{static_cast<int64_t>(n)}, Device::CUDA);
  Tensor v = Tensor::empty(DType::BF16, Shape{static_cast<int64_t>(n)}, Device::CUDA);
  Tensor out = Tensor::empty(DType::BF16, Shape{static_cast<int64_t>(n)}, Device::CUDA);
  cuda::fill_normal_bf16(q.data_as<uint16_t>(), n, o.seed * 3 + 0);
  cuda::fill_normal_bf16(k.data_as<uint16_t>(), n, o.seed * 3 + 1);
  cuda::fill_normal_bf16(v.data_as<uint16_t>(), n, o.seed * 3 + 2);

  cuda::AttentionParams p;
  p.batch = B, p.heads = H, p.q_len = N, p.k_len = N, p.head_dim = D;
  o.head_major ? p.set_bhld_strides() : p.set_blhd_strides();
  p.q = q.data_as<uint16_t>(), p.k = k.data_as<uint16_t>(), p.v = v.data_as<uint16_t>();
  p.out = out.data_as<uint16_t>();
  p.scale = 1.0f / std::sqrt(static_cast<float>(D));
  p.path = o.path;
  const bool sparse = o.density < 1.0;
  HostLayout layout;
  Tensor doff, didx;
  if (sparse) {
    layout = draw_layout(B, H, N, N, o.density, o.seed);
    doff = Tensor::empty(DType::I32, Shape{static_cast<int64_t>(layout.offsets.size())}, Device::CUDA);
    didx = Tensor::empty(DType::I32, Shape{static_cast<int64_t>(layout.indices.size())}, Device::CUDA);
    cuda::copy_to_device(doff.data(), layout.offsets.data(), layout.offsets.size() * 4);
    cuda::copy_to_device(didx.data(), layout.indices.data(), layout.indices.size() * 4);
    p.block_offsets = doff.data_as<int32_t>(), p.block_indices = didx.data_as<int32_t>();
  }
  const double flops = cuda::attention_flops(B, H, N, N, D, sparse ? layout.offsets.data() : nullptr,
                                             sparse ? layout.indices.data() : nullptr);
  const double qb = (N + 127) / 128, kb = (N + 127) / 128;
  const double kept = sparse ? static_cast<double>(layout.indices.size()) / (B * H * qb * kb) : 1.0;

  cuda::GpuTimer timer;
  for (int i = 0; i < o.warmup; ++i) cuda::attention_forward(p);
  cuda::synchronize();
  std::vector<float> times;
  for (int i = 0; i < o.iters; ++i) {
    timer.start();
    cuda::attention_forward(p);
    times.push_back(timer.stop_ms());
  }
  const double ms = median(times);

  double mask_ms = -1, mask_kept = -1;
  if (o.mask_build) {
    const int nb = (N + 127) / 128;
    if (o.text_blocks < 0 || o.text_blocks >= nb) usage_fail("--text-blocks {} must be in [0, {})", o.text_blocks, nb);
    cuda::BlockMaskArgs m;
    m.q = p.q, m.k = p.k;
    m.q_batch_stride = p.q_batch_stride, m.q_head_stride = p.q_head_stride, m.q_row_stride = p.q_row_stride;
    m.k_batch_stride = p.k_batch_stride, m.k_head_stride = p.k_head_stride, m.k_row_stride = p.k_row_stride;
    m.batch = B, m.heads = H, m.len = N, m.head_dim = D, m.select_blocks = nb - o.text_blocks;
    m.scale = p.scale, m.prob_threshold = o.mask_p, m.method = o.mask_method;
    m.top_k = std::max(1, static_cast<int>(std::lround(o.density * m.select_blocks)));
    Tensor moff = Tensor::empty(DType::I32, Shape{int64_t{B} * H * nb + 1}, Device::CUDA);
    Tensor midx = Tensor::empty(DType::I32, Shape{int64_t{B} * H * nb * nb}, Device::CUDA);
    m.offsets = moff.data_as<int32_t>(), m.indices = midx.data_as<int32_t>();
    const size_t ws_bytes = cuda::block_mask_workspace_bytes(m);
    Tensor ws = Tensor::empty(DType::U8, Shape{static_cast<int64_t>(ws_bytes)}, Device::CUDA);
    for (int i = 0; i < o.warmup; ++i) cuda::build_block_mask(m, ws.data(), ws_bytes);
    std::vector<float> mt;
    for (int i = 0; i < o.iters; ++i) {
      timer.start();
      cuda::build_block_mask(m, ws.data(), ws_bytes);
      mt.push_back(timer.stop_ms());
    }
    mask_ms = median(mt);
    int32_t kept_blocks = 0;  // the layout's kept blocks (offsets[rows]), as a fraction of all
    cuda::copy_to_host(&kept_blocks, moff.data_as<int32_t>() + int64_t{B} * H * nb, sizeof(kept_blocks));
    mask_kept = static_cast<double>(kept_blocks) / (static_cast<double>(B) * H * nb * nb);
  }
  const double tflops = flops / (ms * 1e-3) / 1e12;
  if (o.json) {
    std::printf(
        "{\"bench\": \"attention\", \"shape\": \"%s\", \"batch\": %d, \"heads\": %d, \"tokens\": %d, "
        "\"head_dim\": %d, \"density\": %.4f, \"kept\": %.4f, \"layout\": \"%s\", "
        "\"path\": %d, \"iters\": %d, \"ms\": %.4f, \"ms_min\": %.4f, \"tflops\": %.2f, \"device\": \"%s\", "
        "\"mask_build_ms\": %.4f, \"mask_method\": %d, \"mask_p\": %.3f, \"mask_kept\": %.5f, \"commit\": \"%s\"}\n",
        shape.name.c_str(), B, H, N, D, o.density, kept, o.head_major ? "bhld" : "blhd",
        o.path, o.iters, ms, *std::min_element(times.begin(), times.end()), tflops, info.name.c_str(), mask_ms,
        o.mask_method, o.mask_p, mask_kept, JENGA_GIT_COMMIT);
  } else {
    std::printf("| shape | B | H | N | D | density | kept | ms | TFLOP/s | mask build ms | device | commit |\n");
    std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    std::printf("| %s | %d | %d | %d | %d | %.3f | %.3f | %.3f | %.1f | %s | %s | %s |\n", shape.name.c_str(), B,
                H, N, D, o.density, kept, ms, tflops, mask_ms >= 0 ? fmt::format("{:.3f}", mask_ms).c_str() : "-",
                info.name.c_str(), JENGA_GIT_COMMIT);
  }
#endif
}

void register_bench_attention(CLI::App& bench) {
  auto* s = bench.add_subcommand("attention", "Attention kernel, dense and block-sparse");
  static BenchAttentionOptions o;  // CLI11 binds to storage that outlives parsing
  s->add_option("--shape", o.shape, "hunyuan720 | wan14b720 | wan1.3b480 | H,N,D")->capture_default_str();
  s->add_option("--density", o.density, "Fraction of key blocks kept per query block (1 = dense)")
      ->capture_default_str();
  s->add_option("--batch", o.batch, "Batch size")->capture_default_str();
  s->add_option("--iters", o.iters, "Timed iterations (median reported)")->capture_default_str();
  s->add_option("--warmup", o.warmup, "Untimed warm-up iterations")->capture_default_str();
  s->add_option("--path", o.path, "Kernel: 0 (default: the fastest for the GPU), 1 mma.sync, 2 mma.sync with 64-key tiles (what GPUs "
                "with 99 KB of shared memory per block run); the experiments are in "
                "bench/kernels/attention (attention_lab)")
      ->capture_default_str();
  s->add_option("--seed", o.seed, "Seed for inputs and layout")->capture_default_str();
  s->add_flag("--head-major", o.head_major, "Inputs laid out [B,H,N,D] instead of [B,N,H,D]");
  s->add_flag("--json", o.json, "One JSON line instead of a markdown row");
  s->add_flag("--mask-build", o.mask_build, "Also time the GPU mask builder (top_k = density x image blocks)");
  s->add_option("--mask-p", o.mask_p, "Mask builder: cumulative-probability threshold")->capture_default_str();
  s->add_option("--text-blocks", o.text_blocks, "Mask builder: trailing text blocks (always kept)")
      ->capture_default_str();
  s->add_option("--mask-method", o.mask_method, "Mask builder: 0 (default) or 1 (the earlier chain: two means launches, sort)")
      ->capture_default_str();
  s->callback([] { run_bench_attention(o); });
}

}  // namespace jenga::cli
