// gemm_attention (the text encoders' causal attention through strided-batched cuBLASLt GEMMs and
// one masked softmax) against a double-precision CPU reference: grouped-query heads read from
// one fused q|k|v row layout, padded keys, a row with no visible key (uniform 1/len, as torch's
// dtype-min mask gives), fp16 operands and the f32 mode. GPU only: skips without a device.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/device_upload.h"
#include "backend/cuda/gemm_attention.h"
#include "core/dtype.h"
#include "core/tensor.h"

namespace cu = jenga::cuda;
using jenga::DType;

namespace {

struct Case {
  int64_t L = 37, H = 4, KV = 2, hd = 16;  // odd length: no row or head offset is 256-byte aligned
  bool causal = true;                      // false: every key (the vision tower)
};

// out[i, h*hd + d] over q|k|v rows [L, (H + 2 KV) hd] (f32 values, already rounded as the GPU sees them).
std::vector<double> reference(const Case& c, const std::vector<float>& qkv, const std::vector<uint8_t>& mask) {
  const int64_t ld = (c.H + 2 * c.KV) * c.hd, G = c.H / c.KV;
  const double scale = 1.0 / std::sqrt(static_cast<double>(c.hd));
  std::vector<double> out(static_cast<size_t>(c.L * c.H * c.hd), 0.0);
  for (int64_t h = 0; h < c.H; ++h)
    for (int64_t i = 0; i < c.L; ++i) {
      const float* q = &qkv[i * ld + h * c.hd];
      std::vector<double> p(static_cast<size_t>(c.L), 0.0);
      double mx = -INFINITY, sum = 0;
      const int64_t last = c.causal ? i : c.L - 1;
      for (int64_t j = 0; j <= last; ++j) {
        if (!mask[j]) continue;
        const float* k = &qkv[j * ld + (c.H + h / G) * c.hd];
        double s = 0;
        for (int64_t d = 0; d < c.hd; ++d) s += static_cast<double>(q[d]) * k[d];
        p[j] = s * scale;
        mx = std::max(mx, p[j]);
      }
      for (int64_t j = 0; j < c.L; ++j) {
        if (mx == -INFINITY) {
          p[j] = 1.0 / static_cast<double>(c.L);
        } else {
          p[j] = (j <= last && mask[j]) ? std::exp(p[j] - mx) : 0.0;
          sum += p[j];
        }
      }
      for (int64_t j = 0; j < c.L; ++j) {
        const double w = mx == -INFINITY ? p[j] : p[j] / sum;
        const float* v = &qkv[j * ld + (c.H + c.KV + h / G) * c.hd];
        for (int64_t d = 0; d < c.hd; ++d) out[i * c.H * c.hd + h * c.hd + d] += w * v[d];
      }
    }
  return out;
}

// max |got - want| / max |want|.
double run_case(bool f16, bool causal = true) {
  Case c;
  c.causal = causal;
  const int64_t ld = (c.H + 2 * c.KV) * c.hd;
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> qkv(static_cast<size_t>(c.L * ld));
  for (auto& x : qkv) x = 2.0f * nd(rng);
  if (f16)
    for (auto& x : qkv) x = jenga::f16_to_f32(jenga::f32_to_f16(x));
  std::vector<uint8_t> mask(static_cast<size_t>(c.L), 1);
  mask[0] = 0;            // row 0 sees no key
  mask[5] = 0;            // a hole
  for (int64_t j = c.L - 6; j < c.L; ++j) mask[j] = 0;  // right padding
  const DType t = f16 ? DType::F16 : DType::F32;
  const jenga::Tensor dq = cu::upload(qkv.data(), static_cast<int64_t>(qkv.size()), t);
  jenga::Tensor dmask = cu::device_empty(DType::U8, c.L);
  cu::copy_to_device(dmask.data(), mask.data(), mask.size());
  jenga::Tensor out = cu::device_empty(t, c.L * c.H * c.hd),
                s = cu::device_empty(DType::F32, cu::gemm_attention_scratch(c.H, c.L)),
                p = cu::device_empty(DType::F16, cu::gemm_attention_scratch(c.H, c.L));
  const size_t esz = f16 ? 2 : 4;
  cu::GemmAttentionArgs a;
  a.q = dq.data();
  a.k = static_cast<const char*>(dq.data()) + c.H * c.hd * esz;
  a.v = static_cast<const char*>(dq.data()) + (c.H + c.KV) * c.hd * esz;
  a.q_ld = a.k_ld = a.v_ld = ld;
  a.out = out.data(), a.out_ld = c.H * c.hd;
  a.len = c.L, a.heads = c.H, a.kv_heads = c.KV, a.head_dim = c.hd;
  a.scale = 1.0f / std::sqrt(static_cast<float>(c.hd));
  a.key_mask = dmask.data_as<uint8_t>();
  a.f16 = f16;
  a.causal = c.causal;
  a.scores = s.data_as<float>();
  a.probs = p.data();
  cu::MatmulRunner gemm;
  cu::gemm_attention(gemm, a);
  cu::synchronize();
  std::vector<float> got(static_cast<size_t>(out.numel()));
  if (f16) {
    std::vector<uint16_t> h(got.size());
    cu::copy_to_host(h.data(), out.data(), h.size() * 2);
    for (size_t i = 0; i < h.size(); ++i) got[i] = jenga::f16_to_f32(h[i]);
  } else {
    cu::copy_to_host(got.data(), out.data(), got.size() * 4);
  }
  const auto want = reference(c, qkv, mask);
  double diff = 0, ref = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    diff = std::max(diff, std::abs(got[i] - want[i]));
    ref = std::max(ref, std::abs(want[i]));
  }
  return diff / ref;
}

}  // namespace

TEST(CudaGemmAttention, F32MatchesTheReference) {
  if (!cu::available()) GTEST_SKIP() << "no CUDA device";
  EXPECT_LE(run_case(false), 1e-5);
}

// fp16 probabilities and output: a few units of 2^-11 of the largest output.
TEST(CudaGemmAttention, Fp16MatchesTheReference) {
  if (!cu::available()) GTEST_SKIP() << "no CUDA device";
  EXPECT_LE(run_case(true), 3e-3);
}

// Without the causal limit (CLIP's vision tower): every unmasked key, both precisions.
TEST(CudaGemmAttention, BidirectionalMatchesTheReference) {
  if (!cu::available()) GTEST_SKIP() << "no CUDA device";
  EXPECT_LE(run_case(false, false), 1e-5);
  EXPECT_LE(run_case(true, false), 3e-3);
}
