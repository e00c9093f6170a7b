#include "models/hunyuan/hunyuan_vae_cuda.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backend/cuda/conv3d_igemm.h"
#include "backend/cuda/convert.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/event_profile.h"
#include "backend/cuda/im2col.h"
#include "backend/cuda/matmul.h"
#include "backend/cuda/norm.h"
#include "backend/cuda/softmax.h"
#include "core/dtype.h"
#include "core/error.h"
#include "models/hunyuan/hunyuan_vae_tiling.h"

namespace jenga::hunyuan {

namespace {

constexpr float kNormEps = 1e-6f;
constexpr int64_t kScoreBudget = int64_t{128} << 20;  // bytes of one block of f32 attention scores

Tensor device_bytes(int64_t bytes) { return Tensor::empty(DType::U8, Shape{std::max<int64_t>(bytes, 256)}, Device::CUDA); }

Tensor upload_as(const float* v, size_t n, DType dt) {
  std::vector<uint8_t> h(n * dtype_size(dt));
  convert(v, DType::F32, h.data(), dt, n);
  Tensor d = device_bytes(static_cast<int64_t>(h.size()));
  cuda::copy_to_device(d.data(), h.data(), h.size());
  return d;
}

// A kernel as fp16 [cout, ldk] (columns as the im2col rows, zero-padded to a multiple of 8 so
// every row starts 16-byte aligned), its bias in fp16 (fp16 results) and f32 (a tile's last layer).
struct DConv {
  Tensor w, b16, b32;
  int64_t cout = 0, cin = 0, k = 0, ldk = 0;
  int kt = 1, kh = 1, kw = 1, tstride = 1, sstride = 1;
  bool pointwise() const { return kt == 1 && kh == 1 && kw == 1 && tstride == 1 && sstride == 1; }
  size_t bytes() const { return static_cast<size_t>(cout * ldk * 2 + cout * 6); }
};

DConv upload(const cpu::PackedConv& p, int tstride = 1, int sstride = 1) {
  DConv d;
  d.cout = p.cout, d.cin = p.cin, d.kt = p.kt, d.kh = p.kh, d.kw = p.kw, d.tstride = tstride, d.sstride = sstride;
  d.k = p.k();
  d.ldk = (d.k + 7) / 8 * 8;
  std::vector<float> w(static_cast<size_t>(d.cout * d.ldk), 0.0f);
  for (int64_t o = 0; o < d.cout; ++o) std::copy_n(p.weight.data() + o * d.k, d.k, w.data() + o * d.ldk);
  d.w = upload_as(w.data(), w.size(), DType::F16);
  d.b16 = upload_as(p.bias.data(), p.bias.size(), DType::F16);
  d.b32 = upload_as(p.bias.data(), p.bias.size(), DType::F32);
  return d;
}
DConv upload(const HyVaeConv& c) { return upload(c.conv, c.tstride, c.sstride); }

struct DNorm {
  Tensor w, b;  // f32 [c]
};
DNorm upload(const HyVaeGroupNorm& n) {
  return {upload_as(n.weight.data(), n.weight.size(), DType::F32), upload_as(n.bias.data(), n.bias.size(), DType::F32)};
}

struct DRes {
  DNorm norm1, norm2;
  DConv conv1, conv2;
  std::optional<DConv> shortcut;
};
DRes upload(const HyVaeResBlock& r) {
  DRes d{upload(r.norm1), upload(r.norm2), upload(r.conv1), upload(r.conv2), std::nullopt};
  if (r.shortcut) d.shortcut = upload(*r.shortcut);
  return d;
}

struct DAttn {
  DNorm norm;
  DConv q, k, v, out;
};
struct DStage {
  std::vector<DRes> resnets;
  std::optional<DConv> resample;  // the decoder's upsample conv or the encoder's strided conv
  int tf = 1, sf = 1;
};
struct DCoder {
  bool decoder = true;
  DConv conv_in, conv_out;
  std::vector<DStage> stages;
  std::vector<DRes> mid_resnets;
  std::vector<std::optional<DAttn>> mid_attn;
  DNorm norm_out;
};

DCoder upload(const HyVaeCoder& c, bool decoder) {
  DCoder d;
  d.decoder = decoder;
  d.conv_in = upload(c.conv_in);
  d.conv_out = upload(c.conv_out);
  for (const auto& s : c.stages) {
    DStage ds;
    for (const auto& r : s.resnets) ds.resnets.push_back(upload(r));
    if (s.resample) ds.resample = upload(*s.resample);
    ds.tf = s.t_factor, ds.sf = s.s_factor;
    d.stages.push_back(std::move(ds));
  }
  for (const auto& r : c.mid.resnets) d.mid_resnets.push_back(upload(r));
  for (const auto& a : c.mid.attentions) {
    if (a)
      d.mid_attn.emplace_back(DAttn{upload(a->norm), upload(a->to_q), upload(a->to_k), upload(a->to_v), upload(a->to_out)});
    else
      d.mid_attn.emplace_back(std::nullopt);
  }
  d.norm_out = upload(c.norm_out);
  return d;
}

// A clip [t, h, w, c] fp16 on the device: in one of the workspace's activation slots (0..2), or
// elsewhere (slot -1). p is null during the dry run.
struct Act {
  void* p = nullptr;
  int slot = -1;
  int64_t t = 0, h = 0, w = 0, c = 0;
  int64_t pixels() const { return t * h * w; }
  int64_t elems() const { return pixels() * c; }
  uint16_t* at_row(int64_t r) const { return static_cast<uint16_t*>(p) + r * c; }
};

// What a tile needs (elements), found by a dry run of the same layer sequence.
struct Needs {
  std::array<int64_t, 3> act{};  // fp16, per slot
  int64_t col = 0;               // fp16 im2col tile
  int64_t qkv = 0;               // fp16, each of q, k, v
  int64_t scores = 0;            // f32 scores = fp16 probabilities
  int64_t out = 0;               // f32 output of the tile
  int64_t in = 0;                // f32 input of the tile
  int64_t channels = 0;          // widest GroupNorm
};

// Conv options: the pre-activation (GroupNorm coefficients, SiLU) and the causal upsample read.
struct Pre {
  bool norm = false, silu = false;
  int up_t = 1, up_s = 1;
};
constexpr Pre kNormSilu{true, true};

}  // namespace

struct HunyuanVaeCuda::Impl {
  int64_t groups = 32, latent = 16;
  int device = 0;  // the caller's device: tiles may come from the tiling's worker thread
  std::optional<DConv> post_quant, quant_mean;
  std::optional<DCoder> dec, enc;
  size_t weight_bytes = 0;
  bool implicit_gemm = true;  // stride-1 3x3x3 convs with cin % 32 == 0 (else im2col + cuBLASLt)
  cuda::Conv3x3x3Path conv_path = cuda::Conv3x3x3Path::kFastest;
  // The implicit-GEMM convs add up their output's per-channel sums (into `sums`) as they store
  // it, so the GroupNorm that follows needs no pass over the activation; stats_for is the
  // activation those sums belong to (null: none; any later conv or norm drops them).
  bool fused_stats = true;
  const void* stats_for = nullptr;
  int64_t col_budget = 0;     // bytes of one im2col tile / padded chunk
  cuda::MatmulRunner mm;
  enum Kind { kConvIn, kConvGemm, kNorm, kAttention, kIo };
  cuda::EventProfile prof{{"conv input (pad / im2col)", "conv gemm", "norm stats", "attention", "io"}};
  double conv_flops = 0;  // useful multiply-adds x 2 of the conv GEMMs, counted while profiling

