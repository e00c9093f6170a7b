// The CUDA DiT with --offload (blocks streamed from pinned host memory through a ring of two
// device block buffers) against the resident DiT: bit-identical outputs (one forward, hooks,
// TeaCache residuals, a CUDA graph; the denoising loop dense, Jenga and SVG; the CLI) and the
// weight memory it holds on the GPU. GPU only: every test skips without a CUDA device.
#include <gtest/gtest.h>
#include <cuda_runtime.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <vector>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/offload_ring.h"
#include "core/dtype.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "models/wan/wan_dit.h"
#include "models/wan/wan_dit_cuda.h"
#include "models/wan/wan_tiny.h"
#include "pipeline/denoise.h"
#include "models/wan/wan_presets.h"
#include "denoise_test_setup.h"
#include "test_util.h"

using namespace jenga;
using jenga::test::TempDir;

namespace {

// Tiny shapes with more blocks than the ring holds (5: the ring wraps twice and ends mid-ring).
// dim 128: head dim 64 (2 heads) or 128 (1 head).
wan::WanConfig offload_config(int64_t heads, int64_t layers = 5) { return test::tiny_dit_config(heads, layers); }

Tensor randn(Shape s, uint64_t seed) { return test::randn_tensor(s, seed); }

bool same_bytes(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}
bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.shape().str() == b.shape().str() && a.nbytes() == b.nbytes() &&
         std::memcmp(a.data(), b.data(), a.nbytes()) == 0;
}

// Device inputs of one forward: latent [in_dim, F, H, W], t, a zero-padded bf16 context.
struct Inputs {
  Tensor x, out, t, ctx;
  int64_t F = 0, H = 0, W = 0;
};

Inputs make_inputs(const wan::WanConfig& c, int64_t F, int64_t H, int64_t W, uint64_t seed) {
  Inputs in;
  in.F = F, in.H = H, in.W = W;
  const Tensor hx = randn(Shape{c.in_dim, F, H, W}, seed);
  const Tensor hctx = randn(Shape{9, c.text_dim}, seed + 1);
  in.x = Tensor::empty(DType::F32, hx.shape(), Device::CUDA);
  in.out = Tensor::empty(DType::F32, Shape{c.out_dim, F, H, W}, Device::CUDA);
  in.t = Tensor::empty(DType::F32, Shape{1}, Device::CUDA);
  in.ctx = Tensor::empty(DType::BF16, Shape{c.text_len, c.text_dim}, Device::CUDA);
  cuda::copy_to_device(in.x.data(), hx.data(), hx.nbytes());
  const float tv = 640.0f;
  cuda::copy_to_device(in.t.data(), &tv, 4);
  std::vector<uint16_t> ctx(static_cast<size_t>(c.text_len * c.text_dim), 0);
  convert(hctx.data(), DType::F32, ctx.data(), DType::BF16, static_cast<size_t>(hctx.numel()));
  cuda::copy_to_device(in.ctx.data(), ctx.data(), ctx.size() * 2);
  return in;
}

std::vector<float> to_host(const Tensor& d) {
  std::vector<float> h(static_cast<size_t>(d.numel()));
  cuda::synchronize();
  cuda::copy_to_host(h.data(), d.data(), h.size() * 4);
  return h;
}

// What one DiT returns over a short sequence of forwards on its own stream: a plain forward, a
// TeaCache store forward (blocks run, residual kept) at another t, a reuse forward (blocks
// skipped) and a plain forward again (the ring must still hold the right blocks); every
// block's residual stream of the first forward.
struct Trace {
  std::vector<std::vector<float>> outs;
  std::vector<float> residual;
  std::vector<std::vector<float>> blocks;
};

Trace run_sequence(wan::WanDitCuda& dit, Inputs& in, std::span<const int64_t> order) {
  const auto& c = dit.config();
  dit.prepare(in.F / c.patch[0], in.H / c.patch[1], in.W / c.patch[2], order);
  cudaStream_t s;
  JENGA_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  Trace tr;
  Tensor res = Tensor::empty(DType::F32, Shape{dit.local_tokens() * c.dim}, Device::CUDA);
  auto fwd = [&](const wan::CudaDitHooks* h) {
    dit.forward(in.x.data_as<float>(), in.t.data_as<float>(), in.ctx.data(), in.out.data_as<float>(), s, h);
    JENGA_CUDA_CHECK(cudaStreamSynchronize(s));
    tr.outs.push_back(to_host(in.out));
  };
  wan::CudaDitHooks per_block;
  per_block.after_block = [&](int, const float* x, int64_t tokens, void* st) {
    std::vector<float> h(static_cast<size_t>(tokens * c.dim));
    JENGA_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(st)));
    cuda::copy_to_host(h.data(), x, h.size() * 4);
    tr.blocks.push_back(std::move(h));
  };
  fwd(&per_block);
  wan::CudaDitHooks store;
  store.residual = res.data_as<float>();
  fwd(&store);
  tr.residual = to_host(res);
  wan::CudaDitHooks reuse = store;
  reuse.reuse_residual = true;
  fwd(&reuse);
  fwd(nullptr);
  JENGA_CUDA_CHECK(cudaStreamDestroy(s));
  return tr;
}

