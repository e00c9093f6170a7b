#include "models/hunyuan/hunyuan_model.h"

#include "backend/denoise_backend.h"
#include "core/error.h"
#include "models/hunyuan/hunyuan_dit_cpu.h"

namespace jenga::hunyuan {

Geometry hunyuan_geometry(const HunyuanConfig& c) {
  Geometry g;
  g.name = "HunyuanVideo " + c.variant_name();
  g.vae_time = 4, g.vae_space = 8;
  g.patch = {c.patch[0], c.patch[1], c.patch[2]};
  g.latent_channels = c.out_channels;
  g.fps = 24;
  g.curve = CurveKind::Volume;
  g.condition_blocks = c.is_i2v() ? 4 : 2;
  g.guidance = c.guidance_embed ? GuidanceKind::Embedded : GuidanceKind::Cfg;
  g.presets = {"dense", "base", "turbo", "flash", "3stage"};
  return g;
}

DenoiserInfo hunyuan_denoiser_info(const HunyuanConfig& c) {
  DenoiserInfo d;
  d.geometry = hunyuan_geometry(c);
  d.in_channels = c.in_channels, d.out_channels = c.out_channels;
  d.hidden = c.hidden, d.heads = c.heads, d.head_dim = c.head_dim();
  d.layers = c.double_blocks + c.single_blocks;
  d.text_len = 256, d.text_dim = c.text_dim;  // the official LLM text length
  return d;
}

namespace {

class HunyuanCpuDenoiser final : public Denoiser {
 public:
  explicit HunyuanCpuDenoiser(const HunyuanDit& d) : dit_(d), info_(hunyuan_denoiser_info(d.config)) {}
  const DenoiserInfo& info() const override { return info_; }
  std::unique_ptr<DenoiseBackend> make_loop_backend(dist::Communicator* comm) override {
    if (comm) fail("HunyuanVideo DiT (CPU): sequence parallel is not supported yet; run one process");
    return make_cpu_denoise_backend(*this, comm);
  }
  void set_conditioning(int slot, const Conditioning& c) override {
    if (c.tokens.ndim() == 0) return;  // embedded guidance: no negative branch
    const auto& cfg = dit_.config;
    if (c.tokens.ndim() != 2 || c.tokens.dim(1) != cfg.text_dim)
      fail("HunyuanVideo DiT: text states must be [L, {}]; got {}", cfg.text_dim, c.tokens.shape().str());
    if (c.pooled.numel() != cfg.text_dim_2)
      fail("HunyuanVideo DiT: the pooled text vector must have {} values; got {}", cfg.text_dim_2, c.pooled.numel());
    cond_.at(static_cast<size_t>(slot)) = c;
  }
  void prepare(const std::array<int64_t, 3>& latent, std::span<const int64_t>, dist::Communicator*) override {
    const auto& p = info_.geometry.patch;
    tokens_ = (latent[0] / p[0]) * (latent[1] / p[1]) * (latent[2] / p[2]);
  }
  int64_t local_tokens() const override { return tokens_; }
  int64_t local_heads() const override { return info_.heads; }
  std::vector<float> step_cache_indicator(double t, bool) override {
    return timestep_embedder_cpu(dit_.weights.time0, dit_.weights.time2, static_cast<float>(t), dit_.config.freq_dim);
  }
  Tensor forward_host(const Tensor& x, double t, int slot, float guidance, const DitForwardHooks& hooks) override {
    const Conditioning& c = cond_.at(static_cast<size_t>(slot));
    if (c.tokens.ndim() == 0) fail("HunyuanVideo DiT: no conditioning for branch {}", slot);
    if (x.ndim() != 4 || x.dim(0) != dit_.config.in_channels)
      fail("HunyuanVideo DiT: x must be [{}, F, H, W]; got {}", dit_.config.in_channels, x.shape().str());
    const auto& cfg = dit_.config;
    const auto out = hunyuan_forward_cpu(dit_, x.data_as<float>(), x.dim(1), x.dim(2), x.dim(3), static_cast<float>(t),
                                         c.tokens.data_as<float>(), c.tokens.dim(0), c.valid_rows(),
                                         c.pooled.data_as<float>(), cfg.guidance_embed ? guidance * 1000.0f : 0.0f,
                                         &hooks);
    return Tensor::from_f32(out, Shape{cfg.out_channels, x.dim(1), x.dim(2), x.dim(3)});
  }

 private:
  const HunyuanDit& dit_;
  DenoiserInfo info_;
  std::array<Conditioning, 2> cond_;
  int64_t tokens_ = 0;
};

}  // namespace

std::unique_ptr<Denoiser> make_cpu_denoiser(const HunyuanDit& dit) { return std::make_unique<HunyuanCpuDenoiser>(dit); }

}  // namespace jenga::hunyuan
