#include "models/hunyuan/hunyuan_vae_tiling.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "core/interrupt.h"

namespace jenga::hunyuan {
namespace {

constexpr double kOverlap = HunyuanVaeConfig::kTileOverlap;

// Official integer sizes: int(x * (1 - 0.25)) and int(x * 0.25).
int64_t stride_of(int64_t tile) { return static_cast<int64_t>(static_cast<double>(tile) * (1 - kOverlap)); }
int64_t blend_of(int64_t tile) { return static_cast<int64_t>(static_cast<double>(tile) * kOverlap); }

// Tile sizes of one tiled loop: `tile` and `stride` in input units, `blend` and `limit` in output units.
struct Loop {
  int64_t tile = 0, stride = 0, blend = 0, limit = 0;
};

HyAxisTiles whole(int64_t n, int64_t out) { return HyAxisTiles{{0}, {n}, {out}, out}; }

// Spatial: each tile keeps [:limit] of its output. Temporal: tiles after the first drop their
// first output frame; the first keeps [:limit + 1], the others [:limit].
HyAxisTiles axis(int64_t n, const Loop& l, bool temporal, const std::function<int64_t(int64_t)>& out_size) {
  HyAxisTiles a;
  for (int64_t i = 0; i < n; i += l.stride) {
    const int64_t len = std::min(l.tile, n - i);
    const int64_t out = out_size(len) - (temporal && i > 0 ? 1 : 0);
    const int64_t kept = std::min(out, l.limit + (temporal && i == 0 ? 1 : 0));
    a.start.push_back(i), a.len.push_back(len), a.kept.push_back(kept);
    a.total += kept;
  }
  return a;
}

// The blends of the official code: b's first E rows / columns / frames become
// a[-E + k] * (1 - k/E) + b[k] * (k/E), E = min(a size, b size, extent), in f32 with the
// weights rounded from double as PyTorch does with a Python float.
void blend(const HyClip& a, HyClip& b, int64_t extent, int axis) {
  const int64_t na = axis == 0 ? a.t : axis == 1 ? a.h : a.w;
  const int64_t nb = axis == 0 ? b.t : axis == 1 ? b.h : b.w;
  const int64_t e = std::min({na, nb, extent});
  if (e <= 0) return;
  JENGA_ASSERT(a.c == b.c && (axis == 0 || a.t == b.t) && (axis == 1 || a.h == b.h) && (axis == 2 || a.w == b.w));
  const auto mix = [](const float* pa, float* pb, int64_t n, float wa, float wb) {
    for (int64_t i = 0; i < n; ++i) pb[i] = pa[i] * wa + pb[i] * wb;
  };
  for (int64_t k = 0; k < e; ++k) {
    const float wa = static_cast<float>(1.0 - static_cast<double>(k) / static_cast<double>(e));
    const float wb = static_cast<float>(static_cast<double>(k) / static_cast<double>(e));
    const int64_t ka = na - e + k;
    if (axis == 0) {
      mix(a.at(ka, 0, 0), b.at(k, 0, 0), b.h * b.w * b.c, wa, wb);
    } else if (axis == 1) {
      for (int64_t f = 0; f < b.t; ++f) mix(a.at(f, ka, 0), b.at(f, k, 0), b.w * b.c, wa, wb);
    } else {
      for (int64_t f = 0; f < b.t; ++f)
        for (int64_t y = 0; y < b.h; ++y) mix(a.at(f, y, ka), b.at(f, y, k), b.c, wa, wb);
    }
  }
}

// Frames [t0, t1) of a region [y0, y0 + h) x [x0, x0 + w) of the input, channels-last.
using Source = std::function<HyClip(int64_t t0, int64_t t1, int64_t y0, int64_t h, int64_t x0, int64_t w)>;
using TileFn = std::function<HyClip(const HyClip&)>;

// Frames [src_t0, src_t0 + frames) of src's top-left rows x cols into dst at (t_off, y_off, x_off).
void copy_region(const HyClip& src, int64_t src_t0, int64_t frames, int64_t rows, int64_t cols, HyClip& dst,
                 int64_t t_off, int64_t y_off, int64_t x_off) {
  for (int64_t f = 0; f < frames; ++f)
    for (int64_t y = 0; y < rows; ++y)
      std::memcpy(dst.at(t_off + f, y_off + y, x_off), src.at(src_t0 + f, y, 0), sizeof(float) * cols * src.c);
}

// A sink of finished frames: frames [0, frames) of clip are output frames [first, first + frames).
using FrameSink = std::function<void(const HyClip& clip, int64_t frames, int64_t first)>;

// Every tile of a run, in the order the loops below consume them. One worker thread computes them
// in order (on the GPU, or the CPU model) up to kAhead tiles ahead of the consumer, so the device
// keeps working while the host blends, assembles and writes out a temporal tile (at 720p that
// host work takes longer than a tile). A run of one tile needs no thread.
class TileQueue {
 public:
  struct Region {
    int64_t t0, t1, y0, h, x0, w;
  };
  static constexpr size_t kAhead = 8;  // finished tiles held on the host (720p: 51 MB each)
  TileQueue(const Source& src, const TileFn& fn, std::vector<Region> order)
      : src_(src), fn_(fn), order_(std::move(order)) {
    if (order_.size() > 1) worker_ = std::thread([this] { work(); });
  }
  ~TileQueue() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
  }
  TileQueue(const TileQueue&) = delete;
  TileQueue& operator=(const TileQueue&) = delete;

