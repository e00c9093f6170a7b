// The CUDA HunyuanVideo DiT (bf16) against the CPU f32 reference (itself equal to the official
// HYVideoDiffusionTransformer on goldens) on small random models. GPU only: skips without one.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <vector>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/padded_attention.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "models/hunyuan/hunyuan_dit.h"
#include "models/hunyuan/hunyuan_dit_cpu.h"
#include "models/hunyuan/hunyuan_dit_cuda.h"
#include "models/hunyuan/hunyuan_model.h"
#include "models/hunyuan/hunyuan_tiny.h"
#include "models/random_checkpoint.h"
#include "tensor_compare.h"
#include "test_util.h"

using namespace jenga;
using jenga::test::TempDir;

namespace {

// bf16 weights and activations against f32 over a few blocks: what the Wan CUDA DiT test allows.
constexpr double kTol = 1e-2;

using test::rel_l2;

// A small model the attention kernel serves (head dim 64 or 128): hidden 128.
hunyuan::HunyuanConfig small_config(int64_t heads, bool guidance) {
  hunyuan::HunyuanConfig c = hunyuan::HunyuanConfig::tiny();
  c.hidden = 128, c.heads = heads, c.mlp_dim = 256, c.refiner_mlp_dim = 256;
  if (heads == 1)
    c.rope_dim[0] = 16, c.rope_dim[1] = 56, c.rope_dim[2] = 56;  // the published split
  else
    c.rope_dim[0] = 16, c.rope_dim[1] = 24, c.rope_dim[2] = 24;
  c.guidance_embed = guidance;
  return c;
}

struct Case {
  hunyuan::HunyuanDit model;
  Tensor x;                       // [C, F, H, W]
  std::vector<float> txt, txt2;   // [lt, text_dim], [text_dim_2]
  int64_t lt = 0, valid = 0;
  float t = 700.0f, guidance = 6016.0f;
};

Case make_case(const TempDir& dir, const hunyuan::HunyuanConfig& c, int64_t F, int64_t H, int64_t W, int64_t lt,
               int64_t valid) {
  hunyuan::write_random_checkpoint(dir.path().string(), c, 11, DType::F32);
  Case k{hunyuan::load_hunyuan_dit(dir.path().string()), Tensor::empty(DType::F32, Shape{c.in_channels, F, H, W}),
         std::vector<float>(static_cast<size_t>(lt * c.text_dim)), std::vector<float>(static_cast<size_t>(c.text_dim_2)),
         lt, valid};
  fill_normal({k.x.data_as<float>(), static_cast<size_t>(k.x.numel())}, 5);
  fill_normal(k.txt, 6);
  fill_normal(k.txt2, 7);
  return k;
}

// token_replace: HunyuanVideo-I2V's condition (frame 0's tokens modulated as at t = 0).
std::vector<float> run_cpu(const Case& k, std::vector<std::vector<float>>* blocks = nullptr,
                           std::span<const int64_t> order = {}, bool token_replace = false) {
  DitForwardHooks hooks;
  hooks.token_order = order;
  const int64_t h = k.model.config.hidden;
  if (blocks)
    hooks.after_block = [&](int, const float* xs, int64_t tokens) { blocks->emplace_back(xs, xs + tokens * h); };
  return hunyuan::hunyuan_forward_cpu(k.model, k.x.data_as<float>(), k.x.dim(1), k.x.dim(2), k.x.dim(3), k.t,
                                      k.txt.data(), k.lt, k.valid, k.txt2.data(), k.guidance, &hooks, token_replace);
}

// Compares the image rows and the valid text rows of each block, and the output. Padding text
// rows form their own attention segment that no valid row reads, so they are not compared.
void expect_matches(const Case& k, const char* what, bool token_replace = false) {
  std::vector<std::vector<float>> ref_blocks;
  const auto ref = run_cpu(k, &ref_blocks, {}, token_replace);
  std::vector<Tensor> blocks;
  const Tensor got = hunyuan::hunyuan_forward_cuda(k.model, k.x, k.t, k.txt.data(), k.lt, k.valid, k.txt2.data(),
                                                   k.guidance, &blocks, token_replace);
  ASSERT_EQ(blocks.size(), ref_blocks.size());
  const int64_t h = k.model.config.hidden;
  const int64_t li = k.x.numel() / k.model.config.in_channels /
                     (k.model.config.patch[0] * k.model.config.patch[1] * k.model.config.patch[2]);
  for (size_t b = 0; b < blocks.size(); ++b) {
    const size_t n = static_cast<size_t>((li + k.valid) * h);
    const double e = rel_l2(blocks[b].data_as<float>(), ref_blocks[b].data(), n);
    std::printf("%s: block %zu (image + valid text rows) relative L2 %.2e\n", what, b, e);
    EXPECT_LT(e, kTol) << what << " block " << b;
  }
  const double e = rel_l2(got.to_f32_vector(), ref);
  std::printf("%s: output relative L2 %.2e\n", what, e);
  EXPECT_LT(e, kTol) << what;
  for (float v : got.to_f32_vector()) ASSERT_TRUE(std::isfinite(v));
}

// The CPU and the CUDA denoiser of `release` on case k, both given its conditioning: the CPU one
// prepared in raster order, the CUDA one in a shuffled token order. run(): the CUDA forward of
// k.x on the host.
struct DenoiserPair {
  const Case& k;
  std::unique_ptr<Denoiser> cpu, gpu;
  int64_t tokens = 0;
  Tensor dx, dout, dt;
  DenoiserPair(const Case& c, hunyuan::Release release)
      : k(c), cpu(hunyuan::make_cpu_denoiser(c.model, release)), gpu(hunyuan::make_cuda_denoiser(c.model, false, release)) {
    const auto& cfg = k.model.config;
    Conditioning cond(Tensor::from_f32(k.txt, Shape{k.lt, cfg.text_dim}));
    cond.valid = k.valid;
    cond.pooled = Tensor::from_f32(k.txt2, Shape{cfg.text_dim_2});
    cpu->set_conditioning(0, cond);
    gpu->set_conditioning(0, cond);
    const std::array<int64_t, 3> latent{k.x.dim(1), k.x.dim(2), k.x.dim(3)};
    tokens = (latent[0] / cfg.patch[0]) * (latent[1] / cfg.patch[1]) * (latent[2] / cfg.patch[2]);
    std::vector<int64_t> order(static_cast<size_t>(tokens));
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), std::mt19937(3));
    cpu->prepare(latent, {}, nullptr);
    gpu->prepare(latent, order, nullptr);
    dx = Tensor::empty(DType::F32, k.x.shape(), Device::CUDA), dout = Tensor::empty(DType::F32, k.x.shape(), Device::CUDA);
    dt = Tensor::empty(DType::F32, Shape{1}, Device::CUDA);
    cuda::copy_to_device(dx.data(), k.x.data(), k.x.nbytes());
    cuda::copy_to_device(dt.data(), &k.t, 4);
  }
  std::vector<float> run(const CudaDitHooks& hooks, float guidance) {
    gpu->forward_device(dx.data_as<float>(), dt.data_as<float>(), 0, guidance, dout.data_as<float>(), nullptr, hooks);
    std::vector<float> out(static_cast<size_t>(k.x.numel()));
    cuda::synchronize();
    cuda::copy_to_host(out.data(), dout.data(), out.size() * 4);
    return out;
  }
};

}  // namespace

