#include "models/wan/vae_cuda.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <variant>
#include <vector>

#include "backend/cuda/buffer_pool.h"
#include "backend/cuda/convert.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/event_profile.h"
#include "backend/cuda/im2col.h"
#include "backend/cuda/matmul.h"
#include "backend/cuda/norm.h"
#include "backend/cuda/softmax.h"
#include "backend/cuda/video_layout.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "core/tensor.h"
#include "models/wan/vae_cpu.h"
#include "models/wan/vae_model.h"

namespace jenga::wan {

namespace {

cudaStream_t cs(void* s) { return static_cast<cudaStream_t>(s); }

Tensor upload_f32(const std::vector<float>& v) {
  Tensor d = Tensor::empty(DType::F32, Shape{static_cast<int64_t>(v.size())}, Device::CUDA);
  cuda::copy_to_device(d.data(), v.data(), v.size() * 4);
  return d;
}

// A convolution's kernel as bf16 [cout, ldk] (columns (dt, di, dj, cin) as the im2col rows,
// zero-padded to ldk, a multiple of 8, so every im2col row starts 16-byte aligned), f32 bias.
struct DevConv {
  Tensor w, b;
  int64_t cout = 0, cin = 0, k = 0, ldk = 0;
  int kt = 1, kh = 1, kw = 1;
};

DevConv upload_conv(const cpu::PackedConv& p, bool f32) {
  DevConv d;
  d.cout = p.cout, d.cin = p.cin, d.kt = p.kt, d.kh = p.kh, d.kw = p.kw;
  d.k = p.k();
  d.ldk = (d.k + 7) / 8 * 8;
  const DType dt = f32 ? DType::F32 : DType::BF16;
  const size_t es = dtype_size(dt);
  std::vector<uint8_t> w(static_cast<size_t>(d.cout * d.ldk) * es, 0);
  for (int64_t o = 0; o < d.cout; ++o)
    convert(p.weight.data() + o * d.k, DType::F32, w.data() + static_cast<size_t>(o * d.ldk) * es, dt,
            static_cast<size_t>(d.k));
  d.w = Tensor::empty(dt, Shape{d.cout, d.ldk}, Device::CUDA);
  cuda::copy_to_device(d.w.data(), w.data(), w.size());
  d.b = upload_f32(p.bias);
  return d;
}

struct DevCausal {
  DevConv conv;
  int pad = 0, slot = -1;
};
struct DevRes {
  Tensor gamma1, gamma2;
  DevCausal conv1, conv2;
  bool has_shortcut = false;
  DevConv shortcut;
};
struct DevAttn {
  Tensor gamma;
  DevConv to_qkv, proj;
};
struct DevResample {
  ResampleMode mode = ResampleMode::Upsample2d;
  DevConv spatial, time_conv;
  int slot = -1;
};
using DevLayer = std::variant<DevRes, DevAttn, DevResample>;

// Frames [t, h, w, c], channels-last, f32 or bf16, in a pool buffer.
struct Act {
  int64_t t = 0, h = 0, w = 0, c = 0;
  bool f32 = true;
  std::shared_ptr<void> buf;
  int64_t frame_elems() const { return h * w * c; }
  int64_t elems() const { return t * frame_elems(); }
  size_t elem_bytes() const { return f32 ? 4 : 2; }
  void* data() const { return buf.get(); }
  float* f() const { return static_cast<float*>(buf.get()); }
};

// A temporal cache slot: up to 2 frames of a conv's input (see VaeTemporalCache).
struct Slot {
  bool started = false;
  int64_t n = 0;  // frames held
  Act frames;     // capacity 2 frames
};

// JENGA_VAE_PROFILE=1: GPU time per kind of work (cuda::EventProfile), printed to stderr after
// each decode. Off by default: no events are recorded.
enum ProfileKind { kIm2col, kConvGemm, kNorm, kAttention, kCopy };

// Two reusable "frame t done" events for decode's progress (none when n = 0).
struct FrameEvents {
  std::vector<cudaEvent_t> ev;
  explicit FrameEvents(int n) : ev(static_cast<size_t>(n), nullptr) {
    for (auto& e : ev) JENGA_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  }
  FrameEvents(const FrameEvents&) = delete;
  FrameEvents& operator=(const FrameEvents&) = delete;
  ~FrameEvents() {
    for (auto e : ev)
      if (e) cudaEventDestroy(e);
  }
  void record(int64_t t, void* stream) {
    JENGA_CUDA_CHECK(cudaEventRecord(ev[static_cast<size_t>(t) % ev.size()], static_cast<cudaStream_t>(stream)));
  }
  void wait(int64_t t) { JENGA_CUDA_CHECK(cudaEventSynchronize(ev[static_cast<size_t>(t) % ev.size()])); }
};

}  // namespace

struct WanVaeCuda::Impl {
  bool f32 = false;  // VaePrecision::F32: conv operands (norm outputs, im2col, weights) in f32
  int64_t z_dim = 0;
  DevConv post_quant;
  DevCausal conv_in, conv_out;
  std::vector<DevLayer> layers;
  Tensor head_gamma, mean, inv_std;
  int cache_slots = 0;
  int64_t tf = 1, sf = 1;
  size_t weight_bytes = 0;

