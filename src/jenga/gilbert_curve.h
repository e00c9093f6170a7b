#pragma once
// Generalized Hilbert ("gilbert") curves over a latent token grid (T, H, W) of any size, in the
// three variants the official Jenga code uses (gilbert.py): the full 3D curve, the sliced curve
// (one 2D curve per frame, flipped so consecutive frames join up) and the axis-transposed 3D
// curve. A curve is stored as order[i] = raster index (t*H*W + h*W + w) of the i-th curve token
// and its inverse. Built by walking the curve once (O(N)); cached per (shape, variant, order).
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace jenga {

struct CurveSpec {
  int64_t t = 1, h = 1, w = 1;
  // One 2D curve per frame (Wan). Ignored when `axes` is set: the official sliced mapping with a
  // transpose order falls back to the transposed 3D curve.
  bool sliced = false;
  // Axis order of the transposed variant (official transpose_gilbert_mapping `order`): the
  // curve runs over a box with depth = dims[axes[0]], height = dims[axes[1]],
  // width = dims[axes[2]] where dims = {T, H, W}. {0,1,2} gives the same curve as the full 3D one.
  std::optional<std::array<int, 3>> axes;

  int64_t tokens() const { return t * h * w; }
  std::string str() const;  // "21x30x52 sliced" etc., for messages and cache keys
  // Throws UsageError on empty dims, too many tokens, or a bad axis permutation.
  void validate() const;
};

struct Curve {
  CurveSpec spec;
  std::vector<int32_t> order;    // [N] curve position -> raster index (official hilbert_to_linear)
  std::vector<int32_t> inverse;  // [N] raster index -> curve position (official linear_to_hilbert)
};

// Builds the curve (no caching).
Curve build_curve(const CurveSpec& spec);
// Same, computed once per spec and shared (thread-safe).
std::shared_ptr<const Curve> cached_curve(const CurveSpec& spec);

// Visits the points (x, y, z) of the gilbert curve over a width x height x depth box in curve
// order (official gilbert_xyz2d gives each point's position in this sequence).
template <typename Emit>
void gilbert3d_walk(int64_t width, int64_t height, int64_t depth, Emit&& emit);

}  // namespace jenga

#include "jenga/gilbert_curve_impl.h"