TEST(CudaHunyuanDit, MatchesCpuReferenceHeadDims) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  for (int64_t heads : {2, 1}) {  // head dim 64 (split 16/24/24) and 128 (the published 16/56/56)
    TempDir dir;
    // Latent 3 x 10 x 14 -> 3 x 5 x 7 = 105 image tokens (ragged attention blocks); 20 text rows, 13 real.
    const Case k = make_case(dir, small_config(heads, true), 3, 10, 14, 20, 13);
    expect_matches(k, heads == 2 ? "head dim 64" : "head dim 128");
  }
}

// Which head dims the CUDA DiTs take (no device needed): 64 and 128 as they are, other even ones
// up to 128 padded.
TEST(CudaHunyuanDit, HeadDimsTakenAndPadded) {
  for (const auto& [hd, runs] : std::vector<std::pair<int64_t, int64_t>>{
           {2, 64}, {8, 64}, {12, 64}, {32, 64}, {48, 64}, {64, 64}, {96, 128}, {128, 128}, {7, 0}, {130, 0}, {256, 0}})
    EXPECT_EQ(cuda::attention_head_dim(hd), runs) << "head dim " << hd;
  hunyuan::HunyuanConfig c = small_config(4, true);  // hidden 128, 4 heads: head dim 32
  c.rope_dim[0] = 8, c.rope_dim[1] = 12, c.rope_dim[2] = 12;
  EXPECT_EQ(hunyuan::cuda_unsupported_reason(c), "");
  EXPECT_TRUE(hunyuan::cuda_attention_padded(c));
  EXPECT_FALSE(hunyuan::cuda_attention_padded(small_config(2, true)));
}