  cuda::MatmulRunner mm;
  cuda::BufferPool pool;
  Tensor im2col_ws;
  size_t im2col_budget = size_t{512} << 20;
  std::vector<Slot> slots;
  void* stream = nullptr;
  cuda::EventProfile prof{{"im2col", "conv gemm", "norm", "attention", "copies"}};

  Act new_act(int64_t t, int64_t h, int64_t w, int64_t c, bool f32) {
    Act a;
    a.t = t, a.h = h, a.w = w, a.c = c, a.f32 = f32;
    a.buf = pool.get(static_cast<size_t>(std::max<int64_t>(a.elems(), 1)) * a.elem_bytes());
    return a;
  }

  void* workspace(size_t bytes) {
    if (im2col_ws.nbytes() < bytes) {
      JENGA_CUDA_CHECK(cudaStreamSynchronize(cs(stream)));  // the old tile may still be read
      im2col_ws = Tensor();
      im2col_ws = Tensor::empty(DType::U8, Shape{static_cast<int64_t>(bytes)}, Device::CUDA);
    }
    return im2col_ws.data();
  }

  // out[tout*ho*wo, cout] (+)= conv over the window [src0: n0 frames] + [src1 frames].
  struct ConvIn {
    const void* src0 = nullptr;
    int64_t n0 = 0;
    const void* src1 = nullptr;
    bool f32 = false;
    int64_t h = 0, w = 0;  // logical input size
    bool up2 = false;
  };
  void conv(const DevConv& cv, const ConvIn& in, int pad_top, int pad_left, int stride, int tstride, int64_t tout,
            int64_t ho, int64_t wo, float* out, bool accumulate) {
    const int64_t m = tout * ho * wo;
    if (m <= 0) return;
    cuda::MatmulArgs g;
    g.n = cv.cout;
    g.b = cv.w.data();
    g.ldb = cv.ldk;
    g.b_nk = true;
    g.ldd = cv.cout;
    g.bias = cv.b.data_as<float>();
    g.accumulate = accumulate;
    g.ab_f32 = f32;
    const size_t es = f32 ? 4 : 2;
    const bool direct = cv.kt == 1 && cv.kh == 1 && cv.kw == 1 && in.f32 == f32 && !in.up2 && stride == 1 &&
                        in.n0 == 0 && pad_top == 0 && pad_left == 0;
    if (direct) {  // a 1x1x1 conv of frames in the operand type: the frames are the GEMM operand
      g.m = m, g.k = cv.cin, g.a = in.src1, g.lda = cv.cin, g.d = out;
      prof.run(kConvGemm, stream, [&] { mm.run(g, stream); });
      return;
    }
    // Row tiles of the im2col matrix within the budget; tiles start on multiples of 64 rows
    // so f32 output tiles stay 256-byte aligned.
    const int64_t fit = static_cast<int64_t>(im2col_budget / (static_cast<size_t>(cv.ldk) * es));
    const int64_t tile = std::min(m, std::max<int64_t>(64, fit / 64 * 64));
    void* ws = workspace(static_cast<size_t>(tile * cv.ldk) * es);
    cuda::Im2colParams p;
    p.src0 = in.src0, p.n0 = in.n0, p.src1 = in.src1, p.f32_input = in.f32, p.cin = cv.cin;
    p.h = in.h, p.w = in.w, p.up2 = in.up2, p.kt = cv.kt, p.kh = cv.kh, p.kw = cv.kw;
    p.pad_top = pad_top, p.pad_left = pad_left, p.stride = stride, p.tstride = tstride;
    p.ho = ho, p.wo = wo, p.out = ws, p.ldk = cv.ldk, p.out_f32 = f32;
    for (int64_t r0 = 0; r0 < m; r0 += tile) {
      const int64_t rows = std::min(tile, m - r0);
      if (cv.ldk != cv.k) JENGA_CUDA_CHECK(cudaMemsetAsync(ws, 0, static_cast<size_t>(rows * cv.ldk) * es, cs(stream)));
      p.row0 = r0, p.rows = rows;
      prof.run(kIm2col, stream, [&] { cuda::im2col(p, stream); });
      g.m = rows, g.k = cv.ldk, g.a = ws, g.lda = cv.ldk, g.d = out + r0 * cv.cout;
      prof.run(kConvGemm, stream, [&] { mm.run(g, stream); });
    }
  }