  HyClip next() {
    JENGA_ASSERT(taken_ < order_.size());
    if (!worker_.joinable()) return compute(taken_++);
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !done_.empty() || error_; });
    if (done_.empty()) std::rethrow_exception(error_);  // the tiles before a failed one still come
    HyClip tile = std::move(done_.front());
    done_.pop_front();
    ++taken_;
    lock.unlock();
    cv_.notify_all();
    return tile;
  }

 private:
  HyClip compute(size_t k) const {
    const Region& r = order_[k];
    return fn_(src_(r.t0, r.t1, r.y0, r.h, r.x0, r.w));
  }
  void work() {
    for (size_t k = 0; k < order_.size(); ++k) {
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stop_ || done_.size() < kAhead; });
        if (stop_) return;
      }
      HyClip tile;
      try {
        tile = compute(k);
      } catch (...) {
        std::lock_guard lock(mu_);
        error_ = std::current_exception();
        cv_.notify_all();
        return;
      }
      {
        std::lock_guard lock(mu_);
        if (stop_) return;
        done_.push_back(std::move(tile));
      }
      cv_.notify_all();
    }
  }

  const Source& src_;
  const TileFn& fn_;
  std::vector<Region> order_;
  size_t taken_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<HyClip> done_;  // computed, not yet taken, in order
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread worker_;  // last: started after every other member exists
};

// spatial_tiled_decode / spatial_tiled_encode of one temporal tile: tiles in raster order, each
// blended in place with its (already blended) upper and left neighbours, then cropped; the first
// `skip` output frames are left out (the temporal loop drops them anyway; this spares a copy).
HyClip spatial_tiled(TileQueue& queue, const HyAxisTiles& rows, const HyAxisTiles& cols, int64_t out_frames,
                     const Loop& l, int64_t skip) {
  HyClip out;
  std::vector<HyClip> prev_row, row;
  int64_t oy = 0;
  for (size_t i = 0; i < rows.start.size(); ++i) {
    int64_t ox = 0;
    row.clear();
    for (size_t j = 0; j < cols.start.size(); ++j) {
      check_interrupt();  // Ctrl-C between tiles (a 720p tile decodes in well under a second on a GPU)
      HyClip tile = queue.next();
      if (out.v.empty()) out = HyClip(std::max<int64_t>(0, out_frames - skip), rows.total, cols.total, tile.c);
      JENGA_ASSERT(tile.t == out_frames && tile.h >= rows.kept[i] && tile.w >= cols.kept[j]);
      if (i > 0) blend(prev_row[j], tile, l.blend, 1);
      if (j > 0) blend(row[j - 1], tile, l.blend, 2);
      copy_region(tile, std::min(skip, tile.t), out.t, rows.kept[i], cols.kept[j], out, 0, oy, ox);
      ox += cols.kept[j];
      row.push_back(std::move(tile));
    }
    oy += rows.kept[i];
    prev_row = std::move(row);
    row = {};
  }
  return out;
}