// Head dims the attention kernel lacks (test models: make-tiny's 32, and 16, 8; 48 and 96 through
// the scalar q/k norm + RoPE) run padded to 64 or 128: the heads copied into zero-padded slots
// around each attention, the scale still head_dim^-1/2.
TEST(CudaHunyuanDit, PaddedHeadDimsMatchCpu) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  for (const auto& [hidden, heads] : std::vector<std::pair<int64_t, int64_t>>{{128, 4}, {128, 8}, {128, 16}, {96, 2},
                                                                              {192, 2}}) {
    hunyuan::HunyuanConfig c = small_config(2, true);
    c.hidden = hidden, c.heads = heads;
    const int64_t hd = c.hidden / heads;  // 32, 16, 8, 48, 96
    c.rope_dim[0] = hd - 2 * (3 * hd / 8), c.rope_dim[1] = 3 * hd / 8, c.rope_dim[2] = 3 * hd / 8;
    if (c.rope_dim[1] % 2) c.rope_dim[1] -= 1, c.rope_dim[2] -= 1, c.rope_dim[0] += 2;
    ASSERT_TRUE(hunyuan::cuda_attention_padded(c));
    ASSERT_EQ(hunyuan::cuda_unsupported_reason(c), "");
    TempDir dir;
    const Case k = make_case(dir, c, 3, 10, 14, 20, 13);
    const std::string what = "head dim " + std::to_string(hd) + " (padded)";
    expect_matches(k, what.c_str());
  }
  hunyuan::HunyuanConfig wide = small_config(1, true);
  wide.hidden = 256, wide.heads = 1;  // head dim 256: over the kernel's widest
  EXPECT_NE(hunyuan::cuda_unsupported_reason(wide).find("an even head dim up to 128"), std::string::npos);
}

TEST(CudaHunyuanDit, MatchesCpuWithoutGuidanceAndAllTextReal) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  TempDir dir;
  // A non-cube grid, 2 x 6 x 8 latent -> 2 x 3 x 4 tokens; every text row real.
  const Case k = make_case(dir, small_config(2, false), 2, 6, 8, 9, 9);
  expect_matches(k, "no guidance, no padding");
}

TEST(CudaHunyuanDit, MatchesCpuWithOneRealTextToken) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  TempDir dir;
  // 1 real token of 32: the refiner's padding queries see key 0 only; padding is its own segment.
  const Case k = make_case(dir, small_config(1, true), 5, 4, 6, 32, 1);
  expect_matches(k, "one real text token");
}

