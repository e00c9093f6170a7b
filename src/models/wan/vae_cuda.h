#pragma once
// The Wan2.1 VAE decoder on CUDA: the same streamed decode as vae_cpu (one latent frame per
// chunk, the official temporal cache), channels-last activations, convolutions as bf16 im2col
// tiles x packed kernels through cuBLASLt with f32 accumulation, f32 bias and residual stream;
// conv inputs (norm + SiLU outputs, caches) in bf16. Memory is bounded by the chunking: buffers
// come from a size-keyed pool that stops growing after the second chunk, and the im2col tile
// has a fixed budget.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace jenga {
class Tensor;
}

namespace jenga::wan {

struct WanVae;

// Bf16: conv weights and inputs in bf16 (the fast path). F32: everything in f32 with exact f32
// GEMMs, slower; a reference that isolates bf16 rounding from logic errors (tiny test VAEs of
// width 3 lose ~5% to bf16 rounding alone).
enum class VaePrecision { Bf16, F32 };

class WanVaeCuda {
 public:
  // Uploads the decoder (and the post-quant conv) of a loaded VAE.
  static std::unique_ptr<WanVaeCuda> from_model(const WanVae& vae, VaePrecision precision = VaePrecision::Bf16);
  ~WanVaeCuda();

  // latents: [z_dim, T, H, W] f32 (device), normalised as the denoiser sees them;
  // frames: [3, 1 + tf(T-1), sf*H, sf*W] f32 (device), clamped to [-1, 1] when `clamp`.
  // Enqueued on `stream`; returns when enqueued (the host waits only for pool growth).
  // Ctrl-C (core/interrupt.h) is checked between frames. With on_frame: on_frame(latent frames
  // decoded, T) once each frame's work has run on the GPU (the host waits for frame t-1 after
  // enqueueing frame t, so the queue never runs dry; a Ctrl-C is then seen within about a
  // frame's time); the call returns when all is decoded.
  void decode(const float* latents, int64_t T, int64_t H, int64_t W, float* frames, bool clamp,
              void* stream = nullptr, const std::function<void(int64_t, int64_t)>& on_frame = {});

  int64_t z_dim() const;
  int64_t out_channels() const;
  int64_t temporal_factor() const;
  int64_t spatial_factor() const;
  size_t weight_bytes() const;
  // Bytes of the im2col tile budget (the largest workspace a convolution uses).
  void set_im2col_budget(size_t bytes);

 private:
  WanVaeCuda();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Host in, host out (tests, `jenga debug vae-decode --device cuda`, the pipeline):
// latents [z_dim, T, H, W] f32 CPU -> frames [3, 1 + 4(T-1), 8H, 8W] f32 CPU.
// on_frame: progress per latent frame as WanVaeCuda::decode gives it.
Tensor vae_decode_cuda(const WanVae& vae, const Tensor& latents, bool clamp = true,
                       VaePrecision precision = VaePrecision::Bf16,
                       const std::function<void(int64_t, int64_t)>& on_frame = {});

}  // namespace jenga::wan