  Needs have, need;
  bool dry = false;
  std::array<Tensor, 3> slots;
  Tensor col, q, k, v, scores, probs, out32, in32, coef, sums;

  // ---- workspace ----
  Act slot(int s, int64_t t, int64_t h, int64_t w, int64_t c) {
    Act a{nullptr, s, t, h, w, c};
    if (dry) {
      need.act[s] = std::max(need.act[s], a.elems());
    } else {
      JENGA_ASSERT(a.elems() <= have.act[s]);
      a.p = slots[s].data();
    }
    return a;
  }
  // The lowest slot other than those of a and b.
  static int free_slot(const Act& a, const Act* b = nullptr) {
    for (int s = 0; s < 3; ++s)
      if (s != a.slot && (!b || s != b->slot)) return s;
    JENGA_ASSERT(false);
    return -1;
  }
  size_t workspace_bytes() const {
    size_t n = 0;
    for (const auto& s : slots) n += s.nbytes();
    for (const Tensor* t : {&col, &q, &k, &v, &scores, &probs, &out32, &in32, &coef, &sums}) n += t->nbytes();
    return n;
  }
  // Grows what the dry run asked for beyond the current buffers (after the GPU is done with them).
  void ensure() {
    bool synced = false;
    auto realloc = [&](std::initializer_list<std::pair<Tensor*, int64_t>> bufs) {
      if (!synced) cuda::synchronize(), synced = true;
      for (auto [t, bytes] : bufs) {
        *t = Tensor();  // free first: the old and the new never coexist
        *t = device_bytes(bytes);
      }
    };
    for (size_t s = 0; s < slots.size(); ++s)
      if (need.act[s] > have.act[s]) realloc({{&slots[s], need.act[s] * 2}});
    if (need.col > have.col) realloc({{&col, need.col * 2}});
    if (need.qkv > have.qkv) realloc({{&q, need.qkv * 2}, {&k, need.qkv * 2}, {&v, need.qkv * 2}});
    if (need.scores > have.scores) realloc({{&scores, need.scores * 4}, {&probs, need.scores * 2}});
    if (need.out > have.out) realloc({{&out32, need.out * 4}});
    if (need.in > have.in) realloc({{&in32, need.in * 4}});
    if (need.channels > have.channels) realloc({{&coef, need.channels * 8}, {&sums, need.channels * 16}});
    have = need;  // need started as have and only grew
  }
  float* scale() { return coef.data_as<float>(); }
  float* shift() { return coef.data_as<float>() + have.channels; }

