#include "backend/cpu/ops.h"
#include "backend/cpu/ops_t5vae.h"

#include <algorithm>
#include <cmath>

#include "backend/cpu/gemm.h"

#include "core/error.h"

namespace jenga::cpu {

namespace {
// Below this many elements a parallel region costs more than it saves (and spinning OpenMP
// threads on a busy machine cost milliseconds per region).
constexpr int64_t kMinParallelWork = int64_t{1} << 16;
}  // namespace

void layer_norm(const float* x, float* y, int64_t rows, int64_t dim, const float* weight,
                const float* bias, float eps) {
#pragma omp parallel for schedule(static) if (rows * dim >= kMinParallelWork)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float* yr = y + r * dim;
    double sum = 0, sq = 0;  // double: no cancellation for large-mean rows
    for (int64_t i = 0; i < dim; ++i) sum += xr[i];
    const double mean = sum / static_cast<double>(dim);
    for (int64_t i = 0; i < dim; ++i) sq += (xr[i] - mean) * (xr[i] - mean);
    const float inv = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(dim) + eps));
    const float m = static_cast<float>(mean);
    for (int64_t i = 0; i < dim; ++i) {
      float v = (xr[i] - m) * inv;
      if (weight) v *= weight[i];
      if (bias) v += bias[i];
      yr[i] = v;
    }
  }
}

void rms_norm(const float* x, float* y, int64_t rows, int64_t dim, const float* weight, float eps) {
#pragma omp parallel for schedule(static) if (rows * dim >= kMinParallelWork)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float* yr = y + r * dim;
    double sq = 0;
    for (int64_t i = 0; i < dim; ++i) sq += static_cast<double>(xr[i]) * xr[i];
    const float inv = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(dim) + eps));
    for (int64_t i = 0; i < dim; ++i) yr[i] = weight ? (xr[i] * inv) * weight[i] : xr[i] * inv;
  }
}

void gelu_tanh(float* x, int64_t n) {
  const float k = 0.7978845608028654f;  // sqrt(2 / pi)
#pragma omp parallel for schedule(static) if (n >= kMinParallelWork)
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    x[i] = 0.5f * v * (1.0f + std::tanh(k * (v + 0.044715f * v * v * v)));
  }
}

void silu(float* x, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= kMinParallelWork)
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + std::exp(-x[i]));
}

void modulate(float* x, int64_t rows, int64_t dim, const float* shift, const float* scale) {
#pragma omp parallel for schedule(static) if (rows * dim >= kMinParallelWork)
  for (int64_t r = 0; r < rows; ++r) {
    float* xr = x + r * dim;
    for (int64_t i = 0; i < dim; ++i) xr[i] = xr[i] * (1.0f + scale[i]) + shift[i];
  }
}

void add_gated(float* x, const float* y, int64_t rows, int64_t dim, const float* gate) {
#pragma omp parallel for schedule(static) if (rows * dim >= kMinParallelWork)
  for (int64_t r = 0; r < rows; ++r) {
    float* xr = x + r * dim;
    const float* yr = y + r * dim;
    for (int64_t i = 0; i < dim; ++i) xr[i] += gate ? yr[i] * gate[i] : yr[i];
  }
}

void sinusoidal_embedding(double t, int64_t dim, float* out) {
  JENGA_ASSERT(dim % 2 == 0);
  const int64_t half = dim / 2;
  for (int64_t k = 0; k < half; ++k) {
    const double a = t * std::pow(10000.0, -static_cast<double>(k) / static_cast<double>(half));
    out[k] = static_cast<float>(std::cos(a));
    out[half + k] = static_cast<float>(std::sin(a));
  }
}

RopeTable rope_table_3d(int64_t head_dim, int64_t frames, int64_t height, int64_t width,
                        std::span<const int64_t> order, double theta) {
  JENGA_ASSERT(head_dim % 2 == 0 && frames > 0 && height > 0 && width > 0);
  const int64_t c = head_dim / 2;
  const int64_t parts[3] = {c - 2 * (c / 3), c / 3, c / 3};
  // Angle step per pair, per part, as the official tables: 1 / theta^(2j / (2 n)).
  std::vector<double> freq(static_cast<size_t>(c));
  std::vector<int> part_of(static_cast<size_t>(c));
  for (int64_t p = 0, j0 = 0; p < 3; j0 += parts[p], ++p)
    for (int64_t j = 0; j < parts[p]; ++j) {
      freq[j0 + j] = 1.0 / std::pow(theta, static_cast<double>(2 * j) / static_cast<double>(2 * parts[p]));
      part_of[j0 + j] = static_cast<int>(p);
    }
  const int64_t n = frames * height * width;
  if (!order.empty() && static_cast<int64_t>(order.size()) != n)
    fail("RoPE: token order has {} entries for {} tokens", order.size(), n);
  RopeTable r;
  r.tokens = n;
  r.pairs = c;
  r.cos.resize(static_cast<size_t>(n * c));
  r.sin.resize(static_cast<size_t>(n * c));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t raster = order.empty() ? i : order[i];
    if (raster < 0 || raster >= n) fail("RoPE: token order entry {} is outside [0, {})", raster, n);
    const int64_t pos[3] = {raster / (height * width), (raster / width) % height, raster % width};
    for (int64_t j = 0; j < c; ++j) {
      const double a = static_cast<double>(pos[part_of[j]]) * freq[j];
      r.cos[i * c + j] = std::cos(a);
      r.sin[i * c + j] = std::sin(a);
    }
  }
  return r;
}