// The full-size parity dumps (`debug dit-forward --dump-rows-stride S`): image rows 0, S, 2S, ...
// then every text row of each block, the full dump's rows (105 image rows, S 4: 27 kept).
TEST(CudaHunyuanDit, BlockDumpRowStrideKeepsEverySthImageRow) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  TempDir dir;
  const Case k = make_case(dir, small_config(1, true), 3, 10, 14, 20, 13);
  std::vector<Tensor> full, strided;
  hunyuan::hunyuan_forward_cuda(k.model, k.x, k.t, k.txt.data(), k.lt, k.valid, k.txt2.data(), k.guidance, &full);
  hunyuan::hunyuan_forward_cuda(k.model, k.x, k.t, k.txt.data(), k.lt, k.valid, k.txt2.data(), k.guidance, &strided,
                                false, 4);
  ASSERT_EQ(full.size(), strided.size());
  const int64_t h = k.model.config.hidden, li = 105, ni = 27;
  for (size_t b = 0; b < full.size(); ++b) {
    ASSERT_EQ(strided[b].shape(), (Shape{ni + k.lt, h})) << "block " << b;
    std::vector<float> want;
    const float* f = full[b].data_as<float>();
    for (int64_t i = 0; i < ni; ++i) want.insert(want.end(), f + i * 4 * h, f + (i * 4 + 1) * h);
    want.insert(want.end(), f + li * h, f + (li + k.lt) * h);
    EXPECT_LT(rel_l2(strided[b].data_as<float>(), want.data(), want.size()), 1e-6) << "block " << b;
  }
}

// Through the model interface: the device denoiser (text padded to 256 rows, a curve token order)
// gives the CPU denoiser's raster-order output, and step reuse reproduces a computed step.
TEST(CudaHunyuanDit, DenoiserTokenOrderAndStepReuse) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  TempDir dir;
  const auto cfg = small_config(2, true);
  const Case k = make_case(dir, cfg, 3, 8, 10, 24, 17);
  DenoiserPair p(k, hunyuan::Release::T2V);
  auto& cpu = p.cpu;
  auto& gpu = p.gpu;
  const int64_t tokens = p.tokens;
  EXPECT_EQ(gpu->local_tokens(), tokens);
  const float guidance = 6.0f;
  const Tensor ref = cpu->forward_host(k.x, k.t, 0, guidance, DitForwardHooks{});
  Tensor res = Tensor::empty(DType::F32, Shape{tokens * cfg.hidden}, Device::CUDA);
  auto run = [&](const CudaDitHooks& hooks) { return p.run(hooks, guidance); };
  CudaDitHooks store;
  store.residual = res.data_as<float>();
  const auto computed = run(store);
  const double e = rel_l2(computed, ref.to_f32_vector());
  std::printf("denoiser, shuffled token order: relative L2 %.2e vs the CPU denoiser (raster)\n", e);
  EXPECT_LT(e, kTol);
  CudaDitHooks reuse = store;
  reuse.reuse_residual = true;
  const auto reused = run(reuse);
  const double r = rel_l2(reused, computed);
  std::printf("step reuse of the same step: relative L2 %.2e vs computing it\n", r);
  EXPECT_LT(r, 1e-3);
  // The step-cache indicator is the time embedding, as the CPU denoiser's.
  const double ti = rel_l2(gpu->step_cache_indicator(k.t, false), cpu->step_cache_indicator(k.t, false));
  EXPECT_LT(ti, kTol);
}