void expect_same(const Trace& a, const Trace& b, const char* what) {
  ASSERT_EQ(a.outs.size(), b.outs.size());
  for (size_t i = 0; i < a.outs.size(); ++i) EXPECT_TRUE(same_bytes(a.outs[i], b.outs[i])) << what << ": forward " << i;
  EXPECT_TRUE(same_bytes(a.residual, b.residual)) << what << ": TeaCache residual";
  ASSERT_EQ(a.blocks.size(), b.blocks.size()) << what;
  for (size_t i = 0; i < a.blocks.size(); ++i) EXPECT_TRUE(same_bytes(a.blocks[i], b.blocks[i])) << what << ": block " << i;
}

}  // namespace

TEST(CudaOffload, ForwardIsBitIdenticalToResident) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  for (int64_t heads : {2, 1}) {
    for (int64_t layers : {5, 2, 1}) {  // more blocks than the ring, exactly the ring, fewer
      TempDir dir;
      const wan::WanConfig c = offload_config(heads, layers);
      wan::write_random_checkpoint(dir.path().string(), c, 31, DType::F32);
      const wan::WanDit model = wan::load_wan_dit(dir.path().string(), DType::BF16);
      Inputs in = make_inputs(c, 3, 10, 14, 7);  // 3 x 5 x 7 = 105 tokens
      std::vector<int64_t> order(105);
      for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>((i * 37) % order.size());
      auto resident = wan::WanDitCuda::from_model(model, false);
      auto offload = wan::WanDitCuda::from_model(model, true);
      EXPECT_FALSE(resident->offload());
      EXPECT_TRUE(offload->offload());
      EXPECT_EQ(offload->offload_ring(), std::min<int64_t>(2, layers));
      const Trace a = run_sequence(*resident, in, order);
      const Trace a2 = run_sequence(*resident, in, order);
      const Trace b = run_sequence(*offload, in, order);
      SCOPED_TRACE("heads " + std::to_string(heads) + ", layers " + std::to_string(layers));
      expect_same(a, a2, "resident run twice (determinism, the premise of this test)");
      expect_same(a, b, "offload vs resident");
      ASSERT_EQ(b.blocks.size(), static_cast<size_t>(layers));
    }
  }
}

TEST(CudaOffload, RandomWeightsAreTheSameWithOffload) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  const wan::WanConfig c = offload_config(2);
  auto resident = wan::WanDitCuda::random(c, 5, false);
  auto offload = wan::WanDitCuda::random(c, 5, true);
  Inputs in = make_inputs(c, 2, 8, 8, 3);
  expect_same(run_sequence(*resident, in, {}), run_sequence(*offload, in, {}), "random weights, offload vs resident");
}

TEST(CudaOffload, GraphCapturedForwardMatchesEager) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  const wan::WanConfig c = offload_config(2);
  auto resident = wan::WanDitCuda::random(c, 9, false);
  auto offload = wan::WanDitCuda::random(c, 9, true);
  Inputs in = make_inputs(c, 3, 8, 12, 4);
  for (auto* d : {resident.get(), offload.get()}) d->prepare(3, 4, 6);
  cudaStream_t s;
  JENGA_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  auto fwd = [&](wan::WanDitCuda& d) {
    d.forward(in.x.data_as<float>(), in.t.data_as<float>(), in.ctx.data(), in.out.data_as<float>(), s);
  };
  fwd(*resident);
  JENGA_CUDA_CHECK(cudaStreamSynchronize(s));
  const auto eager = to_host(in.out);
  fwd(*offload);  // warm-up: GEMM plans are made outside the capture
  JENGA_CUDA_CHECK(cudaStreamSynchronize(s));
  JENGA_CUDA_CHECK(cudaMemset(in.out.data(), 0, in.out.nbytes()));
  cudaGraph_t g;
  cudaGraphExec_t exec;
  JENGA_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  fwd(*offload);
  JENGA_CUDA_CHECK(cudaStreamEndCapture(s, &g));  // fails (unjoined) if a copy escaped the join
  JENGA_CUDA_CHECK(cudaGraphInstantiate(&exec, g, 0));
  for (int i = 0; i < 3; ++i) {
    JENGA_CUDA_CHECK(cudaGraphLaunch(exec, s));
    JENGA_CUDA_CHECK(cudaStreamSynchronize(s));
    EXPECT_TRUE(same_bytes(to_host(in.out), eager)) << "graph replay " << i;
    JENGA_CUDA_CHECK(cudaMemset(in.out.data(), 0, in.out.nbytes()));
  }
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(g);
  JENGA_CUDA_CHECK(cudaStreamDestroy(s));
}

