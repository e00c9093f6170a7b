// HunyuanVideo's CUDA parts of the model interface (jenga_cuda): the DiT as a device Denoiser
// over HunyuanDitCuda, the LLM and CLIP-L text encoders, I2V's LLaVA vision tower + projector and
// the VAE on the GPU. The registry hands them to open_hunyuan_model.
#include <array>
#include <optional>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/padded_attention.h"
#include "backend/denoise_backend.h"
#include "core/error.h"
#include "models/hunyuan/hunyuan_dit_cuda.h"
#include "models/hunyuan/hunyuan_model.h"
#include "models/hunyuan/clip_text_encoder_cuda.h"
#include "models/hunyuan/hunyuan_vae_cuda.h"
#include "models/hunyuan/llama_text_encoder_cuda.h"
#include "models/hunyuan/llava_vision_cuda.h"

namespace jenga::hunyuan {

namespace {

constexpr int64_t kTextLen = 256;  // the official LLM text length (rows after the template crop)

class HunyuanCudaDenoiser final : public Denoiser {
 public:
  HunyuanCudaDenoiser(const HunyuanDit& d, bool offload, Release release)
      : cfg_(d.config),
        info_(hunyuan_denoiser_info(d.config, release)),
        dit_(HunyuanDitCuda::from_model(d, offload)),
        token_replace_(release == Release::I2V) {}
  HunyuanCudaDenoiser(const HunyuanConfig& c, std::unique_ptr<HunyuanDitCuda> dit, Release release)
      : cfg_(c), info_(hunyuan_denoiser_info(c, release)), dit_(std::move(dit)), token_replace_(release == Release::I2V) {}
  const DenoiserInfo& info() const override { return info_; }
  std::unique_ptr<DenoiseBackend> make_loop_backend(dist::Communicator* comm) override {
    return make_cuda_denoise_backend(*this, comm);
  }
  // Uploads the text states (bf16, zero rows up to the text length), their valid-row mean and
  // the pooled vector once. T2V: 256 rows. I2V: the rows given (the CPU DiT's sequence, so the
  // I2V sparse kernel's zero padding is the same), equal in both branches, at most 396.
  void set_conditioning(int slot, const Conditioning& c) override {
    if (c.tokens.ndim() == 0) return;  // embedded guidance: no negative branch
    if (c.tokens.ndim() != 2 || c.tokens.dim(1) != cfg_.text_dim)
      fail("HunyuanVideo DiT: text states must be [L, {}]; got {}", cfg_.text_dim, c.tokens.shape().str());
    const int64_t most = token_replace_ ? info_.text_len : kTextLen;
    if (c.tokens.dim(0) > most)
      fail("HunyuanVideo DiT: {} text rows; the model takes at most {} (the official text length)", c.tokens.dim(0),
           most);
    if (c.pooled.numel() != cfg_.text_dim_2)
      fail("HunyuanVideo DiT: the pooled text vector must have {} values; got {}", cfg_.text_dim_2, c.pooled.numel());
    if (token_replace_) {
      const auto& other = text_.at(1 - static_cast<size_t>(slot));
      if (other && other->states.numel() / cfg_.text_dim != c.tokens.dim(0))
        fail("HunyuanVideo-I2V DiT: {} text rows in one branch, {} in the other; both take the I2V text encoder's rows",
             c.tokens.dim(0), other->states.numel() / cfg_.text_dim);
      text_len_ = c.tokens.dim(0);
    }
    text_.at(static_cast<size_t>(slot)) = upload_hunyuan_text(cfg_, c.tokens.data_as<float>(), c.tokens.dim(0),
                                                              c.valid_rows(), c.pooled.data_as<float>(), text_len_);
  }
  void prepare(const std::array<int64_t, 3>& latent, std::span<const int64_t> order, dist::Communicator* comm) override {
    if (token_replace_ && !text_[0])
      fail("HunyuanVideo-I2V DiT (CUDA): prepare() before set_conditioning(); the text rows size the sequence");
    const auto& p = cfg_.patch;
    dit_->prepare(latent[0] / p[0], latent[1] / p[1], latent[2] / p[2], text_len_, order, token_replace_, comm);
  }
  int64_t local_tokens() const override { return dit_->local_tokens(); }
  int64_t local_heads() const override { return dit_->local_heads(); }
  std::vector<float> step_cache_indicator(double t, bool) override { return dit_->time_embedding(t); }
  void forward_device(const float* x, const float* t, int slot, float guidance, float* out, void* stream,
                      const CudaDitHooks& hooks) override {
    const auto& text = text_.at(static_cast<size_t>(slot));
    if (!text) fail("HunyuanVideo DiT: no conditioning for branch {}", slot);
    dit_->forward(x, t, text->view(), cfg_.guidance_embed ? hunyuan_guidance_value(guidance) : 0.0f, out, stream, &hooks);
  }
  DitMemory memory() const override { return device_dit_memory(*dit_); }