void rope_apply(float* x, int64_t tokens, int64_t heads, int64_t head_dim, const RopeTable& rope) {
  JENGA_ASSERT(rope.tokens == tokens && rope.pairs * 2 == head_dim);
  const int64_t c = rope.pairs;
#pragma omp parallel for schedule(static) if (tokens * heads * head_dim >= kMinParallelWork)
  for (int64_t i = 0; i < tokens; ++i) {
    const double* cs = rope.cos.data() + i * c;
    const double* sn = rope.sin.data() + i * c;
    for (int64_t h = 0; h < heads; ++h) {
      float* v = x + (i * heads + h) * head_dim;
      for (int64_t j = 0; j < c; ++j) {
        const double re = v[2 * j], im = v[2 * j + 1];
        v[2 * j] = static_cast<float>(re * cs[j] - im * sn[j]);
        v[2 * j + 1] = static_cast<float>(re * sn[j] + im * cs[j]);
      }
    }
  }
}

void patchify(const float* x, float* patches, int64_t channels, int64_t frames, int64_t height,
              int64_t width, const int64_t patch[3]) {
  const int64_t pt = patch[0], ph = patch[1], pw = patch[2];
  const int64_t T = frames * pt, H = height * ph, W = width * pw;  // pixel (latent) extents
  const int64_t row = channels * pt * ph * pw;
#pragma omp parallel for schedule(static) if (frames * height * width * row >= kMinParallelWork)
  for (int64_t tok = 0; tok < frames * height * width; ++tok) {
    const int64_t f = tok / (height * width), h = (tok / width) % height, w = tok % width;
    float* dst = patches + tok * row;
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t i = 0; i < pt; ++i)
        for (int64_t j = 0; j < ph; ++j)
          for (int64_t k = 0; k < pw; ++k)
            *dst++ = x[((c * T + f * pt + i) * H + h * ph + j) * W + w * pw + k];
  }
}

void unpatchify(const float* tokens, float* out, int64_t channels, int64_t frames, int64_t height,
                int64_t width, const int64_t patch[3]) {
  const int64_t pt = patch[0], ph = patch[1], pw = patch[2];
  const int64_t T = frames * pt, H = height * ph, W = width * pw;
  const int64_t row = channels * pt * ph * pw;
#pragma omp parallel for schedule(static) if (frames * height * width * row >= kMinParallelWork)
  for (int64_t tok = 0; tok < frames * height * width; ++tok) {
    const int64_t f = tok / (height * width), h = (tok / width) % height, w = tok % width;
    const float* src = tokens + tok * row;
    for (int64_t i = 0; i < pt; ++i)
      for (int64_t j = 0; j < ph; ++j)
        for (int64_t k = 0; k < pw; ++k)
          for (int64_t c = 0; c < channels; ++c)
            out[((c * T + f * pt + i) * H + h * ph + j) * W + w * pw + k] = *src++;
  }
}

void attention_dense_gemm(const float* q, const float* k, const float* v, float* out, int64_t lq,
                          int64_t lk, int64_t heads, int64_t hd, float scale) {
  // One strided GEMM attention per head (the same routine the umT5 encoder uses).
  const int64_t ld = heads * hd;
  for (int64_t h = 0; h < heads; ++h)
    attention_gemm(q + h * hd, ld, k + h * hd, ld, v + h * hd, ld, out + h * hd, ld, lq, lk, hd, scale, nullptr,
                   nullptr);
}

void gather_rows(const float* src, float* dst, int64_t dim, std::span<const int64_t> index) {
  const int64_t n = static_cast<int64_t>(index.size());
#pragma omp parallel for schedule(static) if (n * dim >= kMinParallelWork)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t d = 0; d < dim; ++d) dst[i * dim + d] = src[index[i] * dim + d];
}

void scatter_rows(const float* src, float* dst, int64_t dim, std::span<const int64_t> index) {
  const int64_t n = static_cast<int64_t>(index.size());
#pragma omp parallel for schedule(static) if (n * dim >= kMinParallelWork)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t d = 0; d < dim; ++d) dst[index[i] * dim + d] = src[i * dim + d];
}

}  // namespace jenga::cpu