  // ---- layers ----
  // The GroupNorm of x as per-channel coefficients (scale(), shift()) for the next conv's im2col.
  void norm(const Act& x, const DNorm& n) {
    if (dry) {
      need.channels = std::max(need.channels, x.c);
      return;
    }
    const bool have_sums = stats_for != nullptr && stats_for == x.p;
    stats_for = nullptr;
    prof.run(kNorm, nullptr, [&] {
      if (have_sums)
        cuda::group_norm_coeffs_from_sums(sums.data_as<double>(), x.pixels(), x.c, groups, n.w.data_as<float>(),
                                          n.b.data_as<float>(), kNormEps, scale(), shift());
      else
        cuda::group_norm_coeffs(x.p, x.pixels(), x.c, groups, n.w.data_as<float>(), n.b.data_as<float>(), kNormEps,
                                sums.data_as<double>(), scale(), shift());
    });
  }

  // y = conv(pre(x)) + bias, plus y's old value when `accumulate` (a residual in place). The
  // result goes to y (fp16) or, with y32, to f32 rows there (y then only gives the shape).
  void conv(const DConv& c, const Act& x, const Act& y, const Pre& pre = {}, bool accumulate = false,
            float* y32 = nullptr) {
    const int64_t lt = 1 + pre.up_t * (x.t - 1), lh = x.h * pre.up_s, lw = x.w * pre.up_s;
    const int64_t to = (lt - 1) / c.tstride + 1;
    const int64_t ho = (lh + 2 * (c.kh / 2) - c.kh) / c.sstride + 1, wo = (lw + 2 * (c.kw / 2) - c.kw) / c.sstride + 1;
    JENGA_ASSERT(x.c == c.cin && y.t == to && y.h == ho && y.w == wo && y.c == c.cout);
    const int64_t rows = to * ho * wo;
    if (!dry) stats_for = nullptr;  // y changes (and `sums` may be reused below)
    if (implicit_gemm && c.kt == 3 && c.kh == 3 && c.kw == 3 && c.tstride == 1 && c.sstride == 1 && c.cin % 32 == 0)
      return conv_igemm(c, x, y, pre, accumulate, y32, lt, lh, lw);
    const bool direct = c.pointwise() && !pre.norm && !pre.silu && pre.up_t == 1 && pre.up_s == 1 && c.ldk == c.cin;
    const int64_t tile = std::max<int64_t>(1, std::min<int64_t>(rows, col_budget / (2 * c.ldk)));
    if (dry) {
      if (!direct) need.col = std::max(need.col, tile * c.ldk);
      return;
    }
    if (prof.on) conv_flops += 2.0 * static_cast<double>(rows) * static_cast<double>(c.cout * c.k);
    cuda::MatmulArgs a;
    a.n = c.cout, a.k = c.ldk;
    a.b = c.w.data(), a.ldb = c.ldk, a.b_nk = true;
    a.ab_f16 = true, a.accumulate = accumulate, a.ldd = c.cout;
    if (y32) {
      a.bias = c.b32.data_as<float>();
    } else {
      a.d_f16 = true;
      a.bias16 = c.b16.data();
    }
    auto dst = [&](int64_t r0) -> void* { return y32 ? static_cast<void*>(y32 + r0 * c.cout) : y.at_row(r0); };
    if (direct) {
      a.m = rows, a.a = x.p, a.lda = c.cin, a.d = dst(0);
      prof.run(kConvGemm, nullptr, [&] { mm.run(a); });
      return;
    }
    for (int64_t r0 = 0; r0 < rows; r0 += tile) {
      const int64_t n = std::min(tile, rows - r0);
      cuda::Im2colReplicateParams p;
      p.x = x.p, p.t = lt, p.h = lh, p.w = lw, p.cin = x.c, p.up_t = pre.up_t, p.up_s = pre.up_s;
      if (pre.norm) p.scale = scale(), p.shift = shift();
      p.silu = pre.silu;
      p.kt = c.kt, p.kh = c.kh, p.kw = c.kw, p.tstride = c.tstride, p.sstride = c.sstride;
      p.ho = ho, p.wo = wo, p.row0 = r0, p.rows = n, p.out = col.data(), p.ldk = c.ldk;
      prof.run(kConvIn, nullptr, [&] { cuda::im2col_replicate(p); });
      a.m = n, a.a = col.data(), a.lda = c.ldk, a.d = dst(r0);
      prof.run(kConvGemm, nullptr, [&] { mm.run(a); });
    }
  }