namespace {

// A fixed per-head block pattern over the attended segment of `seg` rows (image + valid text):
// the diagonal block, the last (text) block, and block 0 for head 1.
BlockSparseLayout fixed_layout(int64_t heads, int64_t seg) {
  const int64_t nb = (seg + 127) / 128;
  std::vector<uint8_t> onehot(static_cast<size_t>(heads * nb * nb), 0);
  for (int64_t hh = 0; hh < heads; ++hh)
    for (int64_t qb = 0; qb < nb; ++qb) {
      onehot[static_cast<size_t>((hh * nb + qb) * nb + qb)] = 1;               // the diagonal block
      onehot[static_cast<size_t>((hh * nb + qb) * nb + (nb - 1))] = 1;         // the text (last) block
      if (hh == 1) onehot[static_cast<size_t>((hh * nb + qb) * nb + 0)] = 1;   // head 1: also block 0
    }
  return BlockSparseLayout::from_onehot(onehot, 1, heads, nb, nb);
}

// Case k through the CPU and the CUDA forward with `layout` from both hooks (checked to be asked
// for `seg` rows once per block): the outputs and each block's residual stream.
struct LayoutRun {
  std::vector<float> cpu, gpu;
  std::vector<std::vector<float>> cpu_blocks, gpu_blocks;
};
LayoutRun run_with_layout(const Case& k, const BlockSparseLayout& layout, int64_t seg, bool token_replace) {
  const auto& cfg = k.model.config;
  const int64_t h = cfg.hidden, layers = cfg.double_blocks + cfg.single_blocks;
  LayoutRun r;
  DitForwardHooks cpu_hooks;
  int cpu_calls = 0;
  cpu_hooks.self_attn_layout = [&](int, const float*, const float*, int64_t tokens, int64_t heads) {
    EXPECT_EQ(tokens, seg);
    EXPECT_EQ(heads, cfg.heads);
    ++cpu_calls;
    return &layout;
  };
  cpu_hooks.after_block = [&](int, const float* xs, int64_t tokens) { r.cpu_blocks.emplace_back(xs, xs + tokens * h); };
  r.cpu = hunyuan::hunyuan_forward_cpu(k.model, k.x.data_as<float>(), k.x.dim(1), k.x.dim(2), k.x.dim(3), k.t,
                                       k.txt.data(), k.lt, k.valid, k.txt2.data(), k.guidance, &cpu_hooks, token_replace);
  EXPECT_EQ(cpu_calls, layers);

  Tensor doff = Tensor::empty(DType::I32, Shape{static_cast<int64_t>(layout.offsets.size())}, Device::CUDA);
  Tensor dind = Tensor::empty(DType::I32, Shape{static_cast<int64_t>(layout.indices.size())}, Device::CUDA);
  cuda::copy_to_device(doff.data(), layout.offsets.data(), layout.offsets.size() * 4);
  cuda::copy_to_device(dind.data(), layout.indices.data(), layout.indices.size() * 4);
  auto dit = hunyuan::HunyuanDitCuda::from_model(k.model);
  dit->prepare(k.x.dim(1) / cfg.patch[0], k.x.dim(2) / cfg.patch[1], k.x.dim(3) / cfg.patch[2], k.lt, {}, token_replace);
  const auto text = hunyuan::upload_hunyuan_text(cfg, k.txt.data(), k.lt, k.valid, k.txt2.data(), k.lt);
  Tensor dx = Tensor::empty(DType::F32, k.x.shape(), Device::CUDA), dout = Tensor::empty(DType::F32, k.x.shape(), Device::CUDA);
  Tensor dt = Tensor::empty(DType::F32, Shape{1}, Device::CUDA);
  cuda::copy_to_device(dx.data(), k.x.data(), k.x.nbytes());
  cuda::copy_to_device(dt.data(), &k.t, 4);
  CudaDitHooks hooks;
  int gpu_calls = 0;
  hooks.self_attn_layout = [&](int, const void*, const void*, int64_t tokens, int64_t row_stride, void*) {
    EXPECT_EQ(tokens, seg);
    EXPECT_EQ(row_stride, 3 * h);
    ++gpu_calls;
    DeviceBlockLayout d;
    d.offsets = doff.data_as<int32_t>(), d.indices = dind.data_as<int32_t>();
    return d;
  };
  hooks.after_block = [&](int, const float* xs, int64_t tokens, void*) {
    std::vector<float> b(static_cast<size_t>(tokens * h));
    cuda::synchronize();
    cuda::copy_to_host(b.data(), xs, b.size() * 4);
    r.gpu_blocks.push_back(std::move(b));
  };
  dit->forward(dx.data_as<float>(), dt.data_as<float>(), text.view(), k.guidance, dout.data_as<float>(), nullptr, &hooks);
  r.gpu.resize(static_cast<size_t>(k.x.numel()));
  cuda::synchronize();
  cuda::copy_to_host(r.gpu.data(), dout.data(), r.gpu.size() * 4);
  EXPECT_EQ(gpu_calls, layers);
  return r;
}

}  // namespace

