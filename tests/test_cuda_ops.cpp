#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "backend/cpu/gemm.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/elementwise.h"
#include "backend/cuda/embedding.h"
#include "backend/cuda/gemm.h"
#include "backend/cuda/gemv.h"
#include "backend/cuda/norm.h"
#include "backend/cuda/patch.h"
#include "backend/cuda/random.h"
#include "backend/cuda/rope.h"
#include "core/dtype.h"
#include "core/rng.h"
#include "core/tensor.h"

using namespace jenga;

// GPU tests: run only where a GPU is present (CI has none and skips).
namespace {
bool gpu() {
  if (!cuda::available()) return false;
  cuda::init();
  return true;
}

std::vector<uint16_t> to_bf16(const std::vector<float>& v) {
  std::vector<uint16_t> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = f32_to_bf16(v[i]);
  return r;
}
std::vector<float> round_bf16(const std::vector<float>& v) {
  std::vector<float> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = bf16_to_f32(f32_to_bf16(v[i]));
  return r;
}

template <typename T>
Tensor upload(const std::vector<T>& host, DType dt) {
  Tensor t = Tensor::empty(dt, Shape{static_cast<int64_t>(host.size())}, Device::CUDA);
  cuda::copy_to_device(t.data(), host.data(), host.size() * sizeof(T));
  return t;
}
std::vector<float> download_bf16(const Tensor& t) {
  std::vector<uint16_t> h(static_cast<size_t>(t.numel()));
  cuda::copy_to_host(h.data(), t.data(), h.size() * 2);
  std::vector<float> r(h.size());
  for (size_t i = 0; i < h.size(); ++i) r[i] = bf16_to_f32(h[i]);
  return r;
}
std::vector<float> download_f32(const Tensor& t) {
  std::vector<float> h(static_cast<size_t>(t.numel()));
  cuda::copy_to_host(h.data(), t.data(), h.size() * 4);
  return h;
}
std::vector<float> randn(size_t n, uint64_t seed, float scale = 1.0f) {
  std::vector<float> v(n);
  fill_normal(v, seed);
  for (auto& x : v) x *= scale;
  return v;
}
float gelu_tanh(float x) {
  return 0.5f * x * (1.0f + std::tanh(0.7978845608028654f * (x + 0.044715f * x * x * x)));
}
}  // namespace

TEST(CudaGemm, LinearWithEpiloguesMatchesCpu) {
  if (!gpu()) GTEST_SKIP() << "no CUDA device";
  cuda::GemmRunner runner;
  for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{300, 192, 128}, {1, 64, 256}, {517, 1536, 64}}) {
    auto x = round_bf16(randn(m * k, 1, 1.0f));
    auto w = round_bf16(randn(n * k, 2, 1.0f / std::sqrt(float(k))));
    auto b = round_bf16(randn(n, 3, 0.5f));
    Tensor dx = upload(to_bf16(x), DType::BF16), dw = upload(to_bf16(w), DType::BF16);
    Tensor db = upload(to_bf16(b), DType::BF16);
    Tensor dy = Tensor::empty(DType::BF16, Shape{m * n}, Device::CUDA);
    std::vector<float> ref(m * n);
    cpu::linear(x.data(), w.data(), b.data(), ref.data(), m, n, k);
    for (auto ep : {cuda::Epilogue::None, cuda::Epilogue::Bias, cuda::Epilogue::BiasGeluTanh}) {
      runner.linear(dx.data(), dw.data(), db.data(), dy.data(), m, n, k, ep);
      auto got = download_bf16(dy);
      double max_err = 0;
      for (int64_t i = 0; i < m * n; ++i) {
        float r = ref[i];
        if (ep == cuda::Epilogue::None) r -= b[i % n];
        if (ep == cuda::Epilogue::BiasGeluTanh) r = gelu_tanh(r);
        max_err = std::max<double>(max_err, std::fabs(got[i] - r) / (1.0 + std::fabs(r)));
      }
      EXPECT_LT(max_err, 1e-2) << m << "x" << n << "x" << k << " epilogue " << static_cast<int>(ep);
    }
  }
}

