#include "models/wan/vae_random.h"

#include <cmath>

#include "core/error.h"
#include "core/rng.h"

namespace jenga::wan {

namespace {

struct Gen {
  uint64_t seed, offset = 0;
  std::vector<float> normal(int64_t n, float scale) {
    std::vector<float> v(static_cast<size_t>(n));
    fill_normal(v, seed, offset);
    offset += static_cast<uint64_t>(n) + 1;
    for (auto& x : v) x *= scale;
    return v;
  }
  // Weights are drawn already in the packed layout (the order does not matter for noise).
  cpu::PackedConv conv(int64_t cin, int64_t cout, int kt, int k) {
    cpu::PackedConv p;
    p.cout = cout, p.cin = cin, p.kt = kt, p.kh = k, p.kw = k;
    p.weight = normal(cout * p.k(), 1.0f / std::sqrt(static_cast<float>(p.k())));
    p.bias = normal(cout, 0.02f);
    return p;
  }
  VaeCausalConv causal(int64_t cin, int64_t cout, int k, int& slots) {
    VaeCausalConv c;
    c.conv = conv(cin, cout, k, k);
    c.pad = k / 2;
    if (k == 3) c.cache_slot = slots++;
    return c;
  }
  VaeResBlock res(int64_t in, int64_t out, int& slots) {
    VaeResBlock b;
    b.gamma1.assign(static_cast<size_t>(in), 1.0f);
    b.gamma2.assign(static_cast<size_t>(out), 1.0f);
    b.conv1 = causal(in, out, 3, slots);
    b.conv2 = causal(out, out, 3, slots);
    if (in != out) {
      int unused = 0;
      b.has_shortcut = true;
      b.shortcut = causal(in, out, 1, unused);
    }
    return b;
  }
};

}  // namespace

WanVae random_wan_vae_decoder(int64_t d, uint64_t seed) {
  if (d < 1) fail("random VAE: base dim {} must be >= 1", d);
  Gen g{seed};
  WanVae v;
  v.z_dim = 16;
  v.base_dim = d;
  v.source = "random Wan2.1 VAE decoder (base dim " + std::to_string(d) + ")";
  v.post_quant = g.conv(16, 16, 1, 1);
  VaeCoder& c = v.decoder;
  const int64_t dims[5] = {4 * d, 4 * d, 4 * d, 2 * d, d};  // official [dim_mult[-1]] + dim_mult[::-1]
  const bool temporal[3] = {true, true, false};
  c.conv_in = g.causal(16, dims[0], 3, c.cache_slots);
  c.layers.emplace_back(g.res(dims[0], dims[0], c.cache_slots));
  VaeAttnBlock a;
  a.gamma.assign(static_cast<size_t>(dims[0]), 1.0f);
  a.to_qkv = g.conv(dims[0], 3 * dims[0], 1, 1);
  a.proj = g.conv(dims[0], dims[0], 1, 1);
  c.layers.emplace_back(std::move(a));
  c.layers.emplace_back(g.res(dims[0], dims[0], c.cache_slots));
  for (int i = 0; i < 4; ++i) {
    int64_t in = i == 0 ? dims[0] : dims[i] / 2;
    const int64_t out = dims[i + 1];
    for (int j = 0; j < 3; ++j, in = out) c.layers.emplace_back(g.res(in, out, c.cache_slots));
    if (i == 3) break;
    VaeResample r;
    r.mode = temporal[i] ? ResampleMode::Upsample3d : ResampleMode::Upsample2d;
    r.spatial = g.conv(out, out / 2, 1, 3);
    if (temporal[i]) {
      r.time_conv = g.conv(out, 2 * out, 3, 1);
      r.cache_slot = c.cache_slots++;
      c.temporal_factor *= 2;
    }
    c.spatial_factor *= 2;
    c.layers.emplace_back(std::move(r));
  }
  c.head_gamma.assign(static_cast<size_t>(d), 1.0f);
  c.conv_out = g.causal(d, 3, 3, c.cache_slots);
  return v;
}

}  // namespace jenga::wan
