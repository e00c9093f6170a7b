#include "backend/cpu/ops_t5vae.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backend/cpu/gemm.h"
#include "core/error.h"
#include "core/interrupt.h"

namespace jenga::cpu {

namespace {
// Below this many elements a loop runs on one thread (thread start-up costs more).
constexpr int64_t kParallelMin = int64_t{1} << 18;
}  // namespace

void vae_rms_norm(const float* x, int64_t n, int64_t c, const float* gamma, bool silu, float* out) {
  const float scale = std::sqrt(static_cast<float>(c));
#pragma omp parallel for schedule(static) if (n * c > kParallelMin)
  for (int64_t p = 0; p < n; ++p) {
    const float* xi = x + p * c;
    float* yo = out + p * c;
    double ss = 0;
    for (int64_t i = 0; i < c; ++i) ss += static_cast<double>(xi[i]) * xi[i];
    const float inv = scale / std::max(static_cast<float>(std::sqrt(ss)), 1e-12f);
    for (int64_t i = 0; i < c; ++i) {
      const float y = xi[i] * inv * gamma[i];
      yo[i] = silu ? y / (1.0f + std::exp(-y)) : y;
    }
  }
}

void group_norm(const float* x, int64_t n, int64_t c, int64_t groups, const float* weight, const float* bias,
                float eps, bool silu, float* out) {
  JENGA_ASSERT(groups > 0 && c % groups == 0);
  const int64_t cg = c / groups;
  std::vector<double> sum(static_cast<size_t>(groups), 0.0), sq(static_cast<size_t>(groups), 0.0);
#pragma omp parallel if (n * c > kParallelMin)
  {
    std::vector<double> ls(static_cast<size_t>(groups), 0.0), lq(static_cast<size_t>(groups), 0.0);
#pragma omp for schedule(static) nowait
    for (int64_t p = 0; p < n; ++p) {
      const float* xi = x + p * c;
      for (int64_t g = 0; g < groups; ++g)
        for (int64_t i = g * cg; i < (g + 1) * cg; ++i) {
          ls[g] += xi[i];
          lq[g] += static_cast<double>(xi[i]) * xi[i];
        }
    }
#pragma omp critical
    for (int64_t g = 0; g < groups; ++g) sum[g] += ls[g], sq[g] += lq[g];
  }
  std::vector<float> scale(static_cast<size_t>(c)), shift(static_cast<size_t>(c));
  const double count = static_cast<double>(n) * cg;
  for (int64_t g = 0; g < groups; ++g) {
    const double mean = sum[g] / count, var = std::max(0.0, sq[g] / count - mean * mean);
    const double inv = 1.0 / std::sqrt(var + eps);
    for (int64_t i = g * cg; i < (g + 1) * cg; ++i) {
      scale[i] = static_cast<float>(inv * weight[i]);
      shift[i] = static_cast<float>(bias[i] - mean * inv * weight[i]);
    }
  }
#pragma omp parallel for schedule(static) if (n * c > kParallelMin)
  for (int64_t p = 0; p < n; ++p) {
    const float* xi = x + p * c;
    float* yo = out + p * c;
    for (int64_t i = 0; i < c; ++i) {
      const float y = xi[i] * scale[i] + shift[i];
      yo[i] = silu ? y / (1.0f + std::exp(-y)) : y;
    }
  }
}

void t5_rms_norm(const float* x, int64_t n, int64_t c, const float* weight, float eps, float* out) {
#pragma omp parallel for schedule(static) if (n * c > kParallelMin)
  for (int64_t p = 0; p < n; ++p) {
    const float* xi = x + p * c;
    float* yo = out + p * c;
    double ss = 0;
    for (int64_t i = 0; i < c; ++i) ss += static_cast<double>(xi[i]) * xi[i];
    const float inv = 1.0f / std::sqrt(static_cast<float>(ss / c) + eps);
    for (int64_t i = 0; i < c; ++i) yo[i] = weight[i] * (xi[i] * inv);
  }
}

void gelu_tanh_inplace(float* x, int64_t n) {
  const float k = std::sqrt(2.0f / static_cast<float>(M_PI));
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    x[i] = 0.5f * v * (1.0f + std::tanh(k * (v + 0.044715f * v * v * v)));
  }
}

void attention_gemm(const float* q, int64_t ldq, const float* k, int64_t ldk, const float* v, int64_t ldv,
                    float* out, int64_t ldo, int64_t lq, int64_t lk, int64_t d, float scale,
                    const float* bias, const uint8_t* key_mask) {
  if (lq == 0) return;
  const int64_t tile = std::max<int64_t>(1, std::min<int64_t>(lq, (int64_t{4} << 20) / std::max<int64_t>(lk, 1)));
  std::vector<float> s(static_cast<size_t>(tile * lk));
  std::vector<float> o(static_cast<size_t>(tile * d));
  for (int64_t i0 = 0; i0 < lq; i0 += tile) {
    // Ctrl-C: stop within a tile; the result is dropped (the caller's next check_interrupt throws).
    if (interrupted()) return;
    const int64_t m = std::min(tile, lq - i0);
    gemm(false, true, m, lk, d, scale, q + i0 * ldq, ldq, k, ldk, 0.0f, s.data(), lk);
#pragma omp parallel for schedule(static) if (m * lk > kParallelMin)
    for (int64_t i = 0; i < m; ++i) {
      float* row = s.data() + i * lk;
      if (bias)
        for (int64_t j = 0; j < lk; ++j) row[j] += bias[(i0 + i) * lk + j];
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < lk; ++j)
        if (!key_mask || key_mask[j]) mx = std::max(mx, row[j]);
      if (mx == -std::numeric_limits<float>::infinity()) {  // every key masked
        for (int64_t j = 0; j < lk; ++j) row[j] = 1.0f / static_cast<float>(lk);
        continue;
      }
      double sum = 0;
      for (int64_t j = 0; j < lk; ++j) {
        const float e = (!key_mask || key_mask[j]) ? std::exp(row[j] - mx) : 0.0f;
        row[j] = e;
        sum += e;
      }
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t j = 0; j < lk; ++j) row[j] *= inv;
    }
    gemm(false, false, m, d, lk, 1.0f, s.data(), lk, v, ldv, 0.0f, o.data(), d);
    for (int64_t i = 0; i < m; ++i)
      std::copy(o.begin() + i * d, o.begin() + (i + 1) * d, out + (i0 + i) * ldo);
  }
}

}  // namespace jenga::cpu