TEST(CudaGemm, LinearF32OutputAndAccumulate) {
  if (!gpu()) GTEST_SKIP() << "no CUDA device";
  cuda::GemmRunner runner;
  for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{1, 64, 256}, {517, 320, 96}}) {
    auto x = round_bf16(randn(m * k, 4, 1.0f));
    auto w = round_bf16(randn(n * k, 5, 1.0f / std::sqrt(float(k))));
    auto y0 = randn(m * n, 6, 3.0f);  // f32 values bf16 could not hold
    Tensor dx = upload(to_bf16(x), DType::BF16), dw = upload(to_bf16(w), DType::BF16), dy = upload(y0, DType::F32);
    std::vector<float> ref(m * n);
    cpu::linear(x.data(), w.data(), nullptr, ref.data(), m, n, k);
    for (bool acc : {true, false}) {
      if (!acc) cuda::copy_to_device(dy.data(), y0.data(), y0.size() * 4);
      runner.linear_f32(dx.data(), dw.data(), dy.data_as<float>(), m, n, k, acc);
      const auto got = download_f32(dy);
      double max_err = 0;
      for (int64_t i = 0; i < m * n; ++i) {
        const double r = ref[i] + (acc ? y0[i] : 0.0f);
        max_err = std::max(max_err, std::fabs(got[i] - r) / (1.0 + std::fabs(r)));
      }
      EXPECT_LT(max_err, 1e-4) << m << "x" << n << "x" << k << (acc ? " accumulate" : "");
    }
  }
}

TEST(CudaOps, LayerNormModulateMatchesCpu) {
  if (!gpu()) GTEST_SKIP() << "no CUDA device";
  for (const int64_t dim : {1536, 1538}) {  // the float4 path and the scalar one
  const int64_t rows = 37;
  auto x = randn(rows * dim, 4, 3.0f);
  for (auto& v : x) v += 5.0f;  // a large mean stresses the variance computation
  auto w = randn(dim, 5), b = randn(dim, 6), shift = randn(dim, 7), scale = randn(dim, 8, 0.3f);
  Tensor dx = upload(x, DType::F32), dw = upload(w, DType::F32), db = upload(b, DType::F32);
  Tensor ds = upload(shift, DType::F32), dc = upload(scale, DType::F32);
  Tensor dy = Tensor::empty(DType::BF16, Shape{rows * dim}, Device::CUDA);
  for (bool affine : {false, true}) {
    cuda::layer_norm_modulate(dx.data_as<float>(), affine ? dw.data_as<float>() : nullptr,
                              affine ? db.data_as<float>() : nullptr, ds.data_as<float>(),
                              dc.data_as<float>(), dy.data(), rows, dim, 1e-6f);
    auto got = download_bf16(dy);
    for (int64_t r = 0; r < rows; ++r) {
      double mean = 0, var = 0;
      for (int64_t i = 0; i < dim; ++i) mean += x[r * dim + i];
      mean /= dim;
      for (int64_t i = 0; i < dim; ++i) var += (x[r * dim + i] - mean) * (x[r * dim + i] - mean);
      var /= dim;
      for (int64_t i = 0; i < dim; ++i) {
        double t = (x[r * dim + i] - mean) / std::sqrt(var + 1e-6);
        if (affine) t = t * w[i] + b[i];
        t = t * (1 + scale[i]) + shift[i];
        ASSERT_NEAR(got[r * dim + i], t, 1e-2 * (1 + std::fabs(t))) << dim << ": " << r << "," << i;
      }
    }
  }
  }
}