  void copy_frame(const void* src, void* dst, size_t bytes) {
    if (src != dst)
      prof.run(kCopy, stream,
               [&] { JENGA_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cs(stream))); });
  }

  // A kernel-3 temporal conv over [cached frames] + x; keeps the last `keep` window frames.
  // With `acc`, adds into it (the residual) and returns it.
  Act temporal_conv(const DevConv& cv, int pad, int tstride, Slot& slot, const Act& x, int64_t keep, Act* acc = nullptr) {
    JENGA_ASSERT(cv.kt == 3 && cv.cin == x.c);
    const int64_t n = slot.n + x.t;
    const int64_t tout = n < 3 ? 0 : (n - 3) / tstride + 1;
    const int64_t ho = x.h + 2 * pad - cv.kh + 1, wo = x.w + 2 * pad - cv.kw + 1;
    Act y = acc ? *acc : new_act(tout, ho, wo, cv.cout, true);
    JENGA_ASSERT(y.t == tout && y.h == ho && y.w == wo && y.c == cv.cout);
    conv(cv, ConvIn{slot.frames.data(), slot.n, x.data(), x.f32, x.h, x.w, false}, pad, pad, 1, tstride, tout, ho, wo,
         y.f(), acc != nullptr);
    // New cache: the last min(keep, n) window frames, copied oldest first (a frame moves only
    // towards the front, so in-place shifts are safe in stream order).
    const int64_t k = std::min(keep, n);
    const size_t fb = static_cast<size_t>(x.frame_elems()) * x.elem_bytes();
    auto* cache = static_cast<char*>(slot.frames.data());
    for (int64_t i = 0; i < k; ++i) {
      const int64_t src = n - k + i;
      const char* from = src < slot.n ? cache + src * fb : static_cast<const char*>(x.data()) + (src - slot.n) * fb;
      copy_frame(from, cache + i * fb, fb);
    }
    slot.n = k;
    return y;
  }

  void start_slot(Slot& s, const Act& like) {
    s.started = true;
    s.frames = new_act(2, like.h, like.w, like.c, like.f32);
    JENGA_CUDA_CHECK(cudaMemsetAsync(s.frames.data(), 0, static_cast<size_t>(s.frames.elems()) * s.frames.elem_bytes(),
                                     cs(stream)));
    s.n = 0;
  }

  Act causal(const DevCausal& c, const Act& x, Act* acc = nullptr) {
    if (c.conv.kt == 1) {
      const int64_t ho = x.h + 2 * c.pad - c.conv.kh + 1, wo = x.w + 2 * c.pad - c.conv.kw + 1;
      Act y = acc ? *acc : new_act(x.t, ho, wo, c.conv.cout, true);
      conv(c.conv, ConvIn{nullptr, 0, x.data(), x.f32, x.h, x.w, false}, c.pad, c.pad, 1, 1, x.t, ho, wo, y.f(),
           acc != nullptr);
      return y;
    }
    Slot& s = slots[static_cast<size_t>(c.slot)];
    if (!s.started) {  // two zero frames: the official front padding
      start_slot(s, x);
      s.n = 2;
    }
    return temporal_conv(c.conv, c.pad, 1, s, x, 2, acc);
  }

  Act norm(const Act& x, const Tensor& gamma, bool silu) {
    Act y = new_act(x.t, x.h, x.w, x.c, f32);
    prof.run(kNorm, stream, [&] {
      cuda::l2_normalize_scale(x.f(), gamma.data_as<float>(), y.data(), f32, x.t * x.h * x.w, x.c, silu, stream);
    });
    return y;
  }

  Act res_block(const DevRes& b, Act x) {
    Act h = causal(b.conv1, norm(x, b.gamma1, true));
    const Act n2 = norm(h, b.gamma2, true);
    h = Act();
    Act out;
    if (b.has_shortcut) {
      out = new_act(x.t, x.h, x.w, b.shortcut.cout, true);
      conv(b.shortcut, ConvIn{nullptr, 0, x.data(), true, x.h, x.w, false}, 0, 0, 1, 1, x.t, x.h, x.w, out.f(), false);
    } else {
      out = x;  // the residual is accumulated in place
    }
    x = Act();
    return causal(b.conv2, n2, &out);
  }

  Act attn_block(const DevAttn& a, Act x) {
    const int64_t c = x.c, n = x.h * x.w;
    const size_t es = f32 ? 4 : 2;  // operand element size
    const Act xn = norm(x, a.gamma, false);
    auto qkv32 = pool.get(static_cast<size_t>(n * 3 * c) * 4);
    auto qkv16 = f32 ? qkv32 : pool.get(static_cast<size_t>(n * 3 * c) * 2);
    auto s = pool.get(static_cast<size_t>(n * n) * 4);
    auto p = pool.get(static_cast<size_t>(n * n) * es);
    auto o = pool.get(static_cast<size_t>(n * c) * es);
    const float scale = 1.0f / std::sqrt(static_cast<float>(c));
    for (int64_t t = 0; t < x.t; ++t) {
      const auto* xf = static_cast<const char*>(xn.data()) + static_cast<size_t>(t * n * c) * es;
      cuda::MatmulArgs g;  // qkv = to_qkv(x_norm), f32 (then bf16)
      g.ab_f32 = f32;
      g.m = n, g.n = 3 * c, g.k = c, g.a = xf, g.lda = c, g.b = a.to_qkv.w.data(), g.ldb = a.to_qkv.ldk;
      g.d = qkv32.get(), g.ldd = 3 * c, g.bias = a.to_qkv.b.data_as<float>();
      mm.run(g, stream);
      if (!f32) cuda::f32_to_bf16(static_cast<float*>(qkv32.get()), qkv16.get(), n * 3 * c, stream);
      const auto* q = static_cast<const char*>(qkv16.get());
      const size_t cb = static_cast<size_t>(c) * es;  // bytes of c channels
      g = cuda::MatmulArgs();  // s = q k^T
      g.ab_f32 = f32;
      g.m = n, g.n = n, g.k = c, g.a = q, g.lda = 3 * c, g.b = q + cb, g.ldb = 3 * c, g.d = s.get(), g.ldd = n;
      mm.run(g, stream);
      cuda::softmax_rows(static_cast<float*>(s.get()), p.get(), f32, n, n, scale, stream);
      g = cuda::MatmulArgs();  // o = p v
      g.ab_f32 = f32;
      g.m = n, g.n = c, g.k = n, g.a = p.get(), g.lda = n, g.b = q + 2 * cb, g.ldb = 3 * c, g.b_nk = false;
      g.d = o.get(), g.ldd = c, g.d_bf16 = !f32;
      mm.run(g, stream);
      g = cuda::MatmulArgs();  // x += proj(o)
      g.ab_f32 = f32;
      g.m = n, g.n = c, g.k = c, g.a = o.get(), g.lda = c, g.b = a.proj.w.data(), g.ldb = a.proj.ldk;
      g.d = x.f() + t * n * c, g.ldd = c, g.bias = a.proj.b.data_as<float>(), g.accumulate = true;
      mm.run(g, stream);
    }
    return x;
  }

  // Per frame: nearest-exact x2 (read through the im2col) then a 3x3 conv, pad 1.
  Act spatial_up(const DevConv& cv, const Act& x) {
    Act y = new_act(x.t, 2 * x.h, 2 * x.w, cv.cout, true);
    conv(cv, ConvIn{nullptr, 0, x.data(), x.f32, 2 * x.h, 2 * x.w, true}, 1, 1, 1, 1, x.t, y.h, y.w, y.f(), false);
    return y;
  }

  Act resample(const DevResample& r, const Act& x) {
    switch (r.mode) {
      case ResampleMode::Upsample2d:
        return spatial_up(r.spatial, x);
      case ResampleMode::Upsample3d: {
        Slot& s = slots[static_cast<size_t>(r.slot)];
        if (!s.started) {  // 'Rep': the first chunk keeps its frame count; cache = zeros
          start_slot(s, x);
          s.n = 2;
          return spatial_up(r.spatial, x);
        }
        const Act tc = temporal_conv(r.time_conv, 0, 1, s, x, 2);  // [t, h, w, 2c]
        // Channel halves become two consecutive frames: frame 2i+s takes channels [s*c, (s+1)*c).
        Act two = new_act(2 * tc.t, x.h, x.w, x.c, true);
        for (int64_t t = 0; t < tc.t; ++t)
          for (int64_t h = 0; h < 2; ++h)
            JENGA_CUDA_CHECK(cudaMemcpy2DAsync(two.f() + (2 * t + h) * two.frame_elems(), x.c * 4,
                                               tc.f() + t * tc.frame_elems() + h * x.c, 2 * x.c * 4, x.c * 4,
                                               x.h * x.w, cudaMemcpyDeviceToDevice, cs(stream)));
        return spatial_up(r.spatial, two);
      }
      default:
        break;
    }
    fail("the CUDA VAE runs the decoder only; a downsampling layer was given");
  }

  Act coder_forward(Act x) {
    Act h = causal(conv_in, x);
    x = Act();
    for (const auto& layer : layers) {
      if (auto* r = std::get_if<DevRes>(&layer))
        h = res_block(*r, std::move(h));
      else if (auto* a = std::get_if<DevAttn>(&layer))
        prof.run(kAttention, stream, [&] { h = attn_block(*a, std::move(h)); });
      else
        h = resample(std::get<DevResample>(layer), h);
    }
    return causal(conv_out, norm(h, head_gamma, true));
  }
};