  // conv() for a stride-1 3x3x3 conv: chunks of output frames, each through a replicate-padded
  // copy of its input frames (pre-activation and upsample applied there) and the implicit GEMM.
  // The padded chunk lives in the im2col buffer.
  void conv_igemm(const DConv& c, const Act& x, const Act& y, const Pre& pre, bool accumulate, float* y32, int64_t lt,
                  int64_t lh, int64_t lw) {
    const int64_t frame = (lh + 2) * (lw + 2), slack = cuda::conv3x3x3_slack_rows(lw);
    const int64_t fit = (col_budget / (2 * c.cin) - slack) / frame - 2;
    const int64_t tc = std::clamp<int64_t>(fit, 1, lt);
    const bool stats = fused_stats && !y32 && c.cout <= cuda::kMaxStatsChannels;
    if (dry) {
      need.col = std::max(need.col, ((tc + 2) * frame + slack) * c.cin);
      if (stats) need.channels = std::max(need.channels, c.cout);
      return;
    }
    if (prof.on) conv_flops += 2.0 * static_cast<double>(lt * lh * lw) * static_cast<double>(c.cout * c.k);
    if (stats) prof.run(kNorm, nullptr, [&] { cuda::conv3x3x3_stats_clear(sums.data_as<double>(), c.cout); });
    for (int64_t j0 = 0; j0 < lt; j0 += tc) {
      const int64_t n = std::min(tc, lt - j0);
      cuda::CausalPadParams pp;
      pp.x = x.p, pp.t = lt, pp.h = lh, pp.w = lw, pp.cin = c.cin, pp.up_t = pre.up_t, pp.up_s = pre.up_s;
      if (pre.norm) pp.scale = scale(), pp.shift = shift();
      pp.silu = pre.silu, pp.j0 = j0, pp.tp = n + 2, pp.out = col.data();
      prof.run(kConvIn, nullptr, [&] { cuda::causal_pad(pp); });
      cuda::Conv3x3x3Params cp;
      cp.p = col.data(), cp.tout = n, cp.h = lh, cp.w = lw, cp.cin = c.cin;
      cp.weight = c.w.data(), cp.cout = c.cout, cp.ldk = c.ldk, cp.bias = c.b32.data_as<float>();
      const int64_t first = j0 * lh * lw * c.cout;
      cp.y = y32 ? static_cast<void*>(y32 + first) : static_cast<void*>(static_cast<uint16_t*>(y.p) + first);
      cp.y_f32 = y32 != nullptr, cp.accumulate = accumulate, cp.path = conv_path;
      if (stats) cp.stats = sums.data_as<double>();
      prof.run(kConvGemm, nullptr, [&] { cuda::conv3x3x3_igemm(cp); });
    }
    if (stats) stats_for = y.p;
  }

