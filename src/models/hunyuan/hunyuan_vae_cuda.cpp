#include "models/hunyuan/hunyuan_vae_cuda.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "backend/cuda/convert.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/elementwise.h"
#include "backend/cuda/im2col.h"
#include "backend/cuda/matmul.h"
#include "backend/cuda/norm.h"
#include "backend/cuda/softmax.h"
#include "backend/cuda/video_layout.h"
#include "core/dtype.h"
#include "core/error.h"
#include "models/hunyuan/hunyuan_vae_tiling.h"

namespace jenga::hunyuan {

namespace {

constexpr float kNormEps = 1e-6f;
constexpr int64_t kIm2colBudget = int64_t{256} << 20;  // bytes of one bf16 im2col tile

Tensor upload_f32(const std::vector<float>& v) {
  Tensor d = Tensor::empty(DType::F32, Shape{static_cast<int64_t>(v.size())}, Device::CUDA);
  cuda::copy_to_device(d.data(), v.data(), v.size() * sizeof(float));
  return d;
}

// A kernel as bf16 [cout, ldk] (columns as the im2col rows, zero-padded to a multiple of 8).
struct DConv {
  Tensor w, b;
  int64_t cout = 0, cin = 0, k = 0, ldk = 0;
  int kt = 1, kh = 1, kw = 1, tstride = 1, sstride = 1;
};

DConv upload(const cpu::PackedConv& p, int tstride = 1, int sstride = 1) {
  DConv d;
  d.cout = p.cout, d.cin = p.cin, d.kt = p.kt, d.kh = p.kh, d.kw = p.kw, d.tstride = tstride, d.sstride = sstride;
  d.k = p.k();
  d.ldk = (d.k + 7) / 8 * 8;
  std::vector<uint8_t> w(static_cast<size_t>(d.cout * d.ldk) * 2, 0);
  for (int64_t o = 0; o < d.cout; ++o)
    convert(p.weight.data() + o * d.k, DType::F32, w.data() + static_cast<size_t>(o * d.ldk) * 2, DType::BF16,
            static_cast<size_t>(d.k));
  d.w = Tensor::empty(DType::BF16, Shape{d.cout, d.ldk}, Device::CUDA);
  cuda::copy_to_device(d.w.data(), w.data(), w.size());
  d.b = upload_f32(p.bias);
  return d;
}

struct DNorm {
  Tensor w, b;
};
DNorm upload(const HyVaeGroupNorm& n) { return {upload_f32(n.weight), upload_f32(n.bias)}; }

struct DRes {
  DNorm norm1, norm2;
  DConv conv1, conv2;
  std::optional<DConv> shortcut;
};
struct DAttn {
  DNorm norm;
  DConv q, k, v, out;
};
struct DStage {
  std::vector<DRes> resnets;
  std::optional<DConv> up;
  int tf = 1, sf = 1;
};

// A device clip [t, h, w, c] f32.
struct DClip {
  Tensor v;
  int64_t t = 0, h = 0, w = 0, c = 0;
  DClip() = default;
  DClip(int64_t t_, int64_t h_, int64_t w_, int64_t c_)
      : v(Tensor::empty(DType::F32, Shape{t_ * h_ * w_ * c_}, Device::CUDA)), t(t_), h(h_), w(w_), c(c_) {}
  int64_t pixels() const { return t * h * w; }
  float* p() { return v.data_as<float>(); }
  const float* p() const { return v.data_as<float>(); }
};

DRes upload(const HyVaeResBlock& r) {
  DRes d{upload(r.norm1), upload(r.norm2), upload(r.conv1.conv), upload(r.conv2.conv), std::nullopt};
  if (r.shortcut) d.shortcut = upload(r.shortcut->conv);
  return d;
}

}  // namespace

struct HunyuanVaeCuda::Impl {
  int64_t groups = 32, latent = 16, out_channels = 3;
  DConv post_quant, conv_in, conv_out;
  std::vector<DRes> mid_resnets;
  std::vector<std::optional<DAttn>> mid_attn;
  std::vector<DStage> stages;
  DNorm norm_out;
  cuda::MatmulRunner mm;
  Tensor stats;  // 2 * groups doubles