TEST(CudaOps, RmsNormInPlaceAndRope) {
  if (!gpu()) GTEST_SKIP() << "no CUDA device";
  const int64_t rows = 19, heads = 3, hd = 128, dim = heads * hd;
  auto x = round_bf16(randn(rows * dim, 9, 2.0f));
  auto w = randn(dim, 10, 0.2f);
  for (auto& v : w) v += 1.0f;
  Tensor dx = upload(to_bf16(x), DType::BF16), dw = upload(w, DType::F32);
  cuda::rms_norm(dx.data(), dim, dw.data_as<float>(), dx.data(), dim, rows, dim, 1e-6f);
  auto normed = download_bf16(dx);
  std::vector<float> ref(rows * dim);
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (int64_t i = 0; i < dim; ++i) ss += double(x[r * dim + i]) * x[r * dim + i];
    const double inv = 1.0 / std::sqrt(ss / dim + 1e-6);
    for (int64_t i = 0; i < dim; ++i) {
      ref[r * dim + i] = float(x[r * dim + i] * inv * w[i]);
      ASSERT_NEAR(normed[r * dim + i], ref[r * dim + i], 1e-2 * (1 + std::fabs(ref[r * dim + i])));
    }
  }
  // RoPE on the normalised values, angles from positions.
  std::vector<float> cs(rows * hd);  // (cos, sin) pairs, hd/2 per row
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < hd / 2; ++j) {
      const double a = r * std::pow(10000.0, -2.0 * j / hd);
      cs[(r * hd / 2 + j) * 2] = float(std::cos(a));
      cs[(r * hd / 2 + j) * 2 + 1] = float(std::sin(a));
    }
  Tensor dcs = upload(cs, DType::F32);
  cuda::rope_interleaved(dx.data(), dcs.data_as<float>(), rows, heads, hd, dim);
  auto got = download_bf16(dx);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t j = 0; j < hd / 2; ++j) {
        const int64_t i = r * dim + h * hd + 2 * j;
        const float c = cs[(r * hd / 2 + j) * 2], s = cs[(r * hd / 2 + j) * 2 + 1];
        const float a = normed[i], b = normed[i + 1];
        ASSERT_NEAR(got[i], a * c - b * s, 2e-2 * (1 + std::fabs(a) + std::fabs(b)));
        ASSERT_NEAR(got[i + 1], a * s + b * c, 2e-2 * (1 + std::fabs(a) + std::fabs(b)));
      }
}

// The fused q/k norm + RoPE equals the separate kernels (up to the f32 order of the row sums).
TEST(CudaOps, FusedQkNormRopeMatchesSeparateKernels) {
  if (!gpu()) GTEST_SKIP() << "no CUDA device";
  struct Case { int64_t rows, heads, hd; };
  for (const Case c : {Case{23, 12, 128}, Case{5, 40, 128}, Case{7, 3, 64}, Case{4, 2, 6}}) {
    const int64_t dim = c.heads * c.hd, stride = 3 * dim;
    auto x = round_bf16(randn(c.rows * stride, 21, 2.0f));
    auto wq = randn(dim, 22, 0.2f), wk = randn(dim, 23, 0.2f);
    for (auto& v : wq) v += 1.0f;
    std::vector<float> cs(c.rows * c.hd);
    for (size_t i = 0; i < cs.size(); ++i) cs[i] = std::cos(0.37 * i + (i % 2) * 1.3);
    Tensor fused = upload(to_bf16(x), DType::BF16), sep = upload(to_bf16(x), DType::BF16);
    Tensor dq = upload(wq, DType::F32), dk = upload(wk, DType::F32), dcs = upload(cs, DType::F32);
    cuda::qk_norm_rope(fused.data(), stride, dq.data_as<float>(), dk.data_as<float>(), dcs.data_as<float>(), c.rows,
                       c.heads, c.hd, 1e-6f);
    auto* p = static_cast<uint16_t*>(sep.data());
    cuda::rms_norm(p, stride, dq.data_as<float>(), p, stride, c.rows, dim, 1e-6f);
    cuda::rms_norm(p + dim, stride, dk.data_as<float>(), p + dim, stride, c.rows, dim, 1e-6f);
    cuda::rope_interleaved(p, dcs.data_as<float>(), c.rows, c.heads, c.hd, stride);
    cuda::rope_interleaved(p + dim, dcs.data_as<float>(), c.rows, c.heads, c.hd, stride);
    auto got = download_bf16(fused), ref = download_bf16(sep);
    int64_t changed = 0;
    for (int64_t r = 0; r < c.rows; ++r)
      for (int64_t i = 0; i < stride; ++i) {
        const size_t k = r * stride + i;
        if (i >= 2 * dim) {
          ASSERT_EQ(got[k], x[k]) << "v must be untouched";
          continue;
        }
        ASSERT_NEAR(got[k], ref[k], 1e-2 * (1 + std::fabs(ref[k]))) << c.hd << ": " << r << "," << i;
        changed += got[k] != x[k];
      }
    EXPECT_GT(changed, c.rows * dim);  // q and k were rewritten
  }
}