 private:
  HunyuanConfig cfg_;
  DenoiserInfo info_;
  std::unique_ptr<HunyuanDitCuda> dit_;
  std::array<std::optional<HunyuanTextUpload>, 2> text_;
  bool token_replace_ = false;  // HunyuanVideo-I2V: frame-0 tokens modulated as at t = 0
  int64_t text_len_ = kTextLen;  // the text rows the DiT is prepared for
};

struct LlmGpu final : HunyuanCudaParts::Llm {
  explicit LlmGpu(const LlamaTextEncoder& e) : enc(LlamaTextEncoderCuda::upload(e, 2)) {}  // hidden_states[-3]
  Tensor encode(std::span<const int64_t> ids, std::span<const int64_t> mask) override { return enc->encode(ids, mask); }
  Tensor encode_embeddings(const Tensor& embeds, std::span<const int64_t> positions,
                           std::span<const int64_t> mask) override {
    return enc->encode_embeddings(embeds, positions, mask);
  }
  std::unique_ptr<LlamaTextEncoderCuda> enc;
};

struct ClipGpu final : HunyuanCudaParts::Clip {
  explicit ClipGpu(const ClipTextEncoder& e) : enc(ClipTextEncoderCuda::upload(e)) {}
  Tensor pooled(std::span<const int64_t> ids, std::span<const int64_t> mask) override {
    return enc->encode(ids, mask).pooled;
  }
  std::unique_ptr<ClipTextEncoderCuda> enc;
};

struct VisionGpu final : HunyuanCudaParts::Vision {
  explicit VisionGpu(const LlavaVisionEncoder& e) : enc(LlavaVisionEncoderCuda::upload(e)) {}
  LlavaImageFeatures encode(const Tensor& pixel_values) override { return enc->encode(pixel_values); }
  std::unique_ptr<LlavaVisionEncoderCuda> enc;
};

}  // namespace

std::unique_ptr<Denoiser> make_cuda_denoiser(const HunyuanDit& dit, bool offload, Release release) {
  return std::make_unique<HunyuanCudaDenoiser>(dit, offload, release);
}

HunyuanCudaParts cuda_parts() {
  HunyuanCudaParts p;
  p.denoiser = [](const HunyuanDit& dit, bool offload, Release release) -> std::unique_ptr<Denoiser> {
    return std::make_unique<HunyuanCudaDenoiser>(dit, offload, release);
  };
  p.llm = [](const LlamaTextEncoder& e) -> std::unique_ptr<HunyuanCudaParts::Llm> { return std::make_unique<LlmGpu>(e); };
  p.clip = [](const ClipTextEncoder& e) -> std::unique_ptr<HunyuanCudaParts::Clip> { return std::make_unique<ClipGpu>(e); };
  p.vision = [](const LlavaVisionEncoder& e) -> std::unique_ptr<HunyuanCudaParts::Vision> {
    return std::make_unique<VisionGpu>(e);
  };
  p.vae_decode = [](const HunyuanVae& vae, const Tensor& x) {
    return hunyuan_vae_decode_cuda(vae, x, /*tiling=*/true, /*clamp=*/true);
  };
  p.vae_encode = [](const HunyuanVae& vae, const Tensor& frames) {
    return hunyuan_vae_encode_cuda(vae, frames, /*tiling=*/true);
  };
  p.take_peak_memory_gib = [] {
    const double g = static_cast<double>(cuda::memory_stats().peak) / (1ull << 30);
    cuda::reset_peak_memory();
    return g;
  };
  p.gpu_name = [] { return std::string(cuda::device_info().name); };
  p.attention_head_dim = [](int64_t hd) { return cuda::attention_head_dim(hd); };
  return p;
}

std::unique_ptr<Denoiser> make_random_cuda_denoiser(const HunyuanConfig& config, uint64_t seed, Release release,
                                                    bool offload) {
  return std::make_unique<HunyuanCudaDenoiser>(config, HunyuanDitCuda::random(config, seed, offload), release);
}

}  // namespace jenga::hunyuan