// The whole official tiled path for a plan: temporal tiles (each possibly spatially tiled), or
// spatial tiles, or one tile. `sink` gets each temporal tile's kept frames in order.
void run_tiled(const HyTilePlan& p, const Source& src, const TileFn& fn, const Loop& spatial_loop,
               const Loop& temporal_loop, const std::function<int64_t(int64_t)>& out_frames, const FrameSink& sink) {
  const size_t temporal_tiles = p.temporal ? p.t.start.size() : 1;
  std::vector<TileQueue::Region> order;
  for (size_t k = 0; k < temporal_tiles; ++k) {
    const int64_t t0 = p.t.start[k], t1 = t0 + p.t.len[k];
    if (!p.spatial) {
      order.push_back({t0, t1, 0, p.h.len[0], 0, p.w.len[0]});
      continue;
    }
    for (size_t i = 0; i < p.h.start.size(); ++i)
      for (size_t j = 0; j < p.w.start.size(); ++j) order.push_back({t0, t1, p.h.start[i], p.h.len[i], p.w.start[j], p.w.len[j]});
  }
  TileQueue queue(src, fn, std::move(order));
  // A temporal tile's output without its first `skip` frames.
  auto one = [&](int64_t t0, int64_t t1, int64_t skip) {
    if (p.spatial) return spatial_tiled(queue, p.h, p.w, out_frames(t1 - t0), spatial_loop, skip);
    check_interrupt();
    HyClip tile = queue.next();
    if (skip > 0) {
      const int64_t fs = tile.h * tile.w * tile.c, drop = std::min(skip, tile.t);
      tile.v.erase(tile.v.begin(), tile.v.begin() + drop * fs);
      tile.t -= drop;
    }
    return tile;
  };
  if (!p.temporal) {
    const HyClip all = one(0, p.t.len[0], 0);
    sink(all, all.t, 0);
    return;
  }
  HyClip prev;
  int64_t first = 0;
  for (size_t i = 0; i < p.t.start.size(); ++i) {
    // Tiles after the first drop their first decoded / encoded frame.
    HyClip tile = one(p.t.start[i], p.t.start[i] + p.t.len[i], i > 0 ? 1 : 0);
    if (i > 0) blend(prev, tile, temporal_loop.blend, 0);
    const int64_t keep = p.t.kept[i];
    JENGA_ASSERT(keep <= tile.t);
    if (keep > 0) sink(tile, keep, first);
    first += keep;
    prev = std::move(tile);
  }
}

Loop decode_spatial_loop(const HunyuanVaeConfig& c) {
  const int64_t s = c.tile_sample_min_size();
  return Loop{c.tile_latent_min_size(), stride_of(c.tile_latent_min_size()), blend_of(s), s - blend_of(s)};
}
Loop decode_temporal_loop(const HunyuanVaeConfig& c) {
  const int64_t s = c.tile_sample_min_tsize();
  return Loop{c.tile_latent_min_tsize() + 1, stride_of(c.tile_latent_min_tsize()), blend_of(s), s - blend_of(s)};
}
Loop encode_spatial_loop(const HunyuanVaeConfig& c) {
  const int64_t l = c.tile_latent_min_size();
  return Loop{c.tile_sample_min_size(), stride_of(c.tile_sample_min_size()), blend_of(l), l - blend_of(l)};
}
Loop encode_temporal_loop(const HunyuanVaeConfig& c) {
  const int64_t l = c.tile_latent_min_tsize();
  return Loop{c.tile_sample_min_tsize() + 1, stride_of(c.tile_sample_min_tsize()), blend_of(l), l - blend_of(l)};
}

