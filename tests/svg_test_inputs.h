#pragma once
// Random q/k/v for the Sparse VideoGen GPU tests, [heads, g.sequence(), d] f32: noise, plus on the
// video rows a strong shared component per head so each head clearly prefers one pattern: even
// heads a per-frame vector (attend within the frame: spatial), odd heads a per-position vector
// shared by all frames (attend along time: temporal). Text rows (HunyuanVideo) stay noise.
#include <cstdint>
#include <vector>

#include "core/rng.h"
#include "jenga/svg/svg_masks.h"

namespace jenga::test {

inline void make_svg_qkv(const svg::SvgGrid& g, int64_t heads, int64_t d, std::vector<float>& q, std::vector<float>& k,
                         std::vector<float>& v) {
  const int64_t n = g.sequence(), nv = g.tokens();
  q.resize(heads * n * d), k.resize(q.size()), v.resize(q.size());
  fill_normal(q, 1), fill_normal(k, 2), fill_normal(v, 3);
  std::vector<float> frame(g.frames * d), pos(g.frame_tokens * d);
  fill_normal(frame, 4), fill_normal(pos, 5);
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t t = 0; t < nv; ++t)
      for (int64_t c = 0; c < d; ++c) {
        const float e = h % 2 ? pos[(t % g.frame_tokens) * d + c] : frame[(t / g.frame_tokens) * d + c];
        q[(h * n + t) * d + c] = 0.3f * q[(h * n + t) * d + c] + e;
        k[(h * n + t) * d + c] = 0.3f * k[(h * n + t) * d + c] + e;
      }
}

}  // namespace jenga::test
