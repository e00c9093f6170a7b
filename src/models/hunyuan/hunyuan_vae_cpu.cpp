#include "models/hunyuan/hunyuan_vae_cpu.h"

#include <cmath>
#include <cstring>

#include "backend/cpu/ops_t5vae.h"
#include "core/error.h"

namespace jenga::hunyuan {
namespace {

constexpr float kNormEps = 1e-6f;  // every GroupNorm of the model (resnets, attention, conv_norm_out)

HyClip conv(const HyVaeConv& c, const HyClip& x) {
  JENGA_ASSERT(x.c == c.conv.cin && x.t >= 1);
  const int ph = c.conv.kh / 2, pw = c.conv.kw / 2;
  HyClip y((x.t - 1) / c.tstride + 1, cpu::conv_out_size(x.h, ph, ph, c.conv.kh, c.sstride),
           cpu::conv_out_size(x.w, pw, pw, c.conv.kw, c.sstride), c.conv.cout);
  cpu::conv3d_causal_replicate(c.conv, x.v.data(), x.t, x.h, x.w, c.tstride, c.sstride, y.v.data());
  return y;
}

// A 1x1x1 conv / Linear over every pixel of the clip as one GEMM.
HyClip pointwise(const cpu::PackedConv& c, const HyClip& x) {
  JENGA_ASSERT(x.c == c.cin && c.kt == 1 && c.kh == 1 && c.kw == 1);
  HyClip y(x.t, x.h, x.w, c.cout);
  const float* f = x.v.data();
  cpu::conv_frame(c, std::span<const float* const>(&f, 1), x.pixels(), 1, {}, 1, y.v.data());
  return y;
}

void group_norm(const HyClip& x, const HyVaeGroupNorm& g, int64_t groups, bool silu, HyClip& out) {
  cpu::group_norm(x.v.data(), x.pixels(), x.c, groups, g.weight.data(), g.bias.data(), kNormEps, silu, out.v.data());
}

HyClip resnet(const HyVaeResBlock& r, const HyClip& x, int64_t groups) {
  HyClip h(x.t, x.h, x.w, x.c);
  group_norm(x, r.norm1, groups, true, h);
  h = conv(r.conv1, h);
  group_norm(h, r.norm2, groups, true, h);
  h = conv(r.conv2, h);  // dropout(0) between is the identity
  if (r.shortcut) {
    const HyClip s = conv(*r.shortcut, x);
    for (size_t i = 0; i < h.v.size(); ++i) h.v[i] = s.v[i] + h.v[i];
  } else {
    for (size_t i = 0; i < h.v.size(); ++i) h.v[i] = x.v[i] + h.v[i];
  }
  return h;
}

// One head over all t*h*w tokens; a token of frame f sees the tokens of frames 0..f (the official
// prepare_causal_attention_mask), i.e. a key prefix, so each frame's queries run against their
// prefix with no mask in memory.
HyClip attention(const HyVaeAttention& a, const HyClip& x, int64_t groups) {
  HyClip xn(x.t, x.h, x.w, x.c);
  group_norm(x, a.norm, groups, false, xn);
  const HyClip q = pointwise(a.to_q, xn), k = pointwise(a.to_k, xn), v = pointwise(a.to_v, xn);
  HyClip o(x.t, x.h, x.w, x.c);
  const int64_t c = x.c, hw = x.h * x.w;
  const float scale = 1.0f / std::sqrt(static_cast<float>(c));
  for (int64_t f = 0; f < x.t; ++f)
    cpu::attention_gemm(q.v.data() + f * hw * c, c, k.v.data(), c, v.v.data(), c, o.v.data() + f * hw * c, c, hw,
                        (f + 1) * hw, c, scale, nullptr, nullptr);
  HyClip y = pointwise(a.to_out, o);
  for (size_t i = 0; i < y.v.size(); ++i) y.v[i] += x.v[i];  // residual_connection, rescale 1
  return y;
}

HyClip mid_block(const HyVaeMidBlock& m, HyClip x, int64_t groups) {
  x = resnet(m.resnets[0], x, groups);
  for (size_t i = 0; i < m.attentions.size(); ++i) {
    if (m.attentions[i]) x = attention(*m.attentions[i], x, groups);
    x = resnet(m.resnets[i + 1], x, groups);
  }
  return x;
}

// UpsampleCausal3D: nearest; the first frame spatially only, later frames also tf times in time.
HyClip upsample(const HyVaeStage& s, const HyClip& x) {
  const int64_t tf = s.t_factor, sf = s.s_factor;
  HyClip u(1 + tf * (x.t - 1), x.h * sf, x.w * sf, x.c);
  for (int64_t f = 0; f < u.t; ++f) {
    const int64_t src = f == 0 ? 0 : 1 + (f - 1) / tf;
    for (int64_t y = 0; y < u.h; ++y)
      for (int64_t xx = 0; xx < u.w; ++xx)
        std::memcpy(u.at(f, y, xx), x.at(src, y / sf, xx / sf), sizeof(float) * x.c);
  }
  return conv(*s.resample, u);
}

HyClip coder_forward(const HyVaeCoder& cd, const HyClip& in, int64_t groups, bool decoder) {
  HyClip x = conv(cd.conv_in, in);
  if (decoder) x = mid_block(cd.mid, std::move(x), groups);
  for (const auto& s : cd.stages) {
    for (const auto& r : s.resnets) x = resnet(r, x, groups);
    if (s.resample) x = decoder ? upsample(s, x) : conv(*s.resample, x);
  }
  if (!decoder) x = mid_block(cd.mid, std::move(x), groups);
  group_norm(x, cd.norm_out, groups, true, x);
  return conv(cd.conv_out, x);
}

}  // namespace

int64_t hy_decoded_frames(const HyVaeCoder& dec, int64_t t) {
  for (const auto& s : dec.stages)
    if (s.resample) t = 1 + s.t_factor * (t - 1);
  return t;
}
int64_t hy_decoded_side(const HyVaeCoder& dec, int64_t n) {
  for (const auto& s : dec.stages)
    if (s.resample) n *= s.s_factor;
  return n;
}
int64_t hy_encoded_frames(const HyVaeCoder& enc, int64_t t) {
  for (const auto& s : enc.stages)
    if (s.resample) t = (t - 1) / s.t_factor + 1;
  return t;
}
int64_t hy_encoded_side(const HyVaeCoder& enc, int64_t n) {
  for (const auto& s : enc.stages)
    if (s.resample) n = cpu::conv_out_size(n, 1, 1, 3, s.s_factor);
  return n;
}

HyClip hy_decode_tile(const HunyuanVae& vae, const HyClip& z) {
  JENGA_ASSERT(z.c == vae.config.latent_channels && z.t >= 1);
  return coder_forward(vae.decoder, pointwise(vae.post_quant, z), vae.config.norm_num_groups, true);
}

HyClip hy_encode_tile(const HunyuanVae& vae, const HyClip& x) {
  JENGA_ASSERT(vae.has_encoder && x.c == vae.config.in_channels && x.t >= 1);
  return pointwise(vae.quant_mean, coder_forward(vae.encoder, x, vae.config.norm_num_groups, false));
}

}  // namespace jenga::hunyuan