HyTilePlan make_plan(int64_t T, int64_t H, int64_t W, bool temporal, bool spatial, const Loop& sl, const Loop& tl,
                     const std::function<int64_t(int64_t)>& out_t, const std::function<int64_t(int64_t)>& out_s) {
  HyTilePlan p;
  p.temporal = temporal, p.spatial = spatial;
  p.t = temporal ? axis(T, tl, true, out_t) : whole(T, out_t(T));
  p.h = spatial ? axis(H, sl, false, out_s) : whole(H, out_s(H));
  p.w = spatial ? axis(W, sl, false, out_s) : whole(W, out_s(W));
  return p;
}

void check_input(const Tensor& x, int64_t channels, const char* what, const char* expect) {
  if (x.device() != Device::CPU || x.dtype() != DType::F32)
    fail("HunyuanVideo VAE {}: {} must be a CPU f32 tensor", what, expect);
  if (x.ndim() != 4 || x.dim(0) != channels || x.dim(1) < 1 || x.dim(2) < 1 || x.dim(3) < 1)
    fail("HunyuanVideo VAE {}: input has shape {}, expected {} with {} channels", what, x.shape().str(), expect,
         channels);
  const float* p = x.data_as<float>();
  for (int64_t i = 0; i < x.numel(); ++i)
    if (!std::isfinite(p[i])) fail("HunyuanVideo VAE {}: input holds NaN or inf (at flat index {})", what, i);
}

// A channels-first tensor [C, T, H, W] read as channels-last tiles, each value divided by `divisor`.
Source tensor_source(const Tensor& x, float divisor) {
  const float* p = x.data_as<float>();
  const int64_t C = x.dim(0), T = x.dim(1), H = x.dim(2), W = x.dim(3);
  return [=](int64_t t0, int64_t t1, int64_t y0, int64_t h, int64_t x0, int64_t w) {
    HyClip c(t1 - t0, h, w, C);
    for (int64_t ch = 0; ch < C; ++ch)
      for (int64_t f = 0; f < c.t; ++f)
        for (int64_t y = 0; y < h; ++y) {
          const float* row = p + ((ch * T + t0 + f) * H + y0 + y) * W + x0;
          for (int64_t xx = 0; xx < w; ++xx) c.at(f, y, xx)[ch] = divisor == 1.0f ? row[xx] : row[xx] / divisor;
        }
    return c;
  };
}

}  // namespace

HyTilePlan hy_decode_plan(const HunyuanVae& vae, int64_t T, int64_t H, int64_t W, bool tiling) {
  const auto& c = vae.config;
  const bool temporal = tiling && T > c.tile_latent_min_tsize();
  const bool spatial = tiling && (H > c.tile_latent_min_size() || W > c.tile_latent_min_size());
  return make_plan(T, H, W, temporal, spatial, decode_spatial_loop(c), decode_temporal_loop(c),
                   [&](int64_t t) { return hy_decoded_frames(vae.decoder, t); },
                   [&](int64_t n) { return hy_decoded_side(vae.decoder, n); });
}

HyTilePlan hy_encode_plan(const HunyuanVae& vae, int64_t F, int64_t H, int64_t W, bool tiling) {
  const auto& c = vae.config;
  const bool temporal = tiling && F > c.tile_sample_min_tsize();
  const bool spatial = tiling && (H > c.tile_sample_min_size() || W > c.tile_sample_min_size());
  return make_plan(F, H, W, temporal, spatial, encode_spatial_loop(c), encode_temporal_loop(c),
                   [&](int64_t t) { return hy_encoded_frames(vae.encoder, t); },
                   [&](int64_t n) { return hy_encoded_side(vae.encoder, n); });
}