  DClip conv(const DConv& c, const DClip& x) {
    JENGA_ASSERT(x.c == c.cin);
    const int64_t to = (x.t - 1) / c.tstride + 1;
    const int64_t ho = (x.h + 2 * (c.kh / 2) - c.kh) / c.sstride + 1, wo = (x.w + 2 * (c.kw / 2) - c.kw) / c.sstride + 1;
    DClip y(to, ho, wo, c.cout);
    const int64_t rows = to * ho * wo;
    const int64_t tile = std::max<int64_t>(1, std::min<int64_t>(rows, kIm2colBudget / (2 * c.ldk)));
    Tensor col = Tensor::empty(DType::BF16, Shape{tile * c.ldk}, Device::CUDA);
    for (int64_t r0 = 0; r0 < rows; r0 += tile) {
      const int64_t n = std::min(tile, rows - r0);
      cuda::Im2colReplicateParams p;
      p.x = x.p(), p.t = x.t, p.h = x.h, p.w = x.w, p.cin = x.c;
      p.kt = c.kt, p.kh = c.kh, p.kw = c.kw, p.tstride = c.tstride, p.sstride = c.sstride;
      p.ho = ho, p.wo = wo, p.row0 = r0, p.rows = n, p.out = col.data(), p.ldk = c.ldk;
      cuda::im2col_replicate(p);
      cuda::MatmulArgs a;
      a.m = n, a.n = c.cout, a.k = c.ldk;
      a.a = col.data(), a.lda = c.ldk;
      a.b = c.w.data(), a.ldb = c.ldk, a.b_nk = true;
      a.d = y.p() + r0 * c.cout, a.ldd = c.cout;
      a.bias = c.b.data_as<float>();
      mm.run(a);
    }
    return y;
  }

  void norm(const DClip& x, DClip& y, const DNorm& n, bool silu) {
    cuda::group_norm(x.p(), y.p(), x.pixels(), x.c, groups, n.w.data_as<float>(), n.b.data_as<float>(), kNormEps,
                        silu, stats.data_as<double>());
  }

  DClip resnet(const DRes& r, const DClip& x) {
    DClip h(x.t, x.h, x.w, x.c);
    norm(x, h, r.norm1, true);
    h = conv(r.conv1, h);
    norm(h, h, r.norm2, true);
    h = conv(r.conv2, h);
    if (r.shortcut) {
      const DClip s = conv(*r.shortcut, x);
      cuda::add_inplace(h.p(), s.p(), h.pixels() * h.c);
    } else {
      cuda::add_inplace(h.p(), x.p(), h.pixels() * h.c);
    }
    return h;
  }