// A block-sparse layout from the hook (a fixed per-head pattern over the attended segment of
// image + valid text rows) gives the CPU reference's output under the same layout, and differs
// from dense (so the layout is really applied).
TEST(CudaHunyuanDit, BlockSparseLayoutHookMatchesCpu) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  TempDir dir;
  const auto cfg = small_config(2, true);
  // 4 x 6 x 8 = 192 image tokens + 20 of 28 text rows real: a segment of 212 rows, 2 blocks.
  const Case k = make_case(dir, cfg, 4, 12, 16, 28, 20);
  const int64_t seg = 192 + 20;
  const BlockSparseLayout layout = fixed_layout(cfg.heads, seg);
  ASSERT_LT(layout.density(), 1.0);
  const LayoutRun r = run_with_layout(k, layout, seg, false);
  const auto dense = run_cpu(k);
  EXPECT_GT(rel_l2(r.cpu, dense), 0.05) << "the layout should change the output";
  const double e = rel_l2(r.gpu, r.cpu);
  std::printf("block-sparse layout hook: CUDA vs CPU relative L2 %.2e (layout vs dense on the CPU: %.2e)\n", e,
              rel_l2(r.cpu, dense));
  EXPECT_LT(e, kTol);
}

// HunyuanVideo-I2V (token_replace) on the CUDA DiT against the CPU reference's I2V forward
// (itself equal to the official I2V HYVideoDiffusionTransformer on goldens): frame 0's tokens
// (35 of 105) modulated from time_in(0) + vector_in(pooled), block by block; the condition
// changes the output, so it is really applied.
TEST(CudaHunyuanDit, I2vTokenReplaceMatchesCpu) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  TempDir dir;
  const Case k = make_case(dir, small_config(2, true), 3, 10, 14, 20, 13);
  expect_matches(k, "i2v token_replace", true);
  const auto with = run_cpu(k, nullptr, {}, true), without = run_cpu(k);
  const double d = rel_l2(without, with);
  std::printf("i2v token_replace vs none on the CPU: relative L2 %.2e\n", d);
  EXPECT_GT(d, 2 * kTol) << "token_replace should change the output";
}

// The I2V denoiser (text rows as given, token_replace) with a shuffled token order: the
// first-frame rows are found where the order puts them, so the output is the CPU I2V
// denoiser's raster-order one.
TEST(CudaHunyuanDit, I2vTokenReplaceFollowsTheTokenOrder) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  TempDir dir;
  const auto cfg = small_config(2, true);
  const Case k = make_case(dir, cfg, 3, 8, 10, 24, 17);
  {
    auto fresh = hunyuan::make_cuda_denoiser(k.model, false, hunyuan::Release::I2V);
    EXPECT_THROW(fresh->prepare({k.x.dim(1), k.x.dim(2), k.x.dim(3)}, {}, nullptr), Error)
        << "I2V sizes its text rows from the conditioning";
  }
  DenoiserPair p(k, hunyuan::Release::I2V);
  const float guidance = 6.0f;
  const Tensor ref = p.cpu->forward_host(k.x, k.t, 0, guidance, DitForwardHooks{});
  const auto out = p.run(CudaDitHooks{}, guidance);
  const double e = rel_l2(out, ref.to_f32_vector());
  std::printf("i2v denoiser, shuffled token order: relative L2 %.2e vs the CPU I2V denoiser (raster)\n", e);
  EXPECT_LT(e, kTol);
}