  Act resnet(const DRes& r, const Act& x) {
    norm(x, r.norm1);
    const Act h = slot(free_slot(x), x.t, x.h, x.w, r.conv1.cout);
    conv(r.conv1, x, h, kNormSilu);
    norm(h, r.norm2);  // dropout(0) is the identity
    if (r.shortcut) {
      const Act y = slot(free_slot(x, &h), x.t, x.h, x.w, r.conv2.cout);
      conv(*r.shortcut, x, y);
      conv(r.conv2, h, y, kNormSilu, /*accumulate=*/true);
      return y;
    }
    conv(r.conv2, h, x, kNormSilu, /*accumulate=*/true);  // x + conv2(...), in place
    return x;
  }

  // One head over all t*h*w tokens, frame-causal: the queries of frame f see frames 0..f, a key
  // prefix. Queries go in blocks of as many whole frames as the score budget holds (else parts of
  // a frame), each against the prefix of its last frame; rows of earlier frames in the block get
  // zero weight past their own prefix (softmax_rows_frame_causal_f16). No mask in memory, and few
  // GEMM shapes (each new shape costs a cuBLASLt plan).
  Act attention(const DAttn& a, const Act& x) {
    norm(x, a.norm);
    const int64_t L = x.pixels(), c = x.c, hw = x.h * x.w;
    const int64_t fit = std::max<int64_t>(1, kScoreBudget / (4 * L));
    const int64_t qb = fit >= hw ? std::min(fit / hw, x.t) * hw : fit;
    if (dry) {
      need.qkv = std::max(need.qkv, L * c);
      need.scores = std::max(need.scores, qb * L);
    }
    auto view = [&](Tensor& t) { return Act{dry ? nullptr : t.data(), -1, x.t, x.h, x.w, c}; };
    const Act qa = view(q), ka = view(k), va = view(v);
    conv(a.q, x, qa, Pre{true, false});
    conv(a.k, x, ka, Pre{true, false});
    conv(a.v, x, va, Pre{true, false});
    const Act o = slot(free_slot(x), x.t, x.h, x.w, c);
    if (!dry) prof.run(kAttention, nullptr, [&] {
      const float sc = 1.0f / std::sqrt(static_cast<float>(c));
      for (int64_t row = 0; row < L; row += qb) {
        const int64_t n = std::min(qb, L - row), keys = ((row + n - 1) / hw + 1) * hw;
        cuda::MatmulArgs qk;
        qk.m = n, qk.n = keys, qk.k = c, qk.ab_f16 = true;
        qk.a = qa.at_row(row), qk.lda = c;
        qk.b = ka.p, qk.ldb = c, qk.b_nk = true;
        qk.d = scores.data(), qk.ldd = keys;
        mm.run(qk);
        cuda::softmax_rows_frame_causal_f16(scores.data_as<float>(), probs.data(), n, keys, row, hw, sc);
        cuda::MatmulArgs pv;
        pv.m = n, pv.n = c, pv.k = keys, pv.ab_f16 = true;
        pv.a = probs.data(), pv.lda = keys;
        pv.b = va.p, pv.ldb = c, pv.b_nk = false;
        pv.d = o.at_row(row), pv.ldd = c, pv.d_f16 = true;
        mm.run(pv);
      }
    });
    conv(a.out, o, x, {}, /*accumulate=*/true);  // residual_connection, rescale 1
    return x;
  }

  Act mid(const DCoder& cd, Act x) {
    x = resnet(cd.mid_resnets[0], x);
    for (size_t i = 0; i < cd.mid_attn.size(); ++i) {
      if (cd.mid_attn[i]) x = attention(*cd.mid_attn[i], x);
      x = resnet(cd.mid_resnets[i + 1], x);
    }
    return x;
  }

