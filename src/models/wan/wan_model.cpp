#include "models/wan/wan_model.h"

#include <chrono>
#include <filesystem>

#include "core/error.h"
#include "core/temp_paths.h"
#include "io/safetensors.h"
#include "dist/ulysses.h"
#include "backend/denoise_backend.h"
#include "models/wan/t5_encoder.h"
#include "models/wan/tokenizer.h"
#include "models/wan/vae_cpu.h"
#include "models/wan/vae_model.h"
#include "models/wan/wan_dit_cpu.h"
#include "models/wan/wan_presets.h"
#include "pipeline/sidecar.h"

namespace jenga::wan {
namespace fs = std::filesystem;

const char* const kWanDefaultNegativePrompt =
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，JPEG压缩残留，"
    "丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，静止不动的画面，"
    "杂乱的背景，三条腿，背景人很多，倒着走";

Geometry wan_geometry(const WanConfig& c) {
  Geometry g;
  g.name = "Wan2.1 " + c.size_name();
  g.vae_time = 4, g.vae_space = 8;
  g.patch = {c.patch[0], c.patch[1], c.patch[2]};
  g.latent_channels = c.in_dim;
  g.fps = 16;
  g.curve = CurveKind::FrameSliced;  // jenga_wan.py: one 2D Gilbert curve per latent frame
  g.condition_blocks = 0;            // text enters through cross-attention
  g.guidance = GuidanceKind::Cfg;
  g.default_negative_prompt = kWanDefaultNegativePrompt;
  g.presets = {"dense", "base", "turbo", "flash", "3stage"};
  // generate.py's 81 frames; 480p for 1.3B (its README: 720p is unstable there), 720p for 14B.
  if (c.dim >= 5120) g.default_width = 1280, g.default_height = 720;
  return g;
}

DenoiserInfo wan_denoiser_info(const WanConfig& c) {
  DenoiserInfo d;
  d.geometry = wan_geometry(c);
  d.in_channels = c.in_dim, d.out_channels = c.out_dim;
  d.hidden = c.dim, d.heads = c.num_heads, d.head_dim = c.head_dim(), d.layers = c.num_layers;
  d.text_len = c.text_len, d.text_dim = c.text_dim;
  return d;
}

namespace {

class WanCpuDenoiser final : public Denoiser {
 public:
  explicit WanCpuDenoiser(const WanDit& d) : dit_(d), info_(wan_denoiser_info(d.config)) {}
  const DenoiserInfo& info() const override { return info_; }
  std::unique_ptr<DenoiseBackend> make_loop_backend(dist::Communicator* comm) override {
    return make_cpu_denoise_backend(*this, comm);
  }
  void set_conditioning(int slot, const Conditioning& c) override { ctx_.at(static_cast<size_t>(slot)) = c.tokens; }
  // The CPU forward takes the token order and communicator through its hooks each call.
  void prepare(const std::array<int64_t, 3>& latent, std::span<const int64_t>, dist::Communicator* comm) override {
    const auto& p = info_.geometry.patch;
    tokens_ = (latent[0] / p[0]) * (latent[1] / p[1]) * (latent[2] / p[2]);
    comm_ = comm;
  }
  int64_t local_tokens() const override {
    return comm_ ? dist::Ulysses::token_split(tokens_, comm_->size()).count[static_cast<size_t>(comm_->rank())] : tokens_;
  }
  int64_t local_heads() const override { return comm_ ? info_.heads / comm_->size() : info_.heads; }
  std::vector<float> step_cache_indicator(double t, bool projected) override {
    const int64_t d = dit_.config.dim;
    std::vector<float> e(static_cast<size_t>(d)), e0(static_cast<size_t>(6 * d));
    wan_time_embedding_cpu(dit_, t, e.data(), e0.data());
    return projected ? e0 : e;
  }
  Tensor forward_host(const Tensor& x, double t, int slot, float, const DitForwardHooks& hooks) override {
    return wan_forward_cpu(dit_, x, t, ctx_.at(static_cast<size_t>(slot)), hooks);
  }

 private:
  const WanDit& dit_;
  DenoiserInfo info_;
  std::array<Tensor, 2> ctx_;
  int64_t tokens_ = 0;
  dist::Communicator* comm_ = nullptr;
};

// umT5 with its tokenizer: the prompt's rows [L, text_dim] (L = its tokens, up to text_len).
class WanTextEncoder final : public TextEncoder {
 public:
  WanTextEncoder(const WanPaths& paths, const WanConfig& cfg, const WanCudaParts* cuda)
      : paths_(paths), cfg_(cfg), tok_(UmT5Tokenizer::open(paths.tokenizer)), t5_(T5Encoder::open(paths.t5)) {
    if (t5_.config().dim != cfg.text_dim)
      fail("{}: text encoder width {} does not match the DiT's text_dim {}", paths.t5, t5_.config().dim, cfg.text_dim);
    if (cuda) t5_gpu_ = cuda->t5(t5_);
  }
  Conditioning encode(const std::string& text) override {
    const auto tp = tok_.encode(text, cfg_.text_len);
    for (int64_t id : tp.ids)
      if (id >= t5_.config().vocab) fail("{}: token id {} is outside the text encoder's vocabulary", paths_.tokenizer, id);
    Conditioning c = t5_gpu_ ? t5_gpu_->encode(tp.ids, tp.mask) : t5_.encode(tp.ids, tp.mask);
    c.dropped_tokens = tp.dropped, c.token_limit = cfg_.text_len;
    return c;
  }