WanVaeCuda::WanVaeCuda() : impl_(std::make_unique<Impl>()) {}
WanVaeCuda::~WanVaeCuda() = default;

std::unique_ptr<WanVaeCuda> WanVaeCuda::from_model(const WanVae& vae, VaePrecision precision) {
  if (!cuda::available()) fail("{}: the CUDA VAE needs a GPU (use --device cpu)", cuda::no_gpu_reason());
  cuda::init();
  const size_t before = cuda::memory_stats().current;
  std::unique_ptr<WanVaeCuda> m(new WanVaeCuda());
  Impl& d = *m->impl_;
  d.f32 = precision == VaePrecision::F32;
  const VaeCoder& c = vae.decoder;
  const auto conv_up = [f32 = d.f32](const cpu::PackedConv& p) { return upload_conv(p, f32); };
  const auto causal = [&](const VaeCausalConv& v) { return DevCausal{conv_up(v.conv), v.pad, v.cache_slot}; };
  d.z_dim = vae.z_dim;
  d.post_quant = conv_up(vae.post_quant);
  d.conv_in = causal(c.conv_in);
  d.conv_out = causal(c.conv_out);
  d.head_gamma = upload_f32(c.head_gamma);
  for (const auto& layer : c.layers) {
    if (auto* r = std::get_if<VaeResBlock>(&layer)) {
      DevRes b;
      b.gamma1 = upload_f32(r->gamma1), b.gamma2 = upload_f32(r->gamma2);
      b.conv1 = causal(r->conv1), b.conv2 = causal(r->conv2);
      b.has_shortcut = r->has_shortcut;
      if (r->has_shortcut) b.shortcut = conv_up(r->shortcut.conv);
      d.layers.emplace_back(std::move(b));
    } else if (auto* a = std::get_if<VaeAttnBlock>(&layer)) {
      d.layers.emplace_back(DevAttn{upload_f32(a->gamma), conv_up(a->to_qkv), conv_up(a->proj)});
    } else {
      const auto& s = std::get<VaeResample>(layer);
      DevResample r;
      r.mode = s.mode;
      r.spatial = conv_up(s.spatial);
      if (s.cache_slot >= 0) r.time_conv = conv_up(s.time_conv);
      r.slot = s.cache_slot;
      d.layers.emplace_back(std::move(r));
    }
  }
  d.cache_slots = c.cache_slots;
  d.tf = c.temporal_factor, d.sf = c.spatial_factor;
  std::vector<float> mean(kWanLatentMean, kWanLatentMean + 16), inv_std(16);
  for (int i = 0; i < 16; ++i) inv_std[i] = 1.0f / kWanLatentStd[i];
  d.mean = upload_f32(mean), d.inv_std = upload_f32(inv_std);
  d.weight_bytes = cuda::memory_stats().current - before;  // what the upload allocated
  return m;
}

