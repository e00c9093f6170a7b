// Sparse VideoGen on HunyuanVideo on the GPU against the CPU reference: the CUDA profiling /
// placement / block-sparse attention of joint sequences [video | valid text | padding text] on
// random q/k/v equals svg::plan_attention + svg::run_plan_cpu for each guidance branch's valid
// text, and the CUDA HunyuanVideo loop with --attention svg matches the CPU one on a small
// random DiT (bf16 vs f32). GPU only (skips without one).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/svg_attention.h"
#include "core/dtype.h"
#include "core/rng.h"
#include "jenga/svg/svg_plan.h"
#include "models/hunyuan/hunyuan_dit.h"
#include "models/hunyuan/hunyuan_model.h"
#include "models/hunyuan/hunyuan_tiny.h"
#include "hunyuan_cuda_test_config.h"
#include "hunyuan_svg_setup.h"
#include "svg_test_inputs.h"
#include "tensor_compare.h"
#include "test_util.h"

using namespace jenga;

namespace {

// [heads, n, d] f32 -> the DiT's [n, heads * d] bf16 on the device.
Tensor to_device_rows(const std::vector<float>& x, int64_t heads, int64_t n, int64_t d) {
  std::vector<uint16_t> h(x.size());
  for (int64_t hh = 0; hh < heads; ++hh)
    for (int64_t t = 0; t < n; ++t)
      for (int64_t c = 0; c < d; ++c) h[(t * heads + hh) * d + c] = f32_to_bf16(x[(hh * n + t) * d + c]);
  Tensor out = Tensor::empty(DType::BF16, Shape{n, heads * d}, Device::CUDA);
  cuda::copy_to_device(out.data(), h.data(), h.size() * 2);
  return out;
}

}  // namespace

TEST(CudaHunyuanSvg, AttentionMatchesCpuPlanPerBranch) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  cuda::init();
  for (int64_t d : {128, 64}) {
    svg::SvgGrid g;  // 1280 video tokens (frame boundaries mid-block) + 40 text rows
    g.frames = 4, g.frame_tokens = 320, g.text = 40, g.text_valid = 23, g.rules = svg::SvgRules::hunyuan;
    const int64_t H = 4, n = g.sequence();
    std::vector<float> q, k, v;
    test::make_svg_qkv(g, H, d, q, k, v);
    for (auto* x : {&q, &k, &v})
      for (auto& e : *x) e = bf16_to_f32(f32_to_bf16(e));  // both sides see the bf16 values
    svg::SvgParams p;
    p.sparsity = 0.5, p.num_sampled_rows = 24;
    const auto rows = svg::sample_rows(p, n, 9);
    const int64_t valid[2] = {23, 9};
    std::vector<svg::SvgPlan> plans;
    std::vector<cuda::SvgBranch> branches;
    for (int64_t tv : valid) {
      svg::SvgGrid gb = g;
      gb.text_valid = tv;
      plans.push_back(svg::plan_attention(q.data(), k.data(), v.data(), H, d, gb, p, rows, 128));
      branches.push_back({plans.back().layout, gb.real()});
    }
    ASSERT_LT(plans[0].layout.density(), 1.0);
    ASSERT_GT(plans[0].band_width, 0);
    const Tensor dq = to_device_rows(q, H, n, d), dk = to_device_rows(k, H, n, d), dv = to_device_rows(v, H, n, d);
    Tensor dout = Tensor::empty(DType::BF16, Shape{n, H * d}, Device::CUDA);
    cuda::SvgAttention sa;
    sa.set_stage(cuda::svg_grid_args(g, H, d), rows, branches);
    for (int b = 0; b < 2; ++b) {
      SCOPED_TRACE(b);
      std::vector<float> want(q.size());
      svg::run_plan_cpu(plans[b], q.data(), k.data(), v.data(), d, want.data());
      sa.run(static_cast<const uint16_t*>(dq.data()), static_cast<const uint16_t*>(dk.data()),
             static_cast<const uint16_t*>(dv.data()), H * d, static_cast<uint16_t*>(dout.data()), H * d, nullptr, b);
      std::vector<int32_t> pat(H);
      std::vector<float> mse(2 * H);
      std::vector<uint16_t> hout(static_cast<size_t>(n * H * d));
      cuda::synchronize();
      cuda::copy_to_host(pat.data(), sa.patterns(), H * 4);
      cuda::copy_to_host(mse.data(), sa.mse(), H * 8);
      cuda::copy_to_host(hout.data(), dout.data(), hout.size() * 2);
      int temporal = 0;
      for (int64_t h = 0; h < H; ++h) {
        const auto& c = plans[b].choices[h];
        EXPECT_EQ(pat[h], static_cast<int>(c.pattern)) << "head " << h << " d " << d;
        EXPECT_NEAR(mse[2 * h], c.mse_spatial, 1e-2 * c.mse_spatial + 1e-9) << "head " << h;
        EXPECT_NEAR(mse[2 * h + 1], c.mse_temporal, 1e-2 * c.mse_temporal + 1e-9) << "head " << h;
        temporal += pat[h];
      }
      EXPECT_GT(temporal, 0);  // both placements exercised
      EXPECT_LT(temporal, H);
      double num = 0, den = 0, tnum = 0, tden = 0;
      for (int64_t h = 0; h < H; ++h)
        for (int64_t t = 0; t < n; ++t)
          for (int64_t c = 0; c < d; ++c) {
            const double a = bf16_to_f32(hout[(t * H + h) * d + c]), w = want[(h * n + t) * d + c];
            num += (a - w) * (a - w), den += w * w;
            if (t >= g.tokens()) tnum += (a - w) * (a - w), tden += w * w;
          }
      std::printf("d %lld branch %d (valid text %lld): temporal heads %d/%lld, rel L2 %.3g (text rows %.3g)\n",
                  static_cast<long long>(d), b, static_cast<long long>(valid[b]), temporal, static_cast<long long>(H),
                  std::sqrt(num / den), std::sqrt(tnum / tden));
      EXPECT_LT(std::sqrt(num / den), 1e-2);
      EXPECT_LT(std::sqrt(tnum / tden), 1e-2);
    }
  }
}

