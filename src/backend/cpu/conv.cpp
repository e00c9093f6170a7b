#include "backend/cpu/conv.h"

#include <algorithm>
#include <cstring>

#include "backend/cpu/gemm.h"
#include "core/error.h"

namespace jenga::cpu {

PackedConv pack_conv(std::span<const float> w, std::span<const float> bias, int64_t cout, int64_t cin,
                     int kt, int kh, int kw) {
  PackedConv p;
  p.cout = cout, p.cin = cin, p.kt = kt, p.kh = kh, p.kw = kw;
  const int64_t taps = static_cast<int64_t>(kt) * kh * kw;
  if (static_cast<int64_t>(w.size()) != cout * cin * taps)
    fail("conv weight has {} values, expected {}x{}x{}x{}x{}", w.size(), cout, cin, kt, kh, kw);
  if (!bias.empty() && static_cast<int64_t>(bias.size()) != cout)
    fail("conv bias has {} values, expected {}", bias.size(), cout);
  p.weight.resize(static_cast<size_t>(cout * taps * cin));
  for (int64_t o = 0; o < cout; ++o)
    for (int64_t i = 0; i < cin; ++i)
      for (int64_t t = 0; t < taps; ++t) p.weight[(o * taps + t) * cin + i] = w[(o * cin + i) * taps + t];
  p.bias.assign(static_cast<size_t>(cout), 0.0f);
  if (!bias.empty()) std::copy(bias.begin(), bias.end(), p.bias.begin());
  return p;
}

namespace {
// Column-buffer budget per GEMM tile, in floats (32 MiB).
constexpr int64_t kColBudget = int64_t{8} << 20;
// Below this many elements a loop runs on one thread (thread start-up costs more).
constexpr int64_t kParallelMin = int64_t{1} << 18;
}  // namespace

void conv_frame(const PackedConv& c, std::span<const float* const> frames, int64_t h, int64_t w, Pad2d pad,
                int stride, float* out, PadMode mode) {
  JENGA_ASSERT(static_cast<int>(frames.size()) == c.kt);
  const int64_t ho = conv_out_size(h, pad.top, pad.bottom, c.kh, stride);
  const int64_t wo = conv_out_size(w, pad.left, pad.right, c.kw, stride);
  if (ho <= 0 || wo <= 0) fail("convolution input {}x{} is smaller than its {}x{} kernel", h, w, c.kh, c.kw);
  const int64_t npix = ho * wo;
  for (int64_t p = 0; p < npix; ++p) std::memcpy(out + p * c.cout, c.bias.data(), sizeof(float) * c.cout);

  // A 1x1x1 kernel reads the frame as it is.
  if (c.kt == 1 && c.kh == 1 && c.kw == 1 && stride == 1 && pad.top == 0 && pad.left == 0 &&
      pad.bottom == 0 && pad.right == 0) {
    gemm(false, true, npix, c.cout, c.cin, 1.0f, frames[0], c.cin, c.weight.data(), c.cin, 1.0f, out, c.cout);
    return;
  }
  const int64_t k = c.k();
  const int64_t rows_per_tile = std::max<int64_t>(1, kColBudget / std::max<int64_t>(1, wo * k));
  std::vector<float> col(static_cast<size_t>(std::min(ho, rows_per_tile) * wo * k));
  for (int64_t r0 = 0; r0 < ho; r0 += rows_per_tile) {
    const int64_t r1 = std::min(ho, r0 + rows_per_tile);
#pragma omp parallel for schedule(static) if ((r1 - r0) * wo * k > kParallelMin)
    for (int64_t r = r0; r < r1; ++r) {
      for (int64_t x = 0; x < wo; ++x) {
        float* dst = col.data() + ((r - r0) * wo + x) * k;
        for (int t = 0; t < c.kt; ++t) {
          const float* f = frames[t];
          for (int i = 0; i < c.kh; ++i) {
            const int64_t yy = r * stride + i - pad.top;
            for (int j = 0; j < c.kw; ++j, dst += c.cin) {
              const int64_t xx = x * stride + j - pad.left;
              const bool inside = yy >= 0 && yy < h && xx >= 0 && xx < w;
              if (inside || mode == PadMode::Replicate)
                std::memcpy(dst, f + (std::clamp<int64_t>(yy, 0, h - 1) * w + std::clamp<int64_t>(xx, 0, w - 1)) * c.cin,
                            sizeof(float) * c.cin);
              else
                std::memset(dst, 0, sizeof(float) * c.cin);
            }
          }
        }
      }
    }
    gemm(false, true, (r1 - r0) * wo, c.cout, k, 1.0f, col.data(), k, c.weight.data(), k, 1.0f,
         out + r0 * wo * c.cout, c.cout);
  }
}

void conv3d_causal_replicate(const PackedConv& c, const float* x, int64_t t, int64_t h, int64_t w, int tstride,
                             int sstride, float* out) {
  if (t < 1 || tstride < 1 || sstride < 1) fail("causal conv3d: {} frames, strides {}/{}", t, tstride, sstride);
  const int ph = c.kh / 2, pw = c.kw / 2;
  const int64_t ho = conv_out_size(h, ph, ph, c.kh, sstride), wo = conv_out_size(w, pw, pw, c.kw, sstride);
  const int64_t tout = (t - 1) / tstride + 1, in_frame = h * w * c.cin, out_frame = ho * wo * c.cout;
  std::vector<const float*> window(static_cast<size_t>(c.kt));
  for (int64_t j = 0; j < tout; ++j) {
    // Padded frame index j*tstride + i is input frame j*tstride + i - (kt - 1), clamped to the first.
    for (int i = 0; i < c.kt; ++i)
      window[static_cast<size_t>(i)] = x + std::max<int64_t>(0, j * tstride + i - (c.kt - 1)) * in_frame;
    conv_frame(c, window, h, w, Pad2d{ph, ph, pw, pw}, sstride, out + j * out_frame, PadMode::Replicate);
  }
}

void upsample_nearest2x(const float* x, int64_t h, int64_t w, int64_t c, float* out) {
#pragma omp parallel for schedule(static) if (h * w * c > kParallelMin)
  for (int64_t y = 0; y < 2 * h; ++y)
    for (int64_t xx = 0; xx < 2 * w; ++xx)
      std::memcpy(out + (y * 2 * w + xx) * c, x + ((y / 2) * w + xx / 2) * c, sizeof(float) * c);
}

}  // namespace jenga::cpu