TEST(CudaOffload, HoldsTwoBlocksOfMatricesOnTheGpu) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  const int64_t layers = 8;
  const wan::WanConfig c = offload_config(2, layers);
  const size_t before = cuda::memory_stats().current;
  auto resident = wan::WanDitCuda::random(c, 1, false);
  const size_t with_resident = cuda::memory_stats().current;
  auto offload = wan::WanDitCuda::random(c, 1, true);
  const size_t with_both = cuda::memory_stats().current;
  const size_t block = offload->streamed_block_bytes();
  // The packed matrices and biases of a block: 7 GEMMs, 256-byte aligned arrays.
  const size_t d = static_cast<size_t>(c.dim), f = static_cast<size_t>(c.ffn_dim);
  const size_t raw = 2 * (d * 3 * d + 3 * d + 3 * (d * d + d) + d * 2 * d + 2 * d + f * d + f + d * f + d);
  EXPECT_GE(block, raw);
  EXPECT_LE(block, raw + 14 * 256);
  // Resident weights (everything but the streamed matrices) are the same in both, up to a few
  // small per-model arrays (the H200 run of 2026-12-02 saw 8-32 bytes of difference); a block
  // streamed or kept by mistake would show as a whole block (hundreds of KiB here).
  const size_t rest = resident->weight_bytes() - layers * block;
  const auto near = [](size_t a, size_t b) { return (a > b ? a - b : b - a) <= 1024; };
  EXPECT_PRED2(near, offload->weight_bytes(), rest + 2 * block);
  EXPECT_EQ(offload->host_weight_bytes(), layers * block);
  EXPECT_EQ(resident->host_weight_bytes(), 0u);
  // And the allocator agrees: what each DiT holds on the device once built (the GEMM workspace
  // is cudaMalloc'ed outside it).
  EXPECT_PRED2(near, with_resident - before, resident->weight_bytes());
  EXPECT_PRED2(near, with_both - with_resident, offload->weight_bytes());
  std::printf("%lld layers: resident %.2f MiB, offload %.2f MiB on the GPU (block %.2f MiB, %.2f MiB pinned)\n",
              static_cast<long long>(layers), resident->weight_bytes() / 1048576.0, offload->weight_bytes() / 1048576.0,
              block / 1048576.0, offload->host_weight_bytes() / 1048576.0);
}

namespace {
std::unique_ptr<test::DenoiseSetup> make_loop(int64_t heads, const std::string& preset, int steps, int64_t T, int64_t H,
                                              int64_t W) {
  auto s = test::make_denoise_setup(offload_config(heads), preset, steps, T, H, W, {}, DType::BF16);
  s->use_cuda();
  return s;
}
}  // namespace

// The whole loop: dense, Jenga base (AttenCarve masks built from the layer's q/k), Jenga turbo
// with its TeaCache and ProRes switch, and Sparse VideoGen: the same final latents with and
// without offload, and a report that says what the GPU held.
TEST(CudaOffload, DenoiseLoopIsBitIdentical) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  Progress quiet(Progress::Mode::Quiet);
  struct C {
    const char* name;
    const char* preset;
    int steps;
    bool svg;
  };
  // 3 x 16 x 24 tokens = 1152: 9 blocks of 128, so AttenCarve keeps a strict subset (SVG: 5
  // latent frames, as tests/test_cuda_svg.cpp). Steps as tests/test_denoise.cpp's CUDA loop.
  for (const C& c : {C{"dense", "dense", 6, false}, C{"base", "base", 12, false}, C{"turbo", "turbo", 28, false},
                     C{"svg", "dense", 6, true}}) {
    auto s = make_loop(2, c.preset, c.steps, c.svg ? 5 : 3, 32, 48);
    if (c.svg) {
      s->req.attention = AttentionMode::svg;
      s->req.svg.first_times_fp = 0.34;  // 2 dense steps
      s->req.svg.first_layers_fp = 0.0;
      s->req.svg.seed = 11;
    }
    const DenoiseResult off = denoise(s->req, quiet);
    const DenoiseResult off2 = denoise(s->req, quiet);
    s->use_cuda(true);
    const DenoiseResult on = denoise(s->req, quiet);
    EXPECT_TRUE(same_bytes(off.latents, off2.latents)) << c.name << ": resident run twice (determinism premise)";
    EXPECT_TRUE(same_bytes(on.latents, off.latents)) << c.name << ": offload vs resident latents";
    EXPECT_EQ(on.computed_calls, off.computed_calls) << c.name;
    EXPECT_FALSE(off.report.contains("offload"));
    ASSERT_TRUE(on.report.contains("offload")) << on.report.dump();
    EXPECT_EQ(on.report["offload"]["ring_blocks"], 2);
    EXPECT_LT(on.report["dit_weights_gpu_gib"].get<double>(), off.report["dit_weights_gpu_gib"].get<double>());
    std::printf("%s: bit-identical=%d, DiT weights on GPU %.3f -> %.3f MiB, forwards %d (%d reused)\n", c.name,
                same_bytes(on.latents, off.latents) ? 1 : 0, off.report["dit_weights_gpu_gib"].get<double>() * 1024,
                on.report["dit_weights_gpu_gib"].get<double>() * 1024, on.forwards, on.forwards_reused);
  }
}