int64_t WanVaeCuda::z_dim() const { return impl_->z_dim; }
int64_t WanVaeCuda::out_channels() const { return impl_->conv_out.conv.cout; }
int64_t WanVaeCuda::temporal_factor() const { return impl_->tf; }
int64_t WanVaeCuda::spatial_factor() const { return impl_->sf; }
size_t WanVaeCuda::weight_bytes() const { return impl_->weight_bytes; }
void WanVaeCuda::set_im2col_budget(size_t bytes) { impl_->im2col_budget = std::max<size_t>(bytes, size_t{1} << 20); }

void WanVaeCuda::decode(const float* latents, int64_t T, int64_t H, int64_t W, float* frames, bool clamp, void* stream,
                        const std::function<void(int64_t, int64_t)>& on_frame) {
  Impl& d = *impl_;
  if (T < 1 || H < 1 || W < 1) fail("VAE decode: latent size {}x{}x{} must be at least 1x1x1", T, H, W);
  d.stream = stream;
  if (const char* e = std::getenv("JENGA_VAE_PROFILE")) d.prof.on = e[0] == '1';
  d.slots.assign(static_cast<size_t>(d.cache_slots), Slot{});
  const int64_t F = 1 + d.tf * (T - 1), Ho = H * d.sf, Wo = W * d.sf, C = out_channels();
  int64_t first = 0;
  // Progress: done[t % 2] marks latent frame t's work; frame t-1's is waited for (and reported)
  // once frame t is enqueued, so the GPU always has the next frame queued.
  FrameEvents done(on_frame ? 2 : 0);
  for (int64_t t = 0; t < T; ++t) {
    check_interrupt();  // host flag only; with on_frame the host is at most one frame ahead of the GPU
    Act zt = d.new_act(1, H, W, d.z_dim, true);
    cuda::denormalize_latent_frame(latents, d.z_dim, T, t, H * W, d.mean.data_as<float>(), d.inv_std.data_as<float>(), zt.f(),
                           stream);
    Act x = d.new_act(1, H, W, d.z_dim, true);  // official conv2 (1x1x1) before the decoder
    d.conv(d.post_quant, Impl::ConvIn{nullptr, 0, zt.data(), true, H, W, false}, 0, 0, 1, 1, 1, H, W, x.f(), false);
    zt = Act();
    const Act out = d.coder_forward(std::move(x));
    JENGA_ASSERT(out.h == Ho && out.w == Wo && out.c == C && first + out.t <= F);
    cuda::frames_to_planar(out.f(), out.t, Ho * Wo, C, frames, F, first, clamp, stream);
    first += out.t;
    // The first chunk's shapes (one output frame) do not come back: free what it cached.
    if (t == 0) d.pool.trim();
    if (on_frame) {
      done.record(t, stream);
      if (t > 0) done.wait(t - 1), on_frame(t, T);
    }
  }
  if (on_frame) done.wait(T - 1), on_frame(T, T);
  JENGA_ASSERT(first == F);
  d.slots.clear();
  if (d.prof.on) {
    const auto t = d.prof.totals();
    std::fprintf(stderr, "vae profile (ms): im2col %.1f, conv gemm %.1f, norm %.1f, attention %.1f, copies %.1f\n",
                 t[kIm2col].second, t[kConvGemm].second, t[kNorm].second, t[kAttention].second, t[kCopy].second);
    d.prof.reset();
  }
}

Tensor vae_decode_cuda(const WanVae& vae, const Tensor& latents, bool clamp, VaePrecision precision,
                       const std::function<void(int64_t, int64_t)>& on_frame) {
  check_vae_latents(vae, latents);
  auto dev = WanVaeCuda::from_model(vae, precision);
  const int64_t T = latents.dim(1), H = latents.dim(2), W = latents.dim(3);
  const int64_t F = 1 + dev->temporal_factor() * (T - 1), C = dev->out_channels();
  const int64_t Ho = H * dev->spatial_factor(), Wo = W * dev->spatial_factor();
  Tensor z = Tensor::empty(DType::F32, latents.shape(), Device::CUDA);
  cuda::copy_to_device(z.data(), latents.data(), latents.nbytes());
  Tensor out = Tensor::empty(DType::F32, Shape{C, F, Ho, Wo}, Device::CUDA);
  dev->decode(z.data_as<float>(), T, H, W, out.data_as<float>(), clamp, nullptr, on_frame);
  Tensor host = Tensor::empty(DType::F32, out.shape());
  cuda::copy_to_host(host.data(), out.data(), out.nbytes());  // synchronises the default stream
  return host;
}

}  // namespace jenga::wan
