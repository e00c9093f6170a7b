// The implicit-GEMM 3x3x3 causal conv (causal_pad + conv3x3x3_igemm) against the same conv as
// im2col_replicate rows x kernel through cuBLASLt, on the GPU with the same fp16 inputs: shapes
// with upsampled reads, a GroupNorm-style pre-activation, N not a multiple of the 128-wide block,
// f32 and fp16 results, accumulation, several frame chunks, and the per-channel sums of the stored
// output the epilogue adds up (Conv3x3x3Params::stats). Every case runs through both kernels:
// the fastest for the GPU (on Hopper the TMA + wgmma one for cin % 64 == 0, with N tiles of 32,
// 128 and 256) and the mma.sync one. GPU only: skipped without a device.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "backend/cuda/conv3d_igemm.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/im2col.h"
#include "backend/cuda/matmul.h"
#include "core/dtype.h"
#include "core/tensor.h"

using namespace jenga;

namespace {

struct Case {
  int64_t ts, hs, ws;  // stored clip
  int up_t, up_s;
  int64_t cin, cout;
  bool pre, f32_out, accumulate;
  int64_t chunk;  // output frames per igemm call
  bool flat = false;  // every pixel the same per channel, output mean ~4: the stats' worst cancellation
};

Tensor dev(const void* host, size_t bytes) {
  Tensor d = Tensor::empty(DType::U8, Shape{static_cast<int64_t>(bytes) + 256}, Device::CUDA);
  cuda::copy_to_device(d.data(), host, bytes);
  return d;
}

std::vector<uint16_t> halves(const std::vector<float>& v) {
  std::vector<uint16_t> h(v.size());
  convert(v.data(), DType::F32, h.data(), DType::F16, v.size());
  return h;
}

double rel_l2(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]), den += double(b[i]) * b[i];
  return std::sqrt(num / den);
}

void check_igemm(const Case& k, cuda::Conv3x3x3Path path, bool with_stats, const Tensor& x, const Tensor& wt,
                 const Tensor& b, const Tensor& sc, const Tensor& sh, const std::vector<float>& y0,
                 const std::vector<float>& want);

void run_case(const Case& k) {
  std::mt19937 rng(static_cast<unsigned>(k.cin * 131 + k.cout));
  std::normal_distribution<float> nd(0.f, 1.f);
  auto randv = [&](size_t n, float s) {
    std::vector<float> v(n);
    for (auto& x : v) x = nd(rng) * s;
    return v;
  };
  const int64_t t = 1 + k.up_t * (k.ts - 1), h = k.hs * k.up_s, w = k.ws * k.up_s, K = 27 * k.cin;
  auto xf = randv(static_cast<size_t>(k.ts * k.hs * k.ws * k.cin), 1.f);
  if (k.flat)
    for (size_t i = static_cast<size_t>(k.cin); i < xf.size(); ++i) xf[i] = xf[i % static_cast<size_t>(k.cin)];
  const auto xh = halves(xf);
  const auto wh = halves(randv(static_cast<size_t>(k.cout * K), 1.f / std::sqrt(float(K))));
  auto bias = randv(static_cast<size_t>(k.cout), 0.1f);
  if (k.flat)
    for (auto& v : bias) v += 4.0f;
  const auto scale = randv(static_cast<size_t>(k.cin), 0.5f), shift = randv(static_cast<size_t>(k.cin), 0.2f);
  const auto y0 = randv(static_cast<size_t>(t * h * w * k.cout), 1.f);
  const Tensor x = dev(xh.data(), xh.size() * 2), wt = dev(wh.data(), wh.size() * 2);
  const Tensor b = dev(bias.data(), bias.size() * 4), sc = dev(scale.data(), scale.size() * 4),
               sh = dev(shift.data(), shift.size() * 4);
  const int64_t rows = t * h * w;

  // Reference: im2col rows x kernel, f32 result with the f32 bias (+ y0).
  Tensor col = Tensor::empty(DType::U8, Shape{rows * K * 2}, Device::CUDA);
  cuda::Im2colReplicateParams ip;
  ip.x = x.data(), ip.t = t, ip.h = h, ip.w = w, ip.cin = k.cin, ip.up_t = k.up_t, ip.up_s = k.up_s;
  if (k.pre) ip.scale = sc.data_as<float>(), ip.shift = sh.data_as<float>(), ip.silu = true;
  ip.kt = ip.kh = ip.kw = 3, ip.ho = h, ip.wo = w, ip.row0 = 0, ip.rows = rows, ip.out = col.data(), ip.ldk = K;
  cuda::im2col_replicate(ip);
  Tensor ref = dev(y0.data(), y0.size() * 4);
  cuda::MatmulRunner mm;
  cuda::MatmulArgs a;
  a.m = rows, a.n = k.cout, a.k = K, a.a = col.data(), a.lda = K, a.b = wt.data(), a.ldb = K, a.b_nk = true;
  a.d = ref.data(), a.ldd = k.cout, a.bias = b.data_as<float>(), a.ab_f16 = true, a.accumulate = k.accumulate;
  mm.run(a);
  std::vector<float> want(static_cast<size_t>(rows * k.cout));
  cuda::copy_to_host(want.data(), ref.data(), want.size() * 4);

  for (const auto path : {cuda::Conv3x3x3Path::kFastest, cuda::Conv3x3x3Path::kMma})
    for (const bool with_stats : {true, false}) {
      SCOPED_TRACE(std::string(path == cuda::Conv3x3x3Path::kMma ? "mma.sync kernel" : "fastest kernel") +
                   (with_stats ? ", with stats" : ", no stats"));
      check_igemm(k, path, with_stats, x, wt, b, sc, sh, y0, want);
    }
}