 private:
  WanPaths paths_;
  WanConfig cfg_;
  UmT5Tokenizer tok_;
  T5Encoder t5_;
  std::unique_ptr<WanCudaParts::T5> t5_gpu_;
};

class WanVaeModel final : public Vae {
 public:
  WanVaeModel(const WanPaths& paths, const WanConfig& cfg, const WanCudaParts* cuda)
      : vae_(WanVae::load(Checkpoint::open(paths.vae))), cuda_(cuda) {
    if (vae_.z_dim != cfg.in_dim) fail("{}: VAE latent channels {} do not match the DiT's {}", paths.vae, vae_.z_dim, cfg.in_dim);
  }
  // The DiT is gone by then (it lives inside the denoise loop): the decoder gets the GPU to itself.
  Tensor decode(const Tensor& x, const std::function<void(int64_t, int64_t)>& on_frame) override {
    if (cuda_) return cuda_->vae_decode(vae_, x, on_frame);
    return on_frame ? vae_decode(vae_, x, on_frame) : vae_decode(vae_, x);
  }
  Tensor encode(const Tensor& frames) override { return vae_encode(vae_, frames); }

 private:
  WanVae vae_;
  const WanCudaParts* cuda_;
};

class WanModel final : public VideoModel {
 public:
  WanModel(const WanPaths& paths, const WanCudaParts* cuda, const std::function<void(int64_t, int64_t)>& on_block)
      : paths_(paths),
        cuda_(cuda ? std::optional<WanCudaParts>(*cuda) : std::nullopt),
        // What made the video: absolute paths and fingerprints (pipeline/sidecar.h), before any weight is read.
        components_({{"dit", file_record(paths.dit)}, {"vae", file_record(paths.vae)},
                     {"text_encoder", file_record(paths.t5)}, {"tokenizer", file_record(paths.tokenizer)}}),
        t_load0_(now_s()),
        // The GPU computes with bf16 matrices: loading them so halves host memory (28 GB, not 56, for 14B).
        dit_(load_wan_dit(paths.dit, cuda ? DType::BF16 : DType::F32, on_block)),
        load_s_(now_s() - t_load0_),
        info_(wan_denoiser_info(dit_.config)) {
    if (cuda_) info_.padded_head_dim = padded_head_dim(info_.head_dim, cuda_->attention_head_dim);
  }
  const Geometry& geometry() const override { return info_.geometry; }
  const DenoiserInfo& denoiser_info() const override { return info_; }
  std::string device() const override { return cuda_ ? "cuda" : "cpu"; }
  std::optional<Preset> preset(const std::string& name, const JengaOverrides& o, int steps) const override {
    return wan_preset_for(name, dit_.config.size_name(), o, steps);
  }
  std::unique_ptr<TextEncoder> text_encoder(bool text_on_cpu) override {
    return std::make_unique<WanTextEncoder>(paths_, dit_.config, cuda_ && !text_on_cpu ? &*cuda_ : nullptr);
  }
  std::unique_ptr<Denoiser> denoiser(bool offload) override {
    if (cuda_) return cuda_->denoiser(dit_, offload);
    return make_cpu_denoiser(dit_);
  }
  std::unique_ptr<Vae> vae() override { return std::make_unique<WanVaeModel>(paths_, dit_.config, cuda_ ? &*cuda_ : nullptr); }
  std::string summary() const override {
    const auto& cfg = dit_.config;
    return fmt::format("Wan2.1 {} DiT ({} layers, dim {})", cfg.size_name(), cfg.num_layers, cfg.dim);
  }
  nlohmann::json describe() const override {
    const bool builtin = paths_.builtin_dir != nullptr;
    return {{"builtin_tiny", builtin}, {"dit", builtin ? "built-in" : paths_.dit}, {"dit_size", dit_.config.size_name()},
            {"dit_layout", std::string(layout_name(dit_.layout))}, {"components", components_}};
  }
  double load_seconds() const override { return load_s_; }
  double take_peak_memory_gib() override { return cuda_ ? cuda_->take_peak_memory_gib() : 0.0; }
  std::string gpu_name() const override { return cuda_ && cuda_->gpu_name ? cuda_->gpu_name() : ""; }

 private:
  static double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  WanPaths paths_;
  std::optional<WanCudaParts> cuda_;
  nlohmann::json components_;
  double t_load0_;
  WanDit dit_;
  double load_s_;
  DenoiserInfo info_;
};

}  // namespace

std::unique_ptr<Denoiser> make_cpu_denoiser(const WanDit& dit) { return std::make_unique<WanCpuDenoiser>(dit); }

std::unique_ptr<VideoModel> open_wan_model(const WanPaths& paths, const WanCudaParts* cuda_parts,
                                           const std::function<void(int64_t, int64_t)>& on_block) {
  return std::make_unique<WanModel>(paths, cuda_parts, on_block);
}

}  // namespace jenga::wan