// The fused residual + LayerNorm equals gated_residual_add then layer_norm_modulate (x and the output).
TEST(CudaOps, AddLayerNormModulateMatchesTwoKernels) {
  if (!gpu()) GTEST_SKIP() << "no CUDA device";
  for (const int64_t dim : {1536, 5120, 1540}) {  // vector paths (VPT 2 at 5120 -> 640 threads); scalar fallback
    const int64_t rows = 21;
    auto x = randn(rows * dim, 31, 2.0f), g = randn(dim, 32), sh = randn(dim, 33), sc = randn(dim, 34, 0.3f);
    auto y = round_bf16(randn(rows * dim, 35));
    auto w = randn(dim, 36), b = randn(dim, 37);
    for (bool gated : {false, true}) {
      Tensor x1 = upload(x, DType::F32), x2 = upload(x, DType::F32), dy = upload(to_bf16(y), DType::BF16);
      Tensor dg = upload(g, DType::F32), dsh = upload(sh, DType::F32), dsc = upload(sc, DType::F32);
      Tensor dw = upload(w, DType::F32), db = upload(b, DType::F32);
      Tensor o1 = Tensor::empty(DType::BF16, Shape{rows * dim}, Device::CUDA), o2 = Tensor::empty(DType::BF16, Shape{rows * dim}, Device::CUDA);
      const float* gp = gated ? dg.data_as<float>() : nullptr;
      // gated: modulation only; ungated: affine only (the two uses in the DiT block).
      const float* wp = gated ? nullptr : dw.data_as<float>();
      const float* bp = gated ? nullptr : db.data_as<float>();
      const float* shp = gated ? dsh.data_as<float>() : nullptr;
      const float* scp = gated ? dsc.data_as<float>() : nullptr;
      cuda::add_layer_norm_modulate(x1.data_as<float>(), dy.data(), gp, wp, bp, shp, scp, o1.data(), rows, dim, 1e-6f);
      cuda::gated_residual_add(x2.data_as<float>(), dy.data(), gp, rows, dim);
      cuda::layer_norm_modulate(x2.data_as<float>(), wp, bp, shp, scp, o2.data(), rows, dim, 1e-6f);
      const auto xa = download_f32(x1), xb = download_f32(x2);
      for (size_t i = 0; i < xa.size(); ++i) ASSERT_FLOAT_EQ(xa[i], xb[i]) << dim << " x[" << i << "]";
      const auto oa = download_bf16(o1), ob = download_bf16(o2);
      for (size_t i = 0; i < oa.size(); ++i) ASSERT_NEAR(oa[i], ob[i], 1e-2 * (1 + std::fabs(ob[i]))) << dim << " y[" << i << "]";
    }
  }
}

TEST(CudaOps, RmsNormVectorPathMatchesReference) {
  if (!gpu()) GTEST_SKIP() << "no CUDA device";
  const int64_t rows = 9, dim = 1536, stride = 2 * dim;  // strided rows, as the cross-attention k slice
  auto x = round_bf16(randn(rows * stride, 41, 3.0f));
  auto w = randn(dim, 42);
  Tensor dx = upload(to_bf16(x), DType::BF16), dw = upload(w, DType::F32);
  cuda::rms_norm(dx.data(), stride, dw.data_as<float>(), dx.data(), stride, rows, dim, 1e-6f);
  auto got = download_bf16(dx);
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (int64_t i = 0; i < dim; ++i) ss += double(x[r * stride + i]) * x[r * stride + i];
    const double inv = 1.0 / std::sqrt(ss / dim + 1e-6);
    for (int64_t i = 0; i < stride; ++i) {
      const double ref = i < dim ? x[r * stride + i] * inv * w[i] : x[r * stride + i];
      ASSERT_NEAR(got[r * stride + i], ref, 1e-2 * (1 + std::fabs(ref))) << r << "," << i;
    }
  }
}

TEST(CudaOps, GatedResidualAdd) {
  if (!gpu()) GTEST_SKIP() << "no CUDA device";
  for (const int64_t dim : {200, 202}) {  // the 8-wide path and the scalar one
  const int64_t rows = 33;
  auto x = randn(rows * dim, 11), y = round_bf16(randn(rows * dim, 12)), g = randn(dim, 13);
  Tensor dx = upload(x, DType::F32), dy = upload(to_bf16(y), DType::BF16), dg = upload(g, DType::F32);
  cuda::gated_residual_add(dx.data_as<float>(), dy.data(), dg.data_as<float>(), rows, dim);
  auto got = download_f32(dx);
  for (int64_t i = 0; i < rows * dim; ++i) ASSERT_NEAR(got[i], x[i] + y[i] * g[i % dim], 1e-5) << dim;
  }
}

