#include "io/pil_resample.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace jenga {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // PIL: 8 result bits, 2 overflow bits

double filter_value(PilFilter f, double x) {
  if (x < 0.0) x = -x;
  if (f == PilFilter::Bilinear) return x < 1.0 ? 1.0 - x : 0.0;
  constexpr double a = -0.5;  // PIL's bicubic (Keys, a = -0.5)
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// One output position's source window and fixed-point weights.
struct Taps {
  int first = 0, count = 0;
  std::vector<int32_t> w;  // [count]
};

// PIL's precompute_coeffs + normalize_coeffs_8bpc for an input span [0, in_size), for the output
// positions [first_out, first_out + count) of out_size (each position's taps depend on it alone).
std::vector<Taps> precompute(int in_size, int out_size, PilFilter f, int first_out, int count) {
  const double support0 = f == PilFilter::Bilinear ? 1.0 : 2.0;
  const double scale = static_cast<double>(static_cast<float>(in_size) - 0.0f) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = support0 * filterscale;
  std::vector<Taps> taps(count);
  std::vector<double> k;
  for (int i = 0; i < count; ++i) {
    const int xx = first_out + i;
    const double center = 0.0 + (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    k.assign(std::max(xmax, 0), 0.0);
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[x] = filter_value(f, (x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    Taps& t = taps[i];
    t.first = xmin;
    t.count = std::max(xmax, 0);
    t.w.resize(t.count);
    for (int x = 0; x < t.count; ++x) {
      const double v = ww != 0.0 ? k[x] / ww : k[x];
      t.w[x] = v < 0 ? static_cast<int32_t>(-0.5 + v * (1 << kPrecisionBits))
                     : static_cast<int32_t>(0.5 + v * (1 << kPrecisionBits));
    }
  }
  return taps;
}

uint8_t clip8(int64_t ss) {
  return static_cast<uint8_t>(std::clamp<int64_t>(ss >> kPrecisionBits, 0, 255));  // floor shift, as PIL
}

}  // namespace

RgbImage pil_resize(const RgbImage& img, int out_w, int out_h, PilFilter filter) {
  return pil_resize_window(img, out_w, out_h, filter, {0, 0, out_w, out_h});
}

RgbImage pil_resize_window(const RgbImage& img, int out_w, int out_h, PilFilter filter, const PixelWindow& win) {
  JENGA_ASSERT(out_w >= 1 && out_h >= 1 && img.width >= 1 && img.height >= 1);
  JENGA_ASSERT(win.x >= 0 && win.y >= 0 && win.width >= 1 && win.height >= 1 && win.x + win.width <= out_w &&
               win.y + win.height <= out_h);
  const bool need_h = out_w != img.width, need_v = out_h != img.height;
  // Rows of the source the vertical pass reads (the window's own rows without one): the
  // horizontal pass only computes those.
  std::vector<Taps> vtaps;
  int y_first = win.y, y_last = win.y + win.height;
  if (need_v) {
    vtaps = precompute(img.height, out_h, filter, win.y, win.height);
    y_first = vtaps.front().first;
    y_last = vtaps.back().first + vtaps.back().count;
  }

  RgbImage cur;  // source rows [y_first, y_last), the window's columns
  cur.width = win.width;
  cur.height = y_last - y_first;
  cur.rgb.resize(static_cast<size_t>(cur.width) * cur.height * 3);
  if (need_h) {
    const auto htaps = precompute(img.width, out_w, filter, win.x, win.width);
#pragma omp parallel for
    for (int y = 0; y < cur.height; ++y) {
      for (int xx = 0; xx < cur.width; ++xx) {
        const Taps& t = htaps[xx];
        int64_t s[3] = {1 << (kPrecisionBits - 1), 1 << (kPrecisionBits - 1), 1 << (kPrecisionBits - 1)};
        const uint8_t* src = img.pixel(y + y_first, t.first);
        for (int x = 0; x < t.count; ++x)
          for (int c = 0; c < 3; ++c) s[c] += static_cast<int64_t>(src[3 * x + c]) * t.w[x];
        uint8_t* dst = cur.rgb.data() + (static_cast<size_t>(y) * cur.width + xx) * 3;
        for (int c = 0; c < 3; ++c) dst[c] = clip8(s[c]);
      }
    }
  } else {  // the source's columns as they are (PIL copies an unchanged size)
    for (int y = 0; y < cur.height; ++y)
      std::copy_n(img.pixel(y + y_first, win.x), static_cast<size_t>(cur.width) * 3,
                  cur.rgb.data() + static_cast<size_t>(y) * cur.width * 3);
  }
  if (!need_v) return cur;
  RgbImage out;
  out.width = win.width;
  out.height = win.height;
  out.rgb.resize(static_cast<size_t>(out.width) * out.height * 3);
#pragma omp parallel for
  for (int yy = 0; yy < out.height; ++yy) {
    const Taps& t = vtaps[yy];
    for (int x = 0; x < out.width; ++x) {
      int64_t s[3] = {1 << (kPrecisionBits - 1), 1 << (kPrecisionBits - 1), 1 << (kPrecisionBits - 1)};
      for (int y = 0; y < t.count; ++y) {
        const uint8_t* src = cur.pixel(t.first + y - y_first, x);
        for (int c = 0; c < 3; ++c) s[c] += static_cast<int64_t>(src[c]) * t.w[y];
      }
      uint8_t* dst = out.rgb.data() + (static_cast<size_t>(yy) * out.width + x) * 3;
      for (int c = 0; c < 3; ++c) dst[c] = clip8(s[c]);
    }
  }
  return out;
}

}  // namespace jenga