// Jenga I2V's sparse path: the text rows also attend over the zero rows the I2V kernel pads the
// sequence with (192 image + 28 text rows -> 36 zero rows to 256), block by block as the CPU
// reference (whose padding tests/test_hunyuan_i2v_generate.cpp checks); the text rows' outputs
// would be scaled otherwise, and the next block's image rows read them.
TEST(CudaHunyuanDit, I2vSparseTextRowsSeeTheZeroPadding) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  TempDir dir;
  const auto cfg = small_config(2, true);
  const Case k = make_case(dir, cfg, 4, 12, 16, 28, 20);
  const int64_t seg = 192 + 20, li = 192;
  const LayoutRun r = run_with_layout(k, fixed_layout(cfg.heads, seg), seg, true);
  ASSERT_EQ(r.gpu_blocks.size(), r.cpu_blocks.size());
  const int64_t h = cfg.hidden;
  for (size_t b = 0; b < r.gpu_blocks.size(); ++b) {
    // Every text row (padding included) attends densely on this path: all rows compared.
    const double e = rel_l2(r.gpu_blocks[b].data(), r.cpu_blocks[b].data(), static_cast<size_t>((li + k.lt) * h));
    std::printf("i2v sparse: block %zu relative L2 %.2e\n", b, e);
    EXPECT_LT(e, kTol) << "block " << b;
  }
  const double e = rel_l2(r.gpu, r.cpu);
  std::printf("i2v sparse (token_replace, zero-padded text keys): CUDA vs CPU relative L2 %.2e\n", e);
  EXPECT_LT(e, kTol);
}

// latent_concat's 33 input channels (16 noisy + 16 image latent + 1 mask; the CPU DiT checked
// against the official I2V class): the CUDA DiT's img_in GEMM over 33 x 4 patch values.
TEST(CudaHunyuanDit, I2vLatentConcat33Channels) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  TempDir dir;
  auto cfg = small_config(2, true);
  cfg.in_channels = 33;
  const Case k = make_case(dir, cfg, 2, 6, 8, 9, 9);
  expect_matches(k, "i2v latent_concat, 33 channels");
}

// Two forwards of `d` on the case's inputs (the ring's slots are reused across forwards).
static std::vector<std::vector<float>> forward_twice(hunyuan::HunyuanDitCuda& d, const Case& k) {
  const auto text = hunyuan::upload_hunyuan_text(d.config(), k.txt.data(), k.lt, k.valid, k.txt2.data(), k.lt);
  Tensor dx = Tensor::empty(DType::F32, k.x.shape(), Device::CUDA), dout = Tensor::empty(DType::F32, k.x.shape(), Device::CUDA);
  Tensor dt = Tensor::empty(DType::F32, Shape{1}, Device::CUDA);
  cuda::copy_to_device(dx.data(), k.x.data(), k.x.nbytes());
  cuda::copy_to_device(dt.data(), &k.t, 4);
  d.prepare(k.x.dim(1), k.x.dim(2) / 2, k.x.dim(3) / 2, k.lt);
  std::vector<std::vector<float>> outs;
  for (int i = 0; i < 2; ++i) {
    d.forward(dx.data_as<float>(), dt.data_as<float>(), text.view(), k.guidance, dout.data_as<float>(), nullptr, nullptr);
    std::vector<float> out(static_cast<size_t>(k.x.numel()));
    cuda::synchronize();
    cuda::copy_to_host(out.data(), dout.data(), out.size() * 4);
    outs.push_back(std::move(out));
  }
  return outs;
}

