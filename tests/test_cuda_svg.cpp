// Sparse VideoGen on the GPU against the CPU reference: the CUDA profiling / placement /
// block-sparse attention on random q/k/v equals svg::plan_attention + svg::run_plan_cpu, and the
// CUDA tiny-model loop with --attention svg matches the CPU one. GPU only (skips without one).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/svg_attention.h"
#include "core/dtype.h"
#include "core/rng.h"
#include "jenga/svg/svg_plan.h"
#include "denoise_test_setup.h"
#include "svg_test_inputs.h"
#include "tensor_compare.h"

using namespace jenga;

TEST(CudaSvg, AttentionMatchesCpuPlan) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  cuda::init();
  for (int64_t d : {128, 64}) {
    const svg::SvgGrid g{4, 320};  // 1280 tokens: 10 blocks of 128, the last frame boundary mid-block
    const int64_t H = 4, n = g.tokens();
    std::vector<float> q, k, v;
    test::make_svg_qkv(g, H, d, q, k, v);
    for (auto* x : {&q, &k, &v})
      for (auto& e : *x) e = bf16_to_f32(f32_to_bf16(e));  // both sides see the bf16 values
    svg::SvgParams p;
    p.sparsity = 0.3, p.num_sampled_rows = 24;
    const auto rows = svg::sample_rows(p, n, 9);
    const svg::SvgPlan plan = svg::plan_attention(q.data(), k.data(), v.data(), H, d, g, p, rows, 128);
    ASSERT_LT(plan.layout.density(), 1.0);
    std::vector<float> want(q.size());
    svg::run_plan_cpu(plan, q.data(), k.data(), v.data(), d, want.data());

    // The DiT layout on the device: [tokens, heads, d] bf16.
    std::vector<uint16_t> hq(q.size()), hk(q.size()), hv(q.size());
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < n; ++t)
        for (int64_t c = 0; c < d; ++c) {
          const int64_t src = (h * n + t) * d + c, dst = (t * H + h) * d + c;
          hq[dst] = f32_to_bf16(q[src]), hk[dst] = f32_to_bf16(k[src]), hv[dst] = f32_to_bf16(v[src]);
        }
    const size_t bytes = hq.size() * 2;
    Tensor dq = Tensor::empty(DType::BF16, Shape{n, H * d}, Device::CUDA), dk = Tensor::empty(DType::BF16, Shape{n, H * d}, Device::CUDA),
           dv = Tensor::empty(DType::BF16, Shape{n, H * d}, Device::CUDA), dout = Tensor::empty(DType::BF16, Shape{n, H * d}, Device::CUDA);
    cuda::copy_to_device(dq.data(), hq.data(), bytes);
    cuda::copy_to_device(dk.data(), hk.data(), bytes);
    cuda::copy_to_device(dv.data(), hv.data(), bytes);
    cuda::SvgAttention sa;
    const cuda::SvgGridArgs ga = cuda::svg_grid_args(g, H, d);
    sa.set_stage(ga, rows, plan.layout);
    sa.run(static_cast<const uint16_t*>(dq.data()), static_cast<const uint16_t*>(dk.data()),
           static_cast<const uint16_t*>(dv.data()), H * d, static_cast<uint16_t*>(dout.data()), H * d, nullptr);
    std::vector<int32_t> pat(H);
    std::vector<float> mse(2 * H);
    std::vector<uint16_t> hout(hq.size());
    cuda::synchronize();
    cuda::copy_to_host(pat.data(), sa.patterns(), H * 4);
    cuda::copy_to_host(mse.data(), sa.mse(), H * 8);
    cuda::copy_to_host(hout.data(), dout.data(), bytes);
    int temporal = 0;
    for (int64_t h = 0; h < H; ++h) {
      const auto& c = plan.choices[h];
      EXPECT_EQ(pat[h], static_cast<int>(c.pattern)) << "head " << h << " d " << d;
      EXPECT_NEAR(mse[2 * h], c.mse_spatial, 1e-2 * c.mse_spatial + 1e-9) << "head " << h;
      EXPECT_NEAR(mse[2 * h + 1], c.mse_temporal, 1e-2 * c.mse_temporal + 1e-9) << "head " << h;
      temporal += pat[h];
    }
    EXPECT_GT(temporal, 0);  // the case exercises both placements
    EXPECT_LT(temporal, H);
    double num = 0, den = 0, worst = 0;
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < n; ++t)
        for (int64_t c = 0; c < d; ++c) {
          const double a = bf16_to_f32(hout[(t * H + h) * d + c]), b = want[(h * n + t) * d + c];
          num += (a - b) * (a - b), den += b * b, worst = std::max(worst, std::fabs(a - b));
        }
    std::printf("d %lld: temporal heads %d/%lld, rel L2 %.3g, max |diff| %.3g\n", static_cast<long long>(d), temporal,
                static_cast<long long>(H), std::sqrt(num / den), worst);
    EXPECT_LT(std::sqrt(num / den), 1e-2);
    EXPECT_NEAR(sa.temporal_fraction(), static_cast<double>(temporal) / H, 1e-12);
  }
}

TEST(CudaSvg, TinyLoopMatchesCpu) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  Progress quiet(Progress::Mode::Quiet);
  for (int64_t heads : {1, 2}) {
    auto s = test::make_svg_setup(heads, 8, 5, 32, 48);
    s->req.attention = AttentionMode::svg;
    s->req.svg.first_times_fp = 0.25;  // 2 dense steps
    s->req.svg.first_layers_fp = 0.0;
    const DenoiseResult cpu = denoise(s->req, quiet);
    s->use_cuda();
    const DenoiseResult gpu = denoise(s->req, quiet);
    const double d = test::rel_l2(gpu.latents, cpu.latents);
    const double tc = cpu.report["svg"]["temporal_head_fraction"], tg = gpu.report["svg"]["temporal_head_fraction"];
    std::printf("heads %lld: rel L2 cuda vs cpu %.3g, temporal heads cpu %.3f gpu %.3f\n", static_cast<long long>(heads),
                d, tc, tg);
    EXPECT_NEAR(tg, tc, 0.1);
    EXPECT_LT(d, 3e-2);
    EXPECT_NEAR(gpu.report["sparse_block_density"].get<double>(), cpu.report["sparse_block_density"].get<double>(), 1e-12);
  }
}
