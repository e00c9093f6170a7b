#pragma once
// The recursive walk behind gilbert3d_walk (header-only so the per-point callback inlines).
// Mirrors the official gilbert_xyz2d_r case split: the sub-boxes are visited in the order in
// which the official index function counts their volumes.
#include <cstdint>
#include <cstdlib>

namespace jenga::gilbert_detail {

struct V {
  int64_t x = 0, y = 0, z = 0;
};
inline V operator+(V a, V b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }
inline V operator-(V a, V b) { return {a.x - b.x, a.y - b.y, a.z - b.z}; }
inline V operator-(V a) { return {-a.x, -a.y, -a.z}; }
inline int64_t sgn(int64_t v) { return (v > 0) - (v < 0); }
inline V sgn(V a) { return {sgn(a.x), sgn(a.y), sgn(a.z)}; }
// Python's floor division by 2 (negative components round toward -inf).
inline int64_t fdiv2(int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }
inline V half(V a) { return {fdiv2(a.x), fdiv2(a.y), fdiv2(a.z)}; }
inline int64_t len(V a) { return std::llabs(a.x + a.y + a.z); }

template <typename Emit>
void walk(V p, V a, V b, V c, Emit& emit) {
  const int64_t w = len(a), h = len(b), d = len(c);
  if (w == 0 || h == 0 || d == 0) return;  // empty sub-box: the official code skips it too
  const V da = sgn(a), db = sgn(b), dc = sgn(c);
  auto line = [&](int64_t n, V step) {
    for (int64_t i = 0; i < n; ++i) emit(p.x + i * step.x, p.y + i * step.y, p.z + i * step.z);
  };
  if (h == 1 && d == 1) return line(w, da);
  if (w == 1 && d == 1) return line(h, db);
  if (w == 1 && h == 1) return line(d, dc);

  V a2 = half(a), b2 = half(b), c2 = half(c);
  // Prefer even steps.
  if ((len(a2) % 2) && w > 2) a2 = a2 + da;
  if ((len(b2) % 2) && h > 2) b2 = b2 + db;
  if ((len(c2) % 2) && d > 2) c2 = c2 + dc;

  if (2 * w > 3 * h && 2 * w > 3 * d) {  // wide: split along a only
    walk(p, a2, b, c, emit);
    walk(p + a2, a - a2, b, c, emit);
  } else if (3 * h > 4 * d) {  // do not split d
    walk(p, b2, c, a2, emit);
    walk(p + b2, a, b - b2, c, emit);
    walk(p + (a - da) + (b2 - db), -b2, c, -(a - a2), emit);
  } else if (3 * d > 4 * h) {  // do not split h
    walk(p, c2, a2, b, emit);
    walk(p + c2, a, b, c - c2, emit);
    walk(p + (a - da) + (c2 - dc), -c2, -(a - a2), b, emit);
  } else {  // regular: split all three
    walk(p, b2, c2, a2, emit);
    walk(p + b2, c, a2, b - b2, emit);
    walk(p + (b2 - db) + (c - dc), a, -b2, -(c - c2), emit);
    walk(p + (a - da) + b2 + (c - dc), -c, -(a - a2), b - b2, emit);
    walk(p + (a - da) + (b2 - db), -b2, c2, -(a - a2), emit);
  }
}

}  // namespace jenga::gilbert_detail

namespace jenga {

template <typename Emit>
void gilbert3d_walk(int64_t width, int64_t height, int64_t depth, Emit&& emit) {
  using gilbert_detail::V;
  // The major axis is the largest dimension; ties go to width, then height (official order).
  if (width >= height && width >= depth)
    gilbert_detail::walk(V{}, V{width, 0, 0}, V{0, height, 0}, V{0, 0, depth}, emit);
  else if (height >= width && height >= depth)
    gilbert_detail::walk(V{}, V{0, height, 0}, V{width, 0, 0}, V{0, 0, depth}, emit);
  else
    gilbert_detail::walk(V{}, V{0, 0, depth}, V{width, 0, 0}, V{0, height, 0}, emit);
}

}  // namespace jenga
