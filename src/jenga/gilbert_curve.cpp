#include "jenga/gilbert_curve.h"

#include <fmt/format.h>

#include <limits>
#include <map>
#include <mutex>

#include "core/error.h"

namespace jenga {

std::string CurveSpec::str() const {
  std::string s = fmt::format("{}x{}x{}", t, h, w);
  if (axes) return s + fmt::format(" order {},{},{}", (*axes)[0], (*axes)[1], (*axes)[2]);
  return s + (sliced ? " sliced" : " 3d");
}

void CurveSpec::validate() const {
  if (t <= 0 || h <= 0 || w <= 0)
    usage_fail("curve shape {}x{}x{}: every dimension must be at least 1", t, h, w);
  if (t > std::numeric_limits<int32_t>::max() / h / w)
    usage_fail("curve shape {}x{}x{}: more than 2^31-1 tokens is not supported", t, h, w);
  if (axes) {
    const auto& a = *axes;
    bool seen[3] = {false, false, false};
    for (int v : a) {
      if (v < 0 || v > 2 || seen[v])
        usage_fail("curve axis order {},{},{}: must be a permutation of 0,1,2", a[0], a[1], a[2]);
      seen[v] = true;
    }
  }
}

namespace {

// One 2D curve per frame; frame z > 0 is mirrored so that it starts in the corner nearest to
// where frame z-1 ended (official sliced_gilbert_mapping).
void build_sliced(const CurveSpec& s, std::vector<int32_t>& order) {
  const int64_t frame = s.h * s.w;
  std::vector<int32_t> base;  // [H*W] raster index (y*W + x) of the i-th point of the 2D curve
  base.reserve(static_cast<size_t>(frame));
  gilbert3d_walk(s.w, s.h, 1, [&](int64_t x, int64_t y, int64_t) {
    base.push_back(static_cast<int32_t>(y * s.w + x));
  });
  JENGA_ASSERT(static_cast<int64_t>(base.size()) == frame);
  bool flip_x = false, flip_y = false;
  for (int64_t z = 0; z < s.t; ++z) {
    for (int64_t i = 0; i < frame; ++i) {
      int64_t x = base[i] % s.w, y = base[i] / s.w;
      if (flip_x) x = s.w - 1 - x;
      if (flip_y) y = s.h - 1 - y;
      order[z * frame + i] = static_cast<int32_t>(z * frame + y * s.w + x);
    }
    // Where this frame ended decides the next frame's flips (end >= size/2 -> start at the far side).
    const int64_t end = order[z * frame + frame - 1] - z * frame;
    flip_x = 2 * (end % s.w) >= s.w;
    flip_y = 2 * (end / s.w) >= s.h;
  }
}

}  // namespace

Curve build_curve(const CurveSpec& spec) {
  spec.validate();
  Curve c;
  c.spec = spec;
  const int64_t n = spec.tokens();
  c.order.resize(static_cast<size_t>(n));
  if (spec.axes) {
    const std::array<int64_t, 3> dims = {spec.t, spec.h, spec.w};
    const auto& o = *spec.axes;
    int64_t i = 0;
    // Curve coordinates (x, y, z) are original axes o[2], o[1], o[0].
    gilbert3d_walk(dims[o[2]], dims[o[1]], dims[o[0]], [&](int64_t x, int64_t y, int64_t z) {
      std::array<int64_t, 3> coord{};
      coord[o[2]] = x;
      coord[o[1]] = y;
      coord[o[0]] = z;
      c.order[i++] = static_cast<int32_t>((coord[0] * spec.h + coord[1]) * spec.w + coord[2]);
    });
    JENGA_ASSERT(i == n);
  } else if (spec.sliced) {
    build_sliced(spec, c.order);
  } else {
    int64_t i = 0;
    gilbert3d_walk(spec.w, spec.h, spec.t, [&](int64_t x, int64_t y, int64_t z) {
      c.order[i++] = static_cast<int32_t>((z * spec.h + y) * spec.w + x);
    });
    JENGA_ASSERT(i == n);
  }
  c.inverse.assign(static_cast<size_t>(n), -1);
  for (int64_t i = 0; i < n; ++i) {
    const int32_t r = c.order[i];
    JENGA_ASSERT(r >= 0 && r < n && c.inverse[r] == -1);
    c.inverse[r] = static_cast<int32_t>(i);
  }
  return c;
}

std::shared_ptr<const Curve> cached_curve(const CurveSpec& spec) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const Curve>> cache;
  spec.validate();
  const std::string key = spec.str();
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  auto built = std::make_shared<const Curve>(build_curve(spec));
  std::lock_guard<std::mutex> lock(mu);
  return cache.emplace(key, std::move(built)).first->second;
}

}  // namespace jenga