  // conv_in, the stages and the mid block; ends with norm_out's coefficients set, for conv_out.
  Act coder(const DCoder& cd, Act x) {
    const DConv& ci = cd.conv_in;
    Act y = slot(free_slot(x), x.t, x.h, x.w, ci.cout);
    conv(ci, x, y);
    x = y;
    if (cd.decoder) x = mid(cd, x);
    for (const auto& s : cd.stages) {
      for (const auto& r : s.resnets) x = resnet(r, x);
      if (!s.resample) continue;
      const DConv& rc = *s.resample;
      if (cd.decoder) {  // UpsampleCausal3D (nearest, first frame spatially only) read by the conv
        y = slot(free_slot(x), 1 + s.tf * (x.t - 1), x.h * s.sf, x.w * s.sf, rc.cout);
        conv(rc, x, y, Pre{false, false, s.tf, s.sf});
      } else {  // DownsampleCausal3D: the strided CausalConv3d
        y = slot(free_slot(x), (x.t - 1) / rc.tstride + 1, (x.h + 2 * (rc.kh / 2) - rc.kh) / rc.sstride + 1,
                 (x.w + 2 * (rc.kw / 2) - rc.kw) / rc.sstride + 1, rc.cout);
        conv(rc, x, y);
      }
      x = y;
    }
    if (!cd.decoder) x = mid(cd, x);
    norm(x, cd.norm_out);
    return x;
  }

  // The tile's f32 input, staged on the device and rounded to fp16 there (the official fp16 run
  // casts its input too).
  Act input(const HyClip& in) {
    const Act x = slot(0, in.t, in.h, in.w, in.c);
    if (dry) {
      need.in = std::max(need.in, x.elems());
    } else {
      stats_for = nullptr;
      prof.run(kIo, nullptr, [&] {
        cuda::copy_to_device(in32.data(), in.v.data(), in.v.size() * sizeof(float));
        cuda::f32_to_f16(in32.data_as<float>(), x.p, x.elems());
      });
    }
    return x;
  }

  HyClip output(const Act& shape) {
    HyClip out(shape.t, shape.h, shape.w, shape.c);
    if (!dry) prof.run(kIo, nullptr, [&] { cuda::copy_to_host(out.v.data(), out32.data(), out.v.size() * sizeof(float)); });
    return out;
  }

  HyClip decode_pass(const HyClip& z) {
    Act x = input(z);
    const Act y = slot(free_slot(x), x.t, x.h, x.w, post_quant->cout);
    conv(*post_quant, x, y);
    x = coder(*dec, y);
    const Act o{nullptr, -1, x.t, x.h, x.w, dec->conv_out.cout};
    conv(dec->conv_out, x, o, kNormSilu, false, dry ? nullptr : out32.data_as<float>());
    if (dry) need.out = std::max(need.out, o.elems());
    return output(o);
  }

  HyClip encode_pass(const HyClip& frames) {
    Act x = coder(*enc, input(frames));
    const Act m = slot(free_slot(x), x.t, x.h, x.w, enc->conv_out.cout);  // mean and logvar
    conv(enc->conv_out, x, m, kNormSilu);
    const Act o{nullptr, -1, x.t, x.h, x.w, quant_mean->cout};
    conv(*quant_mean, m, o, {}, false, dry ? nullptr : out32.data_as<float>());
    if (dry) need.out = std::max(need.out, o.elems());
    return output(o);
  }