  DClip attention(const DAttn& a, const DClip& x) {
    DClip xn(x.t, x.h, x.w, x.c);
    norm(x, xn, a.norm, false);
    const int64_t c = x.c, hw = x.h * x.w, L = x.pixels();
    auto to_bf16 = [&](const DClip& f) {
      Tensor b = Tensor::empty(DType::BF16, Shape{L * c}, Device::CUDA);
      cuda::f32_to_bf16(f.p(), b.data(), L * c);
      return b;
    };
    const Tensor q = to_bf16(conv(a.q, xn)), k = to_bf16(conv(a.k, xn)), v = to_bf16(conv(a.v, xn));
    DClip o(x.t, x.h, x.w, c);
    Tensor s = Tensor::empty(DType::F32, Shape{hw * L}, Device::CUDA);
    Tensor pr = Tensor::empty(DType::BF16, Shape{hw * L}, Device::CUDA);
    const float scale = 1.0f / std::sqrt(static_cast<float>(c));
    for (int64_t f = 0; f < x.t; ++f) {
      const int64_t keys = (f + 1) * hw;  // frames 0..f: the frame-causal mask as a key prefix
      cuda::MatmulArgs qk;
      qk.m = hw, qk.n = keys, qk.k = c;
      qk.a = static_cast<const uint16_t*>(q.data()) + f * hw * c, qk.lda = c;
      qk.b = k.data(), qk.ldb = c, qk.b_nk = true;
      qk.d = s.data(), qk.ldd = keys;
      mm.run(qk);
      cuda::softmax_rows(s.data_as<float>(), pr.data(), false, hw, keys, scale);
      cuda::MatmulArgs pv;
      pv.m = hw, pv.n = c, pv.k = keys;
      pv.a = pr.data(), pv.lda = keys;
      pv.b = v.data(), pv.ldb = c, pv.b_nk = false;
      pv.d = o.p() + f * hw * c, pv.ldd = c;
      mm.run(pv);
    }
    DClip y = conv(a.out, o);
    cuda::add_inplace(y.p(), x.p(), y.pixels() * y.c);
    return y;
  }
};

HunyuanVaeCuda::HunyuanVaeCuda() : impl_(std::make_unique<Impl>()) {}
HunyuanVaeCuda::~HunyuanVaeCuda() = default;

std::unique_ptr<HunyuanVaeCuda> HunyuanVaeCuda::from_model(const HunyuanVae& vae) {
  if (!cuda::available()) fail("HunyuanVideo VAE on CUDA: no CUDA device found; use --device cpu");
  cuda::init();
  std::unique_ptr<HunyuanVaeCuda> m(new HunyuanVaeCuda());
  auto& d = *m->impl_;
  const auto& dec = vae.decoder;
  d.groups = vae.config.norm_num_groups;
  d.latent = vae.config.latent_channels;
  d.out_channels = vae.config.out_channels;
  d.post_quant = upload(vae.post_quant);
  d.conv_in = upload(dec.conv_in.conv);
  for (const auto& r : dec.mid.resnets) d.mid_resnets.push_back(upload(r));
  for (const auto& a : dec.mid.attentions) {
    if (!a) {
      d.mid_attn.emplace_back(std::nullopt);
      continue;
    }
    d.mid_attn.emplace_back(DAttn{upload(a->norm), upload(a->to_q), upload(a->to_k), upload(a->to_v), upload(a->to_out)});
  }
  for (const auto& s : dec.stages) {
    DStage ds;
    for (const auto& r : s.resnets) ds.resnets.push_back(upload(r));
    if (s.resample) ds.up = upload(s.resample->conv);
    ds.tf = s.t_factor, ds.sf = s.s_factor;
    d.stages.push_back(std::move(ds));
  }
  d.norm_out = upload(dec.norm_out);
  d.conv_out = upload(dec.conv_out.conv);
  d.stats = Tensor::empty(DType::F32, Shape{4 * d.groups}, Device::CUDA);  // 2 * groups doubles
  return m;
}

HyClip HunyuanVaeCuda::decode_tile(const HyClip& z) {
  auto& d = *impl_;
  if (z.c != d.latent) fail("HunyuanVideo VAE on CUDA: latents have {} channels, expected {}", z.c, d.latent);
  DClip x(z.t, z.h, z.w, z.c);
  cuda::copy_to_device(x.p(), z.v.data(), z.v.size() * sizeof(float));
  x = d.conv(d.post_quant, x);
  x = d.conv(d.conv_in, x);
  x = d.resnet(d.mid_resnets[0], x);
  for (size_t i = 0; i < d.mid_attn.size(); ++i) {
    if (d.mid_attn[i]) x = d.attention(*d.mid_attn[i], x);
    x = d.resnet(d.mid_resnets[i + 1], x);
  }
  for (const auto& s : d.stages) {
    for (const auto& r : s.resnets) x = d.resnet(r, x);
    if (s.up) {
      DClip u(1 + s.tf * (x.t - 1), x.h * s.sf, x.w * s.sf, x.c);
      cuda::upsample_nearest_causal(x.p(), u.p(), x.t, x.h, x.w, x.c, s.tf, s.sf);
      x = d.conv(*s.up, u);
    }
  }
  d.norm(x, x, d.norm_out, true);
  x = d.conv(d.conv_out, x);
  HyClip out(x.t, x.h, x.w, x.c);
  cuda::copy_to_host(out.v.data(), x.p(), out.v.size() * sizeof(float));
  return out;
}

Tensor hunyuan_vae_decode_cuda(const HunyuanVae& vae, const Tensor& latents, bool tiling, bool clamp) {
  auto gpu = HunyuanVaeCuda::from_model(vae);
  return hunyuan_vae_decode(vae, latents, tiling, clamp, [&](const HyClip& z) { return gpu->decode_tile(z); });
}

}  // namespace jenga::hunyuan
