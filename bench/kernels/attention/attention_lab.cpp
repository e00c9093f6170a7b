// attention_lab: the kernel lab's check and timing driver (llm.c dev/cuda style).
//   attention_lab list                      the versions (lab.h) and whether each runs here
//   attention_lab check [VERSION...]        every version (or those given) against the CPU f32
//                                           reference on small cases: dense, ragged, q_len !=
//                                           k_len, sparse, empty rows, key-block bias, head-major
//                                           strides; head dims 64 and 128. Exit 1 on a failure.
//   attention_lab time VERSION [--shape wan1.3b480|wan14b720|hunyuan720|H,N,D] [--density D]
//                      [--iters N] [--warmup N] [--head-major] [--seed S]
//                                           median ms and TFLOP/s on random bf16 inputs (as
//                                           `jenga bench attention`, which times version 0 only)
// Needs a GPU; CI builds it but does not run it.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "backend/block_sparse.h"
#include "backend/cpu/attention.h"
#include "backend/cuda/attention.h"
#include "backend/cuda/bench_util.h"
#include "backend/cuda/cuda_backend.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "lab.h"

using namespace jenga;

namespace {

Tensor to_device(const void* host, size_t bytes, DType dt, int64_t n) {
  Tensor t = Tensor::empty(dt, Shape{std::max<int64_t>(n, 1)}, Device::CUDA);
  if (bytes) cuda::copy_to_device(t.data(), host, bytes);
  return t;
}

struct Case {
  int batch = 1, heads = 1, q_len = 128, k_len = 128, head_dim = 128;
  bool bhld = false;
  double density = 1.0;
  bool empty_rows = false, bias = false;
  uint64_t seed = 1;
};

// Max |gpu - cpu f32 reference| of `version` on case c (inf when the kernel left NaN poison).
float run_case(const Case& c, int version) {
  std::mt19937 gen(static_cast<uint32_t>(c.seed));
  const int64_t nq = int64_t{c.batch} * c.q_len * c.heads * c.head_dim;
  const int64_t nk = int64_t{c.batch} * c.k_len * c.heads * c.head_dim;
  std::vector<float> q(nq), k(nk), v(nk);
  fill_normal(q, c.seed * 3 + 0), fill_normal(k, c.seed * 3 + 1), fill_normal(v, c.seed * 3 + 2);
  std::vector<uint16_t> qb(nq), kb(nk), vb(nk);
  for (int64_t i = 0; i < nq; ++i) qb[i] = f32_to_bf16(q[i]), q[i] = bf16_to_f32(qb[i]);
  for (int64_t i = 0; i < nk; ++i) kb[i] = f32_to_bf16(k[i]), k[i] = bf16_to_f32(kb[i]);
  for (int64_t i = 0; i < nk; ++i) vb[i] = f32_to_bf16(v[i]), v[i] = bf16_to_f32(vb[i]);
  const int64_t qblocks = (c.q_len + 127) / 128, kblocks = (c.k_len + 127) / 128;
  std::vector<float> bias(static_cast<size_t>(c.heads * kblocks));
  std::uniform_real_distribution<float> ub(-2.f, 2.f);
  for (auto& x : bias) x = ub(gen);
  const bool sparse = c.density < 1.0 || c.empty_rows;
  BlockSparseLayout layout;
  if (sparse) {
    std::vector<uint8_t> mask(static_cast<size_t>(c.batch * c.heads * qblocks * kblocks));
    std::bernoulli_distribution keep(c.density);
    for (size_t r = 0; r < mask.size() / kblocks; ++r)
      for (int64_t j = 0; j < kblocks; ++j) mask[r * kblocks + j] = (c.empty_rows && r % 3 == 1) ? 0 : keep(gen);
    layout = BlockSparseLayout::from_onehot(mask, c.batch, c.heads, qblocks, kblocks);
  }
  std::vector<float> expect(nq);
  cpu::AttentionArgs ref;
  ref.batch = c.batch, ref.heads = c.heads, ref.q_len = c.q_len, ref.k_len = c.k_len, ref.head_dim = c.head_dim;
  c.bhld ? ref.set_bhld_strides() : ref.set_blhd_strides();
  ref.q = q.data(), ref.k = k.data(), ref.v = v.data(), ref.out = expect.data();
  ref.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  const BlockSparseLayout all_blocks = BlockSparseLayout::dense(c.batch, c.heads, qblocks, kblocks);
  ref.layout = sparse ? &layout : (c.bias ? &all_blocks : nullptr);  // the reference takes bias with a layout
  ref.key_block_bias = c.bias ? bias.data() : nullptr;
  cpu::attention(ref);

  Tensor dq = to_device(qb.data(), nq * 2, DType::BF16, nq), dk = to_device(kb.data(), nk * 2, DType::BF16, nk),
         dv = to_device(vb.data(), nk * 2, DType::BF16, nk), dout = Tensor::empty(DType::BF16, Shape{nq}, Device::CUDA);
  std::vector<uint16_t> poison(nq, 0x7fc0);  // NaN: any row the kernel skips shows up
  cuda::copy_to_device(dout.data(), poison.data(), nq * 2);
  Tensor doff, didx, dbias, dq8, dk8, dqs, dks;
  cuda::AttentionParams p;
  p.batch = c.batch, p.heads = c.heads, p.q_len = c.q_len, p.k_len = c.k_len, p.head_dim = c.head_dim;
  c.bhld ? p.set_bhld_strides() : p.set_blhd_strides();
  p.q = dq.data_as<uint16_t>(), p.k = dk.data_as<uint16_t>(), p.v = dv.data_as<uint16_t>();
  p.out = dout.data_as<uint16_t>(), p.scale = ref.scale;
  if (sparse) {
    doff = to_device(layout.offsets.data(), layout.offsets.size() * 4, DType::I32, layout.offsets.size());
    didx = to_device(layout.indices.data(), layout.indices.size() * 4, DType::I32, layout.indices.size());
    p.block_offsets = doff.data_as<int32_t>(), p.block_indices = didx.data_as<int32_t>();
  }
  if (c.bias) {
    dbias = to_device(bias.data(), bias.size() * 4, DType::F32, bias.size());
    p.key_block_bias = dbias.data_as<float>();
  }
  if (version == lab::kFp8Version) {
    const int64_t bh = int64_t{c.batch} * c.heads;
    dq8 = Tensor::empty(DType::U8, Shape{bh * c.q_len * c.head_dim}, Device::CUDA);
    dk8 = Tensor::empty(DType::U8, Shape{bh * c.k_len * c.head_dim}, Device::CUDA);
    dqs = Tensor::empty(DType::F32, Shape{bh * qblocks}, Device::CUDA);
    dks = Tensor::empty(DType::F32, Shape{bh * kblocks}, Device::CUDA);
    lab::quantize_qk_fp8(p, dq8.data_as<uint8_t>(), dqs.data_as<float>(), dk8.data_as<uint8_t>(), dks.data_as<float>());
    p.q8 = dq8.data_as<uint8_t>(), p.k8 = dk8.data_as<uint8_t>();
    p.q8_scale = dqs.data_as<float>(), p.k8_scale = dks.data_as<float>();
  }
  lab::attention(p, version);
  cuda::synchronize();
  std::vector<uint16_t> got(nq);
  cuda::copy_to_host(got.data(), dout.data(), nq * 2);
  float worst = 0.f;
  for (int64_t i = 0; i < nq; ++i) {
    const float d = std::fabs(bf16_to_f32(got[i]) - expect[i]);
    if (!(d <= worst)) worst = std::isnan(d) ? INFINITY : d;
  }
  return worst;
}

std::vector<Case> check_cases(int d) {
  std::vector<Case> v;
  auto add = [&](Case c) { c.head_dim = d, c.seed = v.size() + 1 + d, v.push_back(c); };
  Case c;
  c.q_len = 256, c.k_len = 384, c.heads = 2, add(c);                                          // dense
  c = Case{}, c.q_len = c.k_len = 1000, add(c);                                               // ragged
  c = Case{}, c.q_len = 77, c.k_len = 650, c.heads = 2, add(c);                               // q_len != k_len
  c = Case{}, c.q_len = 1000, c.k_len = 300, c.heads = 2, c.bhld = true, c.density = 0.6, add(c);
  c = Case{}, c.q_len = c.k_len = 1000, c.heads = 3, c.batch = 2, c.density = 0.3, add(c);   // sparse
  c = Case{}, c.q_len = c.k_len = 700, c.heads = 2, c.density = 0.5, c.empty_rows = true, add(c);
  c.density = 0.0, add(c);                                                                    // every row empty
  c = Case{}, c.q_len = 600, c.k_len = 900, c.heads = 2, c.bias = true, add(c);               // bias, dense
  c.density = 0.4, add(c);                                                                    // bias, sparse
  c = Case{}, c.bhld = true, c.batch = 2, c.heads = 3, c.q_len = c.k_len = 513, c.density = 0.5, add(c);
  return v;
}

int check(std::vector<int> versions) {
  if (versions.empty())
    for (int v = 0; v < lab::kVersions; ++v) versions.push_back(v);
  int failed = 0, ran = 0;
  for (int v : versions)
    for (int d : {64, 128}) {
      const std::string why = lab::version_unsupported(v, d);
      if (!why.empty()) {
        std::printf("version %2d D=%3d  skipped: %s\n", v, d, why.c_str());
        continue;
      }
      // FP8 Q/K loses 3 mantissa bits: its bound is the quantisation's, several times bf16's
      // (the lab's widest case gave 0.112 max abs on an H100, 2026-12-06; the old test's 0.058).
      const float tol = v == lab::kFp8Version ? 0.15f : 2e-2f;
      float worst = 0;
      for (const Case& c : check_cases(d)) worst = std::max(worst, run_case(c, v));
      const bool ok = worst <= tol;
      failed += !ok, ++ran;
      std::printf("version %2d D=%3d  max abs error %.4f (tol %.2f)  %s  %s\n", v, d, worst, tol, ok ? "ok" : "FAIL",
                  lab::version_name(v).c_str());
    }
  std::printf("%d checked, %d failed\n", ran, failed);
  return failed ? 1 : 0;
}

double median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int time_version(int version, int argc, char** argv) {
  std::string shape = "wan1.3b480";
  double density = 1.0;
  int iters = 10, warmup = 3;
  bool head_major = false;
  uint64_t seed = 0;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage_fail("{} needs a value", a);
      return argv[++i];
    };
    if (a == "--shape") shape = next();
    else if (a == "--density") density = std::stod(next());
    else if (a == "--iters") iters = std::stoi(next());
    else if (a == "--warmup") warmup = std::stoi(next());
    else if (a == "--seed") seed = std::stoull(next());
    else if (a == "--head-major") head_major = true;
    else usage_fail("unknown option '{}'", a);
  }
  int H = 0, N = 0, D = 0;
  if (shape == "hunyuan720") H = 24, N = 115456, D = 128;
  else if (shape == "wan14b720") H = 40, N = 75600, D = 128;
  else if (shape == "wan1.3b480") H = 12, N = 32760, D = 128;
  else if (std::sscanf(shape.c_str(), "%d,%d,%d", &H, &N, &D) != 3 || H <= 0 || N <= 0) usage_fail("--shape '{}'", shape);
  if (!(density > 0 && density <= 1) || iters < 1 || warmup < 0) usage_fail("--density in (0, 1], --iters >= 1, --warmup >= 0");
  const size_t n = size_t{1} * N * H * D;
  auto dev = [](DType dt, int64_t count) { return Tensor::empty(dt, Shape{count}, Device::CUDA); };
  const auto ni = static_cast<int64_t>(n);
  Tensor q = dev(DType::BF16, ni), k = dev(DType::BF16, ni), v = dev(DType::BF16, ni), out = dev(DType::BF16, ni);
  cuda::fill_normal_bf16(q.data_as<uint16_t>(), n, seed * 3 + 0);
  cuda::fill_normal_bf16(k.data_as<uint16_t>(), n, seed * 3 + 1);
  cuda::fill_normal_bf16(v.data_as<uint16_t>(), n, seed * 3 + 2);
  cuda::AttentionParams p;
  p.batch = 1, p.heads = H, p.q_len = N, p.k_len = N, p.head_dim = D;
  head_major ? p.set_bhld_strides() : p.set_blhd_strides();
  p.q = q.data_as<uint16_t>(), p.k = k.data_as<uint16_t>(), p.v = v.data_as<uint16_t>(), p.out = out.data_as<uint16_t>();
  p.scale = 1.0f / std::sqrt(static_cast<float>(D));
  // Layout as `jenga bench attention` draws it: each row keeps its diagonal block and a random
  // subset of the others, round(density * blocks) in all.
  const int nb = (N + 127) / 128, keep = std::clamp(static_cast<int>(std::lround(density * nb)), 1, nb);
  std::vector<int32_t> off{0}, idx, pool(nb);
  std::mt19937 gen(static_cast<uint32_t>(seed));
  for (int r = 0; density < 1 && r < H * nb; ++r) {
    std::iota(pool.begin(), pool.end(), 0);
    std::swap(pool[0], pool[r % nb]);
    for (int i = 1; i < keep; ++i) std::swap(pool[i], pool[std::uniform_int_distribution<int>(i, nb - 1)(gen)]);
    std::sort(pool.begin(), pool.begin() + keep);
    idx.insert(idx.end(), pool.begin(), pool.begin() + keep);
    off.push_back(static_cast<int32_t>(idx.size()));
  }
  Tensor doff, didx, q8, k8, q8s, k8s;
  if (density < 1) {
    doff = to_device(off.data(), off.size() * 4, DType::I32, off.size());
    didx = to_device(idx.data(), idx.size() * 4, DType::I32, idx.size());
    p.block_offsets = doff.data_as<int32_t>(), p.block_indices = didx.data_as<int32_t>();
  }
  if (version == lab::kFp8Version) {
    q8 = dev(DType::U8, ni), k8 = dev(DType::U8, ni);
    q8s = dev(DType::F32, int64_t{H} * nb), k8s = dev(DType::F32, int64_t{H} * nb);
    lab::quantize_qk_fp8(p, q8.data_as<uint8_t>(), q8s.data_as<float>(), k8.data_as<uint8_t>(), k8s.data_as<float>());
    p.q8 = q8.data_as<uint8_t>(), p.k8 = k8.data_as<uint8_t>(), p.q8_scale = q8s.data_as<float>(), p.k8_scale = k8s.data_as<float>();
  }
  const double flops = cuda::attention_flops(1, H, N, N, D, density < 1 ? off.data() : nullptr,
                                             density < 1 ? idx.data() : nullptr);
  for (int i = 0; i < warmup; ++i) lab::attention(p, version);
  cuda::synchronize();
  cuda::GpuTimer timer;
  std::vector<float> times;
  for (int i = 0; i < iters; ++i) {
    timer.start();
    lab::attention(p, version);
    times.push_back(timer.stop_ms());
  }
  const double ms = median(times);
  std::printf("{\"bench\": \"attention_lab\", \"version\": %d, \"name\": \"%s\", \"shape\": \"%s\", \"heads\": %d, "
              "\"tokens\": %d, \"head_dim\": %d, \"density\": %.4f, \"layout\": \"%s\", \"iters\": %d, \"ms\": %.4f, "
              "\"tflops\": %.2f, \"device\": \"%s\"}\n",
              version, lab::version_name(version).c_str(), shape.c_str(), H, N, D, density,
              head_major ? "bhld" : "blhd", iters, ms, flops / (ms * 1e-3) / 1e12, cuda::device_info(0).name.c_str());
  return 0;
}