// HunyuanVideo-I2V's token_replace: rows flagged in a RowModulation read their shift, scale and
// gate `offset` floats further on; unflagged rows and rows past the mask the first set. Each
// kernel equals itself run row by row on the pointers picked on the host, bit for bit.
TEST(CudaOps, I2vRowModulationPicksTheSecondVectorsPerRow) {
  if (!gpu()) GTEST_SKIP() << "no CUDA device";
  for (const int64_t dim : {200, 202}) {  // the vector paths and the scalar ones
    const int64_t rows = 21, masked = 15, off = 4 * dim;  // rows 15.. lie past the mask: the first set
    auto x = randn(rows * dim, 51, 2.0f), y = round_bf16(randn(rows * dim, 52)), mods = randn(2 * off, 53, 0.5f);
    std::vector<uint8_t> mask(static_cast<size_t>(masked));
    for (int64_t r = 0; r < masked; ++r) mask[r] = (r * 7) % 3 == 0;
    Tensor dmods = upload(mods, DType::F32), dmask = upload(mask, DType::U8), dy = upload(to_bf16(y), DType::BF16);
    const float* m = dmods.data_as<float>();
    const float *shift = m, *scale = m + dim, *gate = m + 2 * dim;
    const cuda::RowModulation alt{dmask.data_as<uint8_t>(), masked, off};
    auto pick = [&](const float* p, int64_t r) { return r < masked && mask[r] ? p + off : p; };
    Tensor x1 = upload(x, DType::F32), x2 = upload(x, DType::F32);
    Tensor o1 = Tensor::empty(DType::BF16, Shape{rows * dim}, Device::CUDA), o2 = Tensor::empty(DType::BF16, Shape{rows * dim}, Device::CUDA);
    // LayerNorm + modulation.
    cuda::layer_norm_modulate(x1.data_as<float>(), nullptr, nullptr, shift, scale, o1.data(), rows, dim, 1e-6f, nullptr, alt);
    for (int64_t r = 0; r < rows; ++r)
      cuda::layer_norm_modulate(x2.data_as<float>() + r * dim, nullptr, nullptr, pick(shift, r), pick(scale, r),
                                static_cast<uint16_t*>(o2.data()) + r * dim, 1, dim, 1e-6f);
    EXPECT_EQ(download_bf16(o1), download_bf16(o2)) << dim << " layer_norm_modulate";
    // The gated residual.
    cuda::gated_residual_add(x1.data_as<float>(), dy.data(), gate, rows, dim, nullptr, alt);
    for (int64_t r = 0; r < rows; ++r)
      cuda::gated_residual_add(x2.data_as<float>() + r * dim, static_cast<const uint16_t*>(dy.data()) + r * dim,
                               pick(gate, r), 1, dim);
    EXPECT_EQ(download_f32(x1), download_f32(x2)) << dim << " gated_residual_add";
    // Both fused.
    cuda::add_layer_norm_modulate(x1.data_as<float>(), dy.data(), gate, nullptr, nullptr, shift, scale, o1.data(), rows,
                                  dim, 1e-6f, nullptr, alt);
    for (int64_t r = 0; r < rows; ++r)
      cuda::add_layer_norm_modulate(x2.data_as<float>() + r * dim, static_cast<const uint16_t*>(dy.data()) + r * dim,
                                    pick(gate, r), nullptr, nullptr, pick(shift, r), pick(scale, r),
                                    static_cast<uint16_t*>(o2.data()) + r * dim, 1, dim, 1e-6f);
    EXPECT_EQ(download_f32(x1), download_f32(x2)) << dim << " add_layer_norm_modulate x";
    EXPECT_EQ(download_bf16(o1), download_bf16(o2)) << dim << " add_layer_norm_modulate y";
    // Some rows really read the second set.
    cuda::layer_norm_modulate(x1.data_as<float>(), nullptr, nullptr, shift, scale, o2.data(), rows, dim, 1e-6f);
    EXPECT_NE(download_bf16(o1), download_bf16(o2)) << dim;
  }
}

