#include "models/wan/vae_cpu.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/ops_t5vae.h"
#include "core/error.h"
#include "core/interrupt.h"

namespace jenga::wan {
namespace {

using cpu::Pad2d;

VaeChunk norm(const VaeChunk& x, const std::vector<float>& gamma, bool silu) {
  VaeChunk y(x.t, x.h, x.w, x.c);
  cpu::vae_rms_norm(x.v.data(), x.t * x.h * x.w, x.c, gamma.data(), silu, y.v.data());
  return y;
}

// Applies a kernel-3 temporal conv to [cached frames] + x and refreshes the cache with the last
// `keep` frames of that window. Frames of the output: window length - 2 (stride 1) or
// (window length - 3) / 2 + 1 (stride 2).
VaeChunk temporal_conv(const cpu::PackedConv& conv, int pad, int tstride, VaeTemporalCache::Slot& slot,
                       const VaeChunk& x, size_t keep) {
  const int64_t fs = x.h * x.w * conv.cin;
  JENGA_ASSERT(conv.cin == x.c && conv.kt == 3);
  const size_t cached = slot.frames.size() / static_cast<size_t>(fs);
  std::vector<const float*> window;
  for (size_t i = 0; i < cached; ++i) window.push_back(slot.frames.data() + i * fs);
  for (int64_t i = 0; i < x.t; ++i) window.push_back(x.frame(i));
  const int64_t n = static_cast<int64_t>(window.size());
  const int64_t tout = n < 3 ? 0 : (n - 3) / tstride + 1;
  const int64_t ho = cpu::conv_out_size(x.h, pad, pad, conv.kh, 1), wo = cpu::conv_out_size(x.w, pad, pad, conv.kw, 1);
  VaeChunk y(tout, ho, wo, conv.cout);
  for (int64_t j = 0; j < tout; ++j)
    cpu::conv_frame(conv, std::span<const float* const>(window.data() + j * tstride, 3), x.h, x.w,
                    Pad2d{pad, pad, pad, pad}, 1, y.frame(j));
  std::vector<float> next(static_cast<size_t>(std::min<int64_t>(keep, n) * fs));
  for (size_t i = 0; i < next.size() / fs; ++i)
    std::memcpy(next.data() + i * fs, window[n - next.size() / fs + i], sizeof(float) * fs);
  slot.frames = std::move(next);
  return y;
}

VaeChunk causal_conv(const VaeCausalConv& c, const VaeChunk& x, VaeTemporalCache& cache) {
  if (c.conv.kt == 1) {
    const int64_t ho = cpu::conv_out_size(x.h, c.pad, c.pad, c.conv.kh, 1);
    const int64_t wo = cpu::conv_out_size(x.w, c.pad, c.pad, c.conv.kw, 1);
    VaeChunk y(x.t, ho, wo, c.conv.cout);
    for (int64_t i = 0; i < x.t; ++i) {
      const float* f = x.frame(i);
      cpu::conv_frame(c.conv, std::span<const float* const>(&f, 1), x.h, x.w, Pad2d{c.pad, c.pad, c.pad, c.pad}, 1,
                      y.frame(i));
    }
    return y;
  }
  auto& slot = cache.slots[static_cast<size_t>(c.cache_slot)];
  if (!slot.started) {  // two zero frames: the official front padding
    slot.started = true;
    slot.frames.assign(static_cast<size_t>(2 * x.h * x.w * x.c), 0.0f);
  }
  return temporal_conv(c.conv, c.pad, 1, slot, x, 2);
}

VaeChunk res_block(const VaeResBlock& b, const VaeChunk& x, VaeTemporalCache& cache) {
  check_interrupt();  // Ctrl-C within a block's time, not a whole decode's
  VaeChunk h = causal_conv(b.conv1, norm(x, b.gamma1, true), cache);
  h = causal_conv(b.conv2, norm(h, b.gamma2, true), cache);
  if (b.has_shortcut) {
    const VaeChunk s = causal_conv(b.shortcut, x, cache);
    for (size_t i = 0; i < h.v.size(); ++i) h.v[i] += s.v[i];
  } else {
    for (size_t i = 0; i < h.v.size(); ++i) h.v[i] += x.v[i];
  }
  return h;
}

VaeChunk attn_block(const VaeAttnBlock& a, const VaeChunk& x) {
  const int64_t c = x.c, n = x.h * x.w;
  VaeChunk y = x;
  const VaeChunk xn = norm(x, a.gamma, false);
  std::vector<float> qkv(static_cast<size_t>(n * 3 * c)), o(static_cast<size_t>(n * c)), p(static_cast<size_t>(n * c));
  for (int64_t t = 0; t < x.t; ++t) {
    const float* f = xn.frame(t);
    cpu::conv_frame(a.to_qkv, std::span<const float* const>(&f, 1), x.h, x.w, {}, 1, qkv.data());
    cpu::attention_gemm(qkv.data(), 3 * c, qkv.data() + c, 3 * c, qkv.data() + 2 * c, 3 * c, o.data(), c, n, n, c,
                        1.0f / std::sqrt(static_cast<float>(c)), nullptr, nullptr);
    const float* op = o.data();
    cpu::conv_frame(a.proj, std::span<const float* const>(&op, 1), x.h, x.w, {}, 1, p.data());
    float* yf = y.frame(t);
    for (int64_t i = 0; i < n * c; ++i) yf[i] += p[i];
  }
  return y;
}

VaeChunk spatial_per_frame(const cpu::PackedConv& conv, const VaeChunk& x, bool up) {
  if (up) {
    VaeChunk u(x.t, 2 * x.h, 2 * x.w, x.c);
    for (int64_t t = 0; t < x.t; ++t) cpu::upsample_nearest2x(x.frame(t), x.h, x.w, x.c, u.frame(t));
    VaeChunk y(x.t, u.h, u.w, conv.cout);
    for (int64_t t = 0; t < x.t; ++t) {
      const float* f = u.frame(t);
      cpu::conv_frame(conv, std::span<const float* const>(&f, 1), u.h, u.w, Pad2d{1, 1, 1, 1}, 1, y.frame(t));
    }
    return y;
  }
  // Official downsample: ZeroPad2d((0, 1, 0, 1)) then a 3x3 stride-2 conv.
  const Pad2d pad{0, 1, 0, 1};
  VaeChunk y(x.t, cpu::conv_out_size(x.h, 0, 1, 3, 2), cpu::conv_out_size(x.w, 0, 1, 3, 2), conv.cout);
  for (int64_t t = 0; t < x.t; ++t) {
    const float* f = x.frame(t);
    cpu::conv_frame(conv, std::span<const float* const>(&f, 1), x.h, x.w, pad, 2, y.frame(t));
  }
  return y;
}

VaeChunk resample(const VaeResample& r, const VaeChunk& x, VaeTemporalCache& cache) {
  switch (r.mode) {
    case ResampleMode::Upsample2d:
      return spatial_per_frame(r.spatial, x, true);
    case ResampleMode::Downsample2d:
      return spatial_per_frame(r.spatial, x, false);
    case ResampleMode::Upsample3d: {
      auto& slot = cache.slots[static_cast<size_t>(r.cache_slot)];
      if (!slot.started) {  // 'Rep': the first chunk keeps its frame count
        slot.started = true;
        slot.frames.assign(static_cast<size_t>(2 * x.h * x.w * x.c), 0.0f);
        return spatial_per_frame(r.spatial, x, true);
      }
      const VaeChunk tc = temporal_conv(r.time_conv, 0, 1, slot, x, 2);  // [t, h, w, 2c]
      // Channel halves become two consecutive frames: frame 2i+s takes channels [s*c, (s+1)*c).
      VaeChunk two(2 * tc.t, x.h, x.w, x.c);
      for (int64_t t = 0; t < tc.t; ++t)
        for (int s = 0; s < 2; ++s) {
          const float* src = tc.frame(t) + s * x.c;
          float* dst = two.frame(2 * t + s);
          for (int64_t p = 0; p < x.h * x.w; ++p) std::memcpy(dst + p * x.c, src + p * 2 * x.c, sizeof(float) * x.c);
        }
      return spatial_per_frame(r.spatial, two, true);
    }
    case ResampleMode::Downsample3d: {
      VaeChunk y = spatial_per_frame(r.spatial, x, false);
      auto& slot = cache.slots[static_cast<size_t>(r.cache_slot)];
      const int64_t fs = y.frame_size();
      if (!slot.started) {
        slot.started = true;
        slot.frames.assign(y.frame(y.t - 1), y.frame(y.t - 1) + fs);
        return y;
      }
      return temporal_conv(r.time_conv, 0, 2, slot, y, 1);
    }
  }
  JENGA_ASSERT(false);
}

}  // namespace

void check_vae_latents(const WanVae& vae, const Tensor& z) {
  if (z.device() != Device::CPU || z.dtype() != DType::F32) fail("VAE decode: latents must be a CPU f32 tensor");
  if (z.ndim() != 4 || z.dim(0) != vae.z_dim || z.dim(1) < 1 || z.dim(2) < 1 || z.dim(3) < 1)
    fail("VAE decode: latents have shape {}, expected [{}, T, H, W] with T, H, W >= 1", z.shape().str(), vae.z_dim);
  const float* p = z.data_as<float>();
  for (int64_t i = 0; i < z.numel(); ++i)
    if (!std::isfinite(p[i])) fail("VAE decode: latents hold NaN or inf (at flat index {})", i);
}

VaeChunk vae_coder_forward(const VaeCoder& coder, const VaeChunk& x, VaeTemporalCache& cache) {
  VaeChunk h = causal_conv(coder.conv_in, x, cache);
  for (const auto& layer : coder.layers) {
    if (auto* r = std::get_if<VaeResBlock>(&layer))
      h = res_block(*r, h, cache);
    else if (auto* a = std::get_if<VaeAttnBlock>(&layer))
      h = attn_block(*a, h);
    else
      h = resample(std::get<VaeResample>(layer), h, cache);
  }
  return causal_conv(coder.conv_out, norm(h, coder.head_gamma, true), cache);
}

void vae_decode_stream(const WanVae& vae, const Tensor& latents,
                       const std::function<void(const VaeChunk&, int64_t first)>& sink) {
  check_vae_latents(vae, latents);
  const int64_t zc = vae.z_dim, T = latents.dim(1), H = latents.dim(2), W = latents.dim(3);
  const float* z = latents.data_as<float>();
  VaeTemporalCache cache(vae.decoder.cache_slots);
  int64_t first = 0;
  for (int64_t t = 0; t < T; ++t) {
    check_interrupt();
    // Official de-normalisation z / (1/std) + mean, then conv2 (1x1x1), per latent frame.
    VaeChunk zt(1, H, W, zc);
    for (int64_t c = 0; c < zc; ++c) {
      const float inv_std = 1.0f / kWanLatentStd[c];
      for (int64_t p = 0; p < H * W; ++p) zt.v[p * zc + c] = z[(c * T + t) * H * W + p] / inv_std + kWanLatentMean[c];
    }
    VaeChunk x(1, H, W, zc);
    const float* f = zt.frame(0);
    cpu::conv_frame(vae.post_quant, std::span<const float* const>(&f, 1), H, W, {}, 1, x.frame(0));
    const VaeChunk out = vae_coder_forward(vae.decoder, x, cache);
    sink(out, first);
    first += out.t;
  }
}

Tensor vae_decode(const WanVae& vae, const Tensor& latents, bool clamp, const std::function<void(int64_t, int64_t)>& on_frame);

Tensor vae_decode(const WanVae& vae, const Tensor& latents, bool clamp) { return vae_decode(vae, latents, clamp, {}); }

Tensor vae_decode(const WanVae& vae, const Tensor& latents, const std::function<void(int64_t, int64_t)>& on_frame) {
  return vae_decode(vae, latents, true, on_frame);
}

Tensor vae_decode(const WanVae& vae, const Tensor& latents, bool clamp, const std::function<void(int64_t, int64_t)>& on_frame) {
  check_vae_latents(vae, latents);
  const int64_t T = latents.dim(1), sf = vae.decoder.spatial_factor, tf = vae.decoder.temporal_factor;
  const int64_t F = 1 + tf * (T - 1), Ho = latents.dim(2) * sf, Wo = latents.dim(3) * sf;
  const int64_t C = vae.decoder.conv_out.conv.cout;
  Tensor out = Tensor::empty(DType::F32, {C, F, Ho, Wo});
  float* o = out.data_as<float>();
  int64_t done = 0;
  vae_decode_stream(vae, latents, [&](const VaeChunk& ch, int64_t first) {
    JENGA_ASSERT(ch.h == Ho && ch.w == Wo && ch.c == C && first + ch.t <= F);
    for (int64_t t = 0; t < ch.t; ++t)
      for (int64_t c = 0; c < C; ++c) {
        float* dst = o + (c * F + first + t) * Ho * Wo;
        const float* src = ch.frame(t) + c;
        for (int64_t p = 0; p < Ho * Wo; ++p) {
          const float v = src[p * C];
          dst[p] = clamp ? std::clamp(v, -1.0f, 1.0f) : v;
        }
      }
    if (on_frame) on_frame(++done, T);
  });
  return out;
}

Tensor vae_encode(const WanVae& vae, const Tensor& frames) {
  if (!vae.has_encoder) fail("{}: this VAE checkpoint has no encoder.* weights", vae.source);
  if (frames.device() != Device::CPU || frames.dtype() != DType::F32) fail("VAE encode: frames must be a CPU f32 tensor");
  const int64_t sf = vae.encoder.spatial_factor, tf = vae.encoder.temporal_factor;
  const int64_t cin = vae.encoder.conv_in.conv.cin;
  if (frames.ndim() != 4 || frames.dim(0) != cin || frames.dim(1) < 1 || (frames.dim(1) - 1) % tf != 0 ||
      frames.dim(2) < sf || frames.dim(2) % sf != 0 || frames.dim(3) < sf || frames.dim(3) % sf != 0)
    fail("VAE encode: frames have shape {}, expected [{}, 1 + {}k, H, W] with H and W multiples of {}",
         frames.shape().str(), cin, tf, sf);
  const int64_t F = frames.dim(1), H = frames.dim(2), W = frames.dim(3), z = vae.z_dim;
  const int64_t T = 1 + (F - 1) / tf, h = H / sf, w = W / sf;
  const float* x = frames.data_as<float>();
  for (int64_t i = 0; i < frames.numel(); ++i)
    if (!std::isfinite(x[i])) fail("VAE encode: frames hold NaN or inf (at flat index {})", i);
  Tensor out = Tensor::empty(DType::F32, {z, T, h, w});
  float* o = out.data_as<float>();
  VaeTemporalCache cache(vae.encoder.cache_slots);
  int64_t t_out = 0;
  for (int64_t f0 = 0; f0 < F; f0 += (f0 == 0 ? 1 : tf)) {
    const int64_t n = f0 == 0 ? 1 : tf;
    VaeChunk ch(n, H, W, cin);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t c = 0; c < cin; ++c)
        for (int64_t p = 0; p < H * W; ++p) ch.frame(t)[p * cin + c] = x[(c * F + f0 + t) * H * W + p];
    const VaeChunk enc = vae_coder_forward(vae.encoder, ch, cache);
    JENGA_ASSERT(enc.h == h && enc.w == w && enc.c == 2 * z && t_out + enc.t <= T);
    std::vector<float> q(static_cast<size_t>(h * w * 2 * z));
    for (int64_t t = 0; t < enc.t; ++t, ++t_out) {
      const float* f = enc.frame(t);
      cpu::conv_frame(vae.quant, std::span<const float* const>(&f, 1), h, w, {}, 1, q.data());
      // mu = first z channels; official normalisation (mu - mean) * (1 / std).
      for (int64_t c = 0; c < z; ++c) {
        const float inv_std = 1.0f / kWanLatentStd[c];
        for (int64_t p = 0; p < h * w; ++p) o[(c * T + t_out) * h * w + p] = (q[p * 2 * z + c] - kWanLatentMean[c]) * inv_std;
      }
    }
  }
  JENGA_ASSERT(t_out == T);
  return out;
}

}  // namespace jenga::wan