int usage() {
  std::fprintf(stderr, "usage: attention_lab list | check [VERSION...] | time VERSION [--shape S] [--density D] "
                       "[--iters N] [--warmup N] [--head-major] [--seed S]\n");
  return 2;
}

int parse_version(const char* s) {
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < 0 || v >= lab::kVersions) usage_fail("'{}' is no version (0 .. {})", s, lab::kVersions - 1);
  return static_cast<int>(v);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string cmd = argv[1];
  try {
    if (cmd != "list" && cmd != "check" && cmd != "time") return usage();
    if (!cuda::available()) fail("no CUDA GPU found: the attention lab needs one");
    cuda::init();
    if (cmd == "list") {
      for (int v = 0; v < lab::kVersions; ++v) {
        const std::string a = lab::version_unsupported(v, 64), b = lab::version_unsupported(v, 128);
        std::printf("%2d  %-52s  D64: %s  D128: %s\n", v, lab::version_name(v).c_str(), a.empty() ? "yes" : a.c_str(),
                    b.empty() ? "yes" : b.c_str());
      }
      return 0;
    }
    if (cmd == "check") {
      std::vector<int> versions;
      for (int i = 2; i < argc; ++i) versions.push_back(parse_version(argv[i]));
      return check(versions);
    }
    if (argc < 3) return usage();
    return time_version(parse_version(argv[2]), argc - 3, argv + 3);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