// The implicit GEMM on the same inputs, chunk by chunk, against `want`.
void check_igemm(const Case& k, cuda::Conv3x3x3Path path, bool with_stats, const Tensor& x, const Tensor& wt,
                 const Tensor& b, const Tensor& sc, const Tensor& sh, const std::vector<float>& y0,
                 const std::vector<float>& want) {
  const int64_t t = 1 + k.up_t * (k.ts - 1), h = k.hs * k.up_s, w = k.ws * k.up_s, K = 27 * k.cin;
  Tensor y = k.f32_out ? dev(y0.data(), y0.size() * 4) : dev(halves(y0).data(), y0.size() * 2);
  const int64_t frame = (h + 2) * (w + 2);
  // The per-channel sums the epilogue adds up (the next GroupNorm's statistics), over all chunks.
  Tensor stats = Tensor::empty(DType::U8, Shape{k.cout * 16}, Device::CUDA);
  cuda::conv3x3x3_stats_clear(stats.data_as<double>(), k.cout);
  Tensor pad = Tensor::empty(DType::U8, Shape{((k.chunk + 2) * frame + cuda::conv3x3x3_slack_rows(w)) * k.cin * 2},
                             Device::CUDA);
  for (int64_t j0 = 0; j0 < t; j0 += k.chunk) {
    const int64_t n = std::min(k.chunk, t - j0);
    cuda::CausalPadParams pp;
    pp.x = x.data(), pp.t = t, pp.h = h, pp.w = w, pp.cin = k.cin, pp.up_t = k.up_t, pp.up_s = k.up_s;
    if (k.pre) pp.scale = sc.data_as<float>(), pp.shift = sh.data_as<float>(), pp.silu = true;
    pp.j0 = j0, pp.tp = n + 2, pp.out = pad.data();
    cuda::causal_pad(pp);
    cuda::Conv3x3x3Params cp;
    cp.p = pad.data(), cp.tout = n, cp.h = h, cp.w = w, cp.cin = k.cin, cp.weight = wt.data(), cp.cout = k.cout;
    cp.ldk = K, cp.bias = b.data_as<float>(), cp.y_f32 = k.f32_out, cp.accumulate = k.accumulate, cp.path = path;
    if (with_stats) cp.stats = stats.data_as<double>();
    const int64_t first = j0 * h * w * k.cout;
    cp.y = k.f32_out ? static_cast<void*>(y.data_as<float>() + first) : static_cast<void*>(y.data_as<uint16_t>() + first);
    cuda::conv3x3x3_igemm(cp);
  }
  std::vector<float> got(want.size());
  if (k.f32_out) {
    cuda::copy_to_host(got.data(), y.data(), got.size() * 4);
  } else {
    std::vector<uint16_t> g16(got.size());
    cuda::copy_to_host(g16.data(), y.data(), g16.size() * 2);
    convert(g16.data(), DType::F16, got.data(), DType::F32, got.size());
  }
  // Same fp16 operands, f32 accumulation on both sides: only the summation order differs (and
  // the fp16 rounding of the result, plus the fp16 y0 it adds, for fp16 results).
  const double err = rel_l2(got, want), tol = k.f32_out && !k.accumulate ? 1e-5 : 2e-3;
  EXPECT_LE(err, tol) << "cin " << k.cin << " cout " << k.cout << " up " << k.up_t << "/" << k.up_s;
  if (err > tol) {  // where it goes wrong first (frame, row, column, channel), to tell a layout bug
    int shown = 0;
    for (size_t i = 0; i < got.size() && shown < 4; ++i)
      if (std::fabs(got[i] - want[i]) > 0.05 * (std::fabs(want[i]) + 0.1)) {
        const int64_t c = static_cast<int64_t>(i) % k.cout, px = static_cast<int64_t>(i) / k.cout;
        ADD_FAILURE() << "first mismatches: t " << px / (h * w) << " y " << px / w % h << " x " << px % w << " ch " << c
                      << ": " << got[i] << " vs " << want[i];
        ++shown;
      }
  }

  if (!with_stats) return;
  // Stats: the sum and sum of squares of what was stored, per channel (f32 partial sums on the
  // device, so a relative bound on the sum of magnitudes).
  std::vector<double> sums(static_cast<size_t>(2 * k.cout));
  cuda::copy_to_host(sums.data(), stats.data(), sums.size() * 8);
  std::vector<double> ref(sums.size(), 0.0), mag(static_cast<size_t>(k.cout), 0.0);
  for (size_t i = 0; i < got.size(); ++i) {
    const size_t c = i % static_cast<size_t>(k.cout);
    ref[2 * c] += got[i], ref[2 * c + 1] += double(got[i]) * got[i], mag[c] += std::fabs(got[i]);
  }
  int bad = 0;
  for (int64_t c = 0; c < k.cout; ++c) {
    const double tol_s = 1e-5 * mag[c] + 1e-6, tol_q = 1e-5 * ref[2 * c + 1] + 1e-6;
    if (std::fabs(sums[2 * c] - ref[2 * c]) > tol_s || std::fabs(sums[2 * c + 1] - ref[2 * c + 1]) > tol_q) {
      if (bad++ < 3)
        ADD_FAILURE() << "stats of channel " << c << ": sum " << sums[2 * c] << " vs " << ref[2 * c] << ", sq "
                      << sums[2 * c + 1] << " vs " << ref[2 * c + 1] << " (cin " << k.cin << " cout " << k.cout << ")";
    }
  }
  EXPECT_EQ(bad, 0);
  // The GroupNorm variance E[x^2] - E[x]^2 from these sums (group_coeffs_kernel, in double) must not
  // cancel: within 5e-5 E[x^2] of the host's, also where the output is flat with a large mean (var ~ 0).
  const double n = static_cast<double>(got.size() / static_cast<size_t>(k.cout));
  for (int64_t c = 0; c < k.cout; ++c) {
    const double ms = ref[2 * c + 1] / n, var_ref = ms - (ref[2 * c] / n) * (ref[2 * c] / n);
    const double var_dev = sums[2 * c + 1] / n - (sums[2 * c] / n) * (sums[2 * c] / n);
    EXPECT_LE(std::fabs(var_dev - var_ref), 5e-5 * ms + 1e-9) << "variance of channel " << c << " (cin " << k.cin << ")";
  }
}

}  // namespace

