// Wan2.1's CUDA parts of the model interface (jenga_cuda): the DiT as a device Denoiser over
// WanDitCuda, umT5 and the VAE decoder on the GPU. The registry hands them to open_wan_model.
#include <vector>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/padded_attention.h"
#include "backend/denoise_backend.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/tensor.h"
#include "models/wan/t5_encoder_cuda.h"
#include "models/wan/vae_cuda.h"
#include "models/wan/wan_dit_cuda.h"
#include "models/wan/wan_model.h"

namespace jenga::wan {

namespace {

Tensor dev(DType dt, int64_t n) { return Tensor::empty(dt, Shape{std::max<int64_t>(n, 1)}, Device::CUDA); }

class WanCudaDenoiser final : public Denoiser {
 public:
  WanCudaDenoiser(const WanDit& m, bool offload) : cfg_(m.config), info_(wan_denoiser_info(m.config)) {
    cuda::init();
    dit_ = WanDitCuda::from_model(m, offload);
  }
  const DenoiserInfo& info() const override { return info_; }
  std::unique_ptr<DenoiseBackend> make_loop_backend(dist::Communicator* comm) override {
    return make_cuda_denoise_backend(*this, comm);
  }
  // Uploads the context ([L, text_dim] f32) once as bf16 [text_len, text_dim].
  void set_conditioning(int slot, const Conditioning& cond) override {
    const auto& c = cfg_;
    const Tensor* src = &cond.tokens;
    const int i = slot;
    std::vector<uint16_t> h(static_cast<size_t>(c.text_len * c.text_dim), 0);  // zero rows after the prompt
    convert(src->data(), DType::F32, h.data(), DType::BF16, static_cast<size_t>(src->numel()));
    ctx_[i] = dev(DType::BF16, c.text_len * c.text_dim);
    cuda::copy_to_device(ctx_[i].data(), h.data(), h.size() * 2);
  }
  void prepare(const std::array<int64_t, 3>& latent, std::span<const int64_t> order, dist::Communicator* comm) override {
    const auto& p = cfg_.patch;
    dit_->prepare(latent[0] / p[0], latent[1] / p[1], latent[2] / p[2], order, comm);
  }
  int64_t local_tokens() const override { return dit_->local_tokens(); }
  int64_t local_heads() const override { return dit_->local_heads(); }
  std::vector<float> step_cache_indicator(double t, bool projected) override { return dit_->time_embedding(t, projected); }
  void forward_device(const float* x, const float* t, int slot, float, float* out, void* stream,
                      const CudaDitHooks& hooks) override {
    dit_->forward(x, t, ctx_[slot].data(), out, stream, &hooks);
  }
  DitMemory memory() const override { return device_dit_memory(*dit_); }

 private:
  WanConfig cfg_;
  DenoiserInfo info_;
  std::unique_ptr<WanDitCuda> dit_;
  Tensor ctx_[2];
};

struct T5Gpu final : WanCudaParts::T5 {
  explicit T5Gpu(const T5Encoder& e) : enc(T5EncoderCuda::from_encoder(e)) {}
  Tensor encode(std::span<const int64_t> ids, std::span<const int64_t> mask) override { return enc->encode(ids, mask); }
  std::unique_ptr<T5EncoderCuda> enc;
};

}  // namespace

WanCudaParts cuda_parts() {
  WanCudaParts p;
  p.denoiser = [](const WanDit& dit, bool offload) -> std::unique_ptr<Denoiser> {
    return std::make_unique<WanCudaDenoiser>(dit, offload);
  };
  p.t5 = [](const T5Encoder& e) -> std::unique_ptr<WanCudaParts::T5> { return std::make_unique<T5Gpu>(e); };
  p.vae_decode = [](const WanVae& vae, const Tensor& x, const std::function<void(int64_t, int64_t)>& on_frame) {
    return vae_decode_cuda(vae, x, true, VaePrecision::Bf16, on_frame);
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

}  // namespace jenga::wan