namespace {

void decode_tiles(const HunyuanVae& vae, const Tensor& latents, bool tiling, const FrameSink& sink,
                  const HyTileFn& tile) {
  check_input(latents, vae.config.latent_channels, "decode", "latents [C, T, H, W]");
  const HyTilePlan p = hy_decode_plan(vae, latents.dim(1), latents.dim(2), latents.dim(3), tiling);
  run_tiled(p, tensor_source(latents, static_cast<float>(vae.config.scaling_factor)),
            tile ? tile : HyTileFn([&](const HyClip& z) { return hy_decode_tile(vae, z); }),
            decode_spatial_loop(vae.config), decode_temporal_loop(vae.config),
            [&](int64_t t) { return hy_decoded_frames(vae.decoder, t); }, sink);
}

// Frames [0, frames) of a channels-last clip into a planar [C, F, H, W] tensor at frame `first`,
// each value times `scale`, clamped to [-1, 1] when `clamp`.
void to_planar(const HyClip& clip, int64_t frames, int64_t first, Tensor& out, float scale, bool clamp) {
  const int64_t C = out.dim(0), F = out.dim(1), HW = out.dim(2) * out.dim(3);
  JENGA_ASSERT(clip.c == C && clip.h * clip.w == HW && frames <= clip.t && first + frames <= F);
  float* o = out.data_as<float>();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t f = 0; f < frames; ++f)
    for (int64_t c = 0; c < C; ++c) {
      float* dst = o + (c * F + first + f) * HW;
      const float* src = clip.v.data() + f * HW * C + c;
      for (int64_t i = 0; i < HW; ++i) {
        const float v = src[i * C] * scale;
        dst[i] = clamp ? std::clamp(v, -1.0f, 1.0f) : v;
      }
    }
}

}  // namespace

void hunyuan_vae_decode_stream(const HunyuanVae& vae, const Tensor& latents, bool tiling,
                               const std::function<void(const HyClip&, int64_t first)>& sink, const HyTileFn& tile) {
  decode_tiles(vae, latents, tiling, [&](const HyClip& clip, int64_t frames, int64_t first) {
    if (frames == clip.t) return sink(clip, first);
    HyClip kept(frames, clip.h, clip.w, clip.c);
    std::memcpy(kept.v.data(), clip.v.data(), sizeof(float) * kept.v.size());
    sink(kept, first);
  }, tile);
}

Tensor hunyuan_vae_decode(const HunyuanVae& vae, const Tensor& latents, bool tiling, bool clamp,
                          const HyTileFn& tile) {
  check_input(latents, vae.config.latent_channels, "decode", "latents [C, T, H, W]");
  const HyTilePlan p = hy_decode_plan(vae, latents.dim(1), latents.dim(2), latents.dim(3), tiling);
  Tensor out = Tensor::empty(DType::F32, {vae.config.out_channels, p.t.total, p.h.total, p.w.total});
  decode_tiles(vae, latents, tiling, [&](const HyClip& clip, int64_t frames, int64_t first) {
    to_planar(clip, frames, first, out, 1.0f, clamp);
  }, tile);
  return out;
}

Tensor hunyuan_vae_encode(const HunyuanVae& vae, const Tensor& frames, bool tiling, const HyTileFn& tile) {
  if (!vae.has_encoder) fail("{}: this HunyuanVideo VAE file has no encoder.* weights (decoder only)", vae.source);
  check_input(frames, vae.config.in_channels, "encode", "frames [3, F, H, W] in [-1, 1]");
  const HyTilePlan p = hy_encode_plan(vae, frames.dim(1), frames.dim(2), frames.dim(3), tiling);
  const int64_t C = vae.config.latent_channels, T = p.t.total, H = p.h.total, W = p.w.total;
  Tensor out = Tensor::empty(DType::F32, {C, T, H, W});
  const float scale = static_cast<float>(vae.config.scaling_factor);
  run_tiled(p, tensor_source(frames, 1.0f), tile ? tile : HyTileFn([&](const HyClip& x) { return hy_encode_tile(vae, x); }),
            encode_spatial_loop(vae.config), encode_temporal_loop(vae.config),
            [&](int64_t t) { return hy_encoded_frames(vae.encoder, t); },
            [&](const HyClip& clip, int64_t frames, int64_t first) { to_planar(clip, frames, first, out, scale, false); });
  return out;
}

}  // namespace jenga::hunyuan