TEST(CudaConv3dIgemm, MatchesIm2colGemm) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  cuda::init();
  run_case({5, 6, 10, 1, 1, 32, 64, false, true, false, 5});     // plain, one chunk (cin 32: mma.sync only)
  run_case({3, 4, 5, 2, 2, 64, 3, true, true, false, 2});        // upsampled read, narrow f32 out (conv_out)
  run_case({4, 7, 9, 1, 1, 128, 160, true, false, true, 3});     // fp16 out + residual, N past a block
  run_case({2, 16, 16, 1, 2, 256, 128, true, false, false, 1});  // wide K, a chunk per frame
}

// A spatially constant input (a solid-colour frame, 1x1 latents) through both kernels: the output
// is flat per channel with a mean near 4, where a sum of squares kept in f32 over many rows would
// cancel in the GroupNorm variance; ~15k rows over many tiles.
TEST(CudaConv3dIgemm, FlatInputKeepsTheVarianceExact) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  cuda::init();
  run_case({5, 48, 64, 1, 1, 64, 128, false, false, false, 5, true});  // fp16 out (as the VAE stores)
  run_case({3, 20, 24, 1, 1, 128, 64, false, true, false, 3, true});   // f32 out
}

// The VAE's own channel counts on the Hopper kernel's three tile widths, with rows that end
// mid-tile, and a clip of many more tiles than SMs (each persistent CTA walks several).
TEST(CudaConv3dIgemm, VaeShapesOnEveryTileWidth) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  cuda::init();
  if (cuda::device_info(cuda::current_device()).major == 9) {
    cuda::Conv3x3x3Params probe;
    probe.cin = 128;
    EXPECT_TRUE(cuda::conv3x3x3_uses_wgmma(probe)) << "an sm_90 GPU should take the wgmma kernel (built for 90a?)";
  }
  run_case({3, 9, 11, 1, 1, 128, 3, true, true, false, 3});       // conv_out: 128 -> 3, f32 (N tile 32)
  run_case({2, 5, 7, 2, 2, 256, 256, false, false, false, 3});    // upsample conv, N tile 256
  run_case({2, 6, 5, 1, 1, 512, 512, true, false, true, 2});      // 512 -> 512 + residual, 2 N tiles of 256
  run_case({3, 5, 6, 1, 1, 512, 256, true, false, false, 3});     // 512 -> 256 (up block 2's first conv)
  run_case({3, 8, 10, 1, 1, 256, 128, true, false, true, 2});     // 256 -> 128 + residual, N tile 128
  run_case({5, 48, 64, 1, 1, 64, 384, true, false, false, 5});    // ~390 tiles of 128 x 128 (persistent loop)
}