// --offload: the blocks' matrices (GEMMs and modulation) stream from pinned host memory through
// a ring of two device buffers; the output is the resident forward's, bit for bit, forward after
// forward, with fewer weight bytes on the GPU.
TEST(CudaHunyuanDit, OffloadIsBitIdenticalToResident) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  TempDir dir;
  const auto cfg = small_config(2, true);
  const Case k = make_case(dir, cfg, 3, 8, 10, 24, 17);
  auto resident = hunyuan::HunyuanDitCuda::from_model(k.model, false);
  auto streamed = hunyuan::HunyuanDitCuda::from_model(k.model, true);
  EXPECT_FALSE(resident->offload());
  EXPECT_TRUE(streamed->offload());
  EXPECT_EQ(streamed->offload_ring(), 2);
  EXPECT_LT(streamed->weight_bytes(), resident->weight_bytes());
  EXPECT_GT(streamed->host_weight_bytes(), 0u);
  const auto want = forward_twice(*resident, k), got = forward_twice(*streamed, k);
  EXPECT_EQ(got[0], want[0]);
  EXPECT_EQ(got[1], want[1]);
  EXPECT_EQ(got[0], got[1]);
}

// The random benchmark model with --offload (bench dit / bench denoise): the same draws as the
// resident random model, moved block by block to pinned memory; the same output, bit for bit.
// The resident part shrinks by every block's matrices, the modulation ones included.
TEST(CudaHunyuanDit, RandomOffloadIsBitIdenticalToResident) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  TempDir dir;
  const auto cfg = small_config(2, true);
  const Case k = make_case(dir, cfg, 3, 8, 10, 24, 17);  // its inputs; the weights are random()'s
  auto resident = hunyuan::HunyuanDitCuda::random(cfg, 11, false);
  auto streamed = hunyuan::HunyuanDitCuda::random(cfg, 11, true);
  ASSERT_TRUE(streamed->offload());
  // Every block matrix and bias (bf16) is in pinned memory: the modulation ones too.
  const int64_t h = cfg.hidden, m = cfg.mlp_dim, qb = cfg.qkv_bias ? 1 : 0;
  const int64_t stream_elems = (3 * h * h + qb * 3 * h) + (h * h + qb * h) + (m * h + m) + (h * m + h) + (6 * h * h + 6 * h);
  const int64_t single_elems = ((3 * h + m) * h + 3 * h + m) + (h * (h + m) + h) + (3 * h * h + 3 * h);
  EXPECT_GE(streamed->host_weight_bytes(),
            static_cast<size_t>(cfg.double_blocks * 2 * stream_elems + cfg.single_blocks * single_elems) * 2);
  EXPECT_LT(streamed->weight_bytes(), resident->weight_bytes());
  const auto want = forward_twice(*resident, k), got = forward_twice(*streamed, k);
  EXPECT_EQ(got[0], want[0]);
  EXPECT_EQ(got[1], want[1]);
}

// A ComfyUI scaled-fp8 DiT file on the GPU: its matrices dequantised to bf16 at load, the forward
// near the CPU forward on the same file (dequantised to f32).
TEST(CudaHunyuanDit, ScaledFp8FileMatchesTheCpuForward) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  TempDir dir;
  Case k = make_case(dir, small_config(2, true), 3, 10, 14, 20, 13);
  rewrite_as_scaled_fp8((dir.path() / "diffusion_pytorch_model.safetensors").string());
  k.model = hunyuan::load_hunyuan_dit(dir.path().string());  // f32, dequantised: the CPU reference
  const hunyuan::HunyuanDit gpu_model = hunyuan::load_hunyuan_dit(dir.path().string(), DType::BF16);
  ASSERT_EQ(gpu_model.weights.doubles[0].img.qkv.w.dtype(), DType::BF16);
  const auto ref = run_cpu(k);
  const Tensor got = hunyuan::hunyuan_forward_cuda(gpu_model, k.x, k.t, k.txt.data(), k.lt, k.valid, k.txt2.data(),
                                                   k.guidance);
  const double e = rel_l2(got.to_f32_vector(), ref);
  std::printf("scaled fp8 file: CUDA (bf16) vs CPU (f32) output relative L2 %.2e\n", e);
  EXPECT_LT(e, kTol);
}