// The CLI end to end on the built-in tiny model: the same video bytes with --offload, and the
// sidecar says so.
TEST(CudaOffload, GenerateWritesTheSameVideo) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  TempDir dir;
  const std::string common = " -p 'a corgi' --size 64x48 --frames 5 --steps 3 --device cuda -q -o ";
  auto slurp = [](const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  auto a = test::run_jenga("generate" + common + (dir / "a.y4m"));
  ASSERT_EQ(a.exit_code, 0) << a.output;
  auto b = test::run_jenga("generate --offload" + common + (dir / "b.y4m"));
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_EQ(slurp(dir / "a.y4m"), slurp(dir / "b.y4m"));
  const auto sa = nlohmann::json::parse(slurp(dir / "a.y4m.json")), sb = nlohmann::json::parse(slurp(dir / "b.y4m.json"));
  EXPECT_EQ(sa["settings"]["offload"], false);
  EXPECT_EQ(sb["settings"]["offload"], true);
  EXPECT_TRUE(sb["denoise"].contains("offload")) << sb.dump();
  EXPECT_TRUE(sb.contains("peak_gpu_alloc_gib_by_phase")) << sb.dump();
}

// The ring alone with blocks of different sizes (HunyuanVideo's double- and single-stream
// blocks share one ring): a loop that acquires each block, copies it out on the compute stream
// and releases it sees every block's bytes, in a full forward and then one that streams only a
// prefix (as a step-reuse forward skips blocks).
TEST(CudaOffloadRing, StreamsBlocksOfDifferentSizes) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  cuda::init();
  const std::vector<size_t> sizes = {4096, 1000, 70000, 256, 4096};
  cuda::OffloadRing ring("test block");
  std::vector<std::vector<uint8_t>> want;
  size_t total = 0;
  for (size_t b = 0; b < sizes.size(); ++b) {
    auto* p = static_cast<uint8_t*>(ring.add_block(sizes[b]));
    want.emplace_back(sizes[b]);
    for (size_t i = 0; i < sizes[b]; ++i) p[i] = want[b][i] = static_cast<uint8_t>(b * 31 + i * 7);
    total += sizes[b];
  }
  ring.finish(2);
  EXPECT_EQ(ring.blocks(), sizes.size());
  EXPECT_EQ(ring.ring(), 2);
  EXPECT_EQ(ring.slot_bytes(), 70000u);
  EXPECT_EQ(ring.host_bytes(), total);
  EXPECT_EQ(ring.device_bytes(), 2u * 70000u);
  cudaStream_t s = nullptr;
  JENGA_CUDA_CHECK(cudaStreamCreate(&s));
  std::vector<Tensor> out;
  for (size_t n : sizes) out.push_back(Tensor::empty(DType::U8, Shape{static_cast<int64_t>(n)}, Device::CUDA));
  for (size_t count : {sizes.size(), size_t{3}}) {
    for (auto& t : out) JENGA_CUDA_CHECK(cudaMemset(t.data(), 0, t.nbytes()));
    ring.begin(count, s);
    for (size_t b = 0; b < count; ++b) {
      const void* d = ring.acquire(b, s);
      JENGA_CUDA_CHECK(cudaMemcpyAsync(out[b].data(), d, sizes[b], cudaMemcpyDeviceToDevice, s));
      ring.release(b, s);
    }
    JENGA_CUDA_CHECK(cudaStreamSynchronize(s));
    for (size_t b = 0; b < count; ++b) {
      std::vector<uint8_t> got(sizes[b]);
      cuda::copy_to_host(got.data(), out[b].data(), got.size());
      EXPECT_EQ(got, want[b]) << "forward of " << count << " blocks, block " << b;
    }
  }
  JENGA_CUDA_CHECK(cudaStreamDestroy(s));
}