TEST(CudaHunyuanSvg, LoopMatchesCpu) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  test::TempDir dir;
  const hunyuan::HunyuanConfig c = test::hunyuan_cuda_test_config();
  hunyuan::write_random_checkpoint(dir.path().string(), c, 13, DType::F32);
  const hunyuan::HunyuanDit f32 = hunyuan::load_hunyuan_dit(dir.path().string());
  const hunyuan::HunyuanDit bf16 = hunyuan::load_hunyuan_dit(dir.path().string(), DType::BF16);
  const auto cpu = hunyuan::make_cpu_denoiser(f32);
  const auto gpu = hunyuan::cuda_parts().denoiser(bf16, false, hunyuan::Release::T2V);
  Progress quiet(Progress::Mode::Quiet);
  for (bool true_cfg : {false, true}) {
    SCOPED_TRACE(true_cfg ? "true cfg" : "embedded guidance");
    const DenoiseResult want = denoise(test::hunyuan_svg_request(*cpu, c, true_cfg), quiet);
    const DenoiseResult got = denoise(test::hunyuan_svg_request(*gpu, c, true_cfg), quiet);
    const auto a = got.latents.to_f32_vector(), b = want.latents.to_f32_vector();
    for (float x : a) ASSERT_TRUE(std::isfinite(x));
    const double e = test::rel_l2(a, b);
    const double tc = want.report["svg"]["temporal_head_fraction"], tg = got.report["svg"]["temporal_head_fraction"];
    std::printf("%s: CUDA (bf16) vs CPU (f32) final latents rel L2 %.3g; temporal heads cpu %.3f gpu %.3f; "
                "block density %.4f\n", true_cfg ? "true cfg" : "embedded", e, tc, tg,
                got.report["sparse_block_density"].get<double>());
    EXPECT_LT(e, 5e-2);
    EXPECT_NEAR(tg, tc, 0.1);
    EXPECT_NEAR(got.report["sparse_block_density"].get<double>(), want.report["sparse_block_density"].get<double>(), 1e-12);
    EXPECT_EQ(got.forwards, want.forwards);
  }
}