  // A dry run finds the tile's needs, the workspace grows to them if it must, then the real run.
  template <class Pass>
  HyClip run(const HyClip& in, Pass pass) {
    dry = true;
    need = have;
    (this->*pass)(in);
    dry = false;
    ensure();
    return (this->*pass)(in);
  }
};

HunyuanVaeCuda::HunyuanVaeCuda() : impl_(std::make_unique<Impl>()) {}
HunyuanVaeCuda::~HunyuanVaeCuda() = default;

std::unique_ptr<HunyuanVaeCuda> HunyuanVaeCuda::from_model(const HunyuanVae& vae, HyVaeCudaParts parts) {
  if (!cuda::available()) fail("HunyuanVideo VAE on CUDA: {}; use --device cpu", cuda::no_gpu_reason());
  if (parts.encoder && !vae.has_encoder)
    fail("{}: this HunyuanVideo VAE file has no encoder.* weights (decoder only)", vae.source);
  cuda::init();
  const size_t before = cuda::memory_stats().current;
  const int device = cuda::current_device();
  std::unique_ptr<HunyuanVaeCuda> m(new HunyuanVaeCuda());
  auto& d = *m->impl_;
  d.device = device;
  d.groups = vae.config.norm_num_groups;
  d.latent = vae.config.latent_channels;
  const char* im2col = std::getenv("JENGA_HY_VAE_IM2COL");  // A/B runs of the two conv paths
  d.implicit_gemm = parts.implicit_gemm && !(im2col && std::string(im2col) == "1");
  const char* kernel = std::getenv("JENGA_HY_VAE_CONV");  // A/B: "mma" keeps the mma.sync kernel on Hopper
  if (kernel && std::string(kernel) == "mma") d.conv_path = cuda::Conv3x3x3Path::kMma;
  const char* fused = std::getenv("JENGA_HY_VAE_FUSED_STATS");  // "0": GroupNorm reads its input (A/B)
  d.fused_stats = !(fused && std::string(fused) == "0");
  d.col_budget = std::max<int64_t>(parts.col_budget_bytes, 1);
  if (parts.decoder) {
    d.post_quant = upload(vae.post_quant);
    d.dec = upload(vae.decoder, true);
  }
  if (parts.encoder) {
    d.quant_mean = upload(vae.quant_mean);
    d.enc = upload(vae.encoder, false);
  }
  d.weight_bytes = cuda::memory_stats().current - before;
  return m;
}

HyClip HunyuanVaeCuda::decode_tile(const HyClip& z) {
  auto& d = *impl_;
  if (!d.dec) fail("HunyuanVideo VAE on CUDA: the decoder was not uploaded");
  if (z.c != d.latent) fail("HunyuanVideo VAE on CUDA: latents have {} channels, expected {}", z.c, d.latent);
  cuda::set_device(d.device);
  return d.run(z, &Impl::decode_pass);
}

HyClip HunyuanVaeCuda::encode_tile(const HyClip& x) {
  auto& d = *impl_;
  if (!d.enc) fail("HunyuanVideo VAE on CUDA: the encoder was not uploaded");
  if (x.c != d.enc->conv_in.cin)
    fail("HunyuanVideo VAE on CUDA: frames have {} channels, expected {}", x.c, d.enc->conv_in.cin);
  cuda::set_device(d.device);
  return d.run(x, &Impl::encode_pass);
}

size_t HunyuanVaeCuda::weight_bytes() const { return impl_->weight_bytes; }
bool HunyuanVaeCuda::implicit_gemm() const { return impl_->implicit_gemm; }
const char* HunyuanVaeCuda::conv_kernel() const {
  if (!impl_->implicit_gemm) return "im2col + cublaslt";
  cuda::Conv3x3x3Params probe;  // the VAE's 3x3x3 convs have 128-512 channels: cin % 64 == 0
  probe.cin = 128, probe.path = impl_->conv_path;
  return cuda::conv3x3x3_uses_wgmma(probe) ? "implicit gemm (wgmma)" : "implicit gemm (mma.sync)";
}
void HunyuanVaeCuda::set_breakdown(bool on) { impl_->prof.on = on; }
std::vector<std::pair<std::string, double>> HunyuanVaeCuda::take_breakdown() {
  auto t = impl_->prof.totals();
  t.emplace_back("conv GFLOP", impl_->conv_flops / 1e9);
  impl_->prof.reset();
  impl_->conv_flops = 0;
  return t;
}
size_t HunyuanVaeCuda::workspace_bytes() const { return impl_->workspace_bytes(); }

Tensor hunyuan_vae_decode_cuda(const HunyuanVae& vae, const Tensor& latents, bool tiling, bool clamp) {
  auto gpu = HunyuanVaeCuda::from_model(vae);
  return hunyuan_vae_decode(vae, latents, tiling, clamp, [&](const HyClip& z) { return gpu->decode_tile(z); });
}

Tensor hunyuan_vae_encode_cuda(const HunyuanVae& vae, const Tensor& frames, bool tiling) {
  auto gpu = HunyuanVaeCuda::from_model(vae, {.decoder = false, .encoder = true});
  return hunyuan_vae_encode(vae, frames, tiling, [&](const HyClip& x) { return gpu->encode_tile(x); });
}

}  // namespace jenga::hunyuan