TEST(CudaOps, PatchifyAndUnpatchifyWithOrder) {
  if (!gpu()) GTEST_SKIP() << "no CUDA device";
  const int64_t C = 3, F = 2, H = 3, W = 5;  // token grid
  const int pt = 1, ph = 2, pw = 2, P = pt * ph * pw;
  const int64_t L = F * H * W;
  auto x = randn(C * F * pt * H * ph * W * pw, 14);
  std::vector<int64_t> order(L);
  for (int64_t i = 0; i < L; ++i) order[i] = (i * 7) % L;  // 7 is coprime with 30: a permutation
  Tensor dx = upload(x, DType::F32), dord = upload(order, DType::I64);
  Tensor dp = Tensor::empty(DType::BF16, Shape{L * C * P}, Device::CUDA);
  cuda::patchify(dx.data_as<float>(), dp.data(), dord.data_as<int64_t>(), C, F, H, W, pt, ph, pw);
  auto patches = download_bf16(dp);
  auto lat = [&](int64_t c, int64_t r, int a, int b, int d) {
    const int64_t f = r / (H * W), h = (r / W) % H, w = r % W;
    return ((c * F * pt + f * pt + a) * H * ph + h * ph + b) * W * pw + w * pw + d;
  };
  for (int64_t i = 0; i < L; ++i)
    for (int64_t c = 0; c < C; ++c)
      for (int b = 0; b < ph; ++b)
        for (int d = 0; d < pw; ++d)
          ASSERT_EQ(patches[i * C * P + c * P + b * pw + d], bf16_to_f32(f32_to_bf16(x[lat(c, order[i], 0, b, d)])));
  // Head rows are ordered (i, j, k, c); scatter them back through the same order.
  auto tok = round_bf16(randn(L * P * C, 15));
  Tensor dt = upload(to_bf16(tok), DType::BF16);
  Tensor dout = Tensor::empty(DType::F32, Shape{static_cast<int64_t>(x.size())}, Device::CUDA);
  cuda::unpatchify(dt.data(), dout.data_as<float>(), dord.data_as<int64_t>(), C, F, H, W, pt, ph, pw);
  auto out = download_f32(dout);
  for (int64_t i = 0; i < L; ++i)
    for (int64_t c = 0; c < C; ++c)
      for (int b = 0; b < ph; ++b)
        for (int d = 0; d < pw; ++d) ASSERT_EQ(out[lat(c, order[i], 0, b, d)], tok[i * P * C + (b * pw + d) * C + c]);
}

TEST(CudaOps, TimestepVectorOpsAndRandomFill) {
  if (!gpu()) GTEST_SKIP() << "no CUDA device";
  const float t = 937.0f;
  Tensor dt = upload(std::vector<float>{t}, DType::F32);
  Tensor demb = Tensor::empty(DType::F32, Shape{256}, Device::CUDA);
  cuda::sinusoidal_embedding(dt.data_as<float>(), demb.data_as<float>(), 256);
  auto emb = download_f32(demb);
  for (int k = 0; k < 128; ++k) {
    const double a = t * std::pow(10000.0, -k / 128.0);
    ASSERT_NEAR(emb[k], std::cos(a), 1e-5);
    ASSERT_NEAR(emb[128 + k], std::sin(a), 1e-5);
  }
  const int64_t n = 70, k = 256;
  auto w = randn(n * k, 16, 0.1f), b = randn(n, 17);
  Tensor dw = upload(w, DType::F32), db = upload(b, DType::F32);
  Tensor dy = Tensor::empty(DType::F32, Shape{n}, Device::CUDA);
  cuda::linear_vec_f32(demb.data_as<float>(), dw.data_as<float>(), db.data_as<float>(), dy.data_as<float>(), n, k, true);
  auto y = download_f32(dy);
  for (int64_t r = 0; r < n; ++r) {
    double s = b[r];
    for (int64_t i = 0; i < k; ++i) s += w[r * k + i] * (emb[i] / (1.0 + std::exp(-emb[i])));
    ASSERT_NEAR(y[r], s, 1e-4);
  }
  // Device Philox normals equal the host stream (same counters), up to libm rounding.
  std::vector<float> host(1001);
  fill_normal(host, 99, 12345);
  Tensor dr = Tensor::empty(DType::F32, Shape{1001}, Device::CUDA);
  cuda::fill_normal_f32(dr.data_as<float>(), 1001, 99, 12345, 2.0f, 1.0f);
  auto dev = download_f32(dr);
  for (size_t i = 0; i < host.size(); ++i) ASSERT_NEAR(dev[i], 1.0f + 2.0f * host[i], 1e-4) << i;
}
