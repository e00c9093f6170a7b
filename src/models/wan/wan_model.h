#pragma once
// Wan2.1 text-to-video behind the model interface (models/video_model.h): its geometry, the umT5
// text encoder, the DiT as a Denoiser (CPU f32 here; CUDA from jenga_cuda through WanCudaParts)
// and the Wan VAE. The registry (models/registry.h) opens it.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "models/video_model.h"
#include "models/wan/wan_dit.h"

namespace jenga {
class Progress;
class TempPath;
}

namespace jenga::wan {

struct WanVae;
class T5Encoder;

// The official negative prompt of Wan2.1 (wan/configs/shared_config.py).
extern const char* const kWanDefaultNegativePrompt;

Geometry wan_geometry(const WanConfig& c);
DenoiserInfo wan_denoiser_info(const WanConfig& c);

// The f32 CPU denoiser over a loaded DiT (kept by the caller, outlives the denoiser).
std::unique_ptr<Denoiser> make_cpu_denoiser(const WanDit& dit);

// What a CUDA build adds, made in jenga_cuda (models/wan/wan_model_cuda.cpp) and handed in by the
// registry, so this library never calls into the CUDA one (no link cycle).
struct WanCudaParts {
  // The DiT on the GPU (bf16 weights; offload: blocks streamed from pinned host memory).
  std::unique_ptr<Denoiser> (*denoiser)(const WanDit& dit, bool offload) = nullptr;
  // umT5 on the GPU: an encoder with T5Encoder::encode's host contract.
  struct T5 {
    virtual ~T5() = default;
    virtual Tensor encode(std::span<const int64_t> ids, std::span<const int64_t> mask) = 0;
  };
  std::unique_ptr<T5> (*t5)(const T5Encoder& encoder) = nullptr;
  // on_frame(latent frames decoded, total): progress, as the CPU decoder gives it.
  Tensor (*vae_decode)(const WanVae& vae, const Tensor& latents,
                       const std::function<void(int64_t, int64_t)>& on_frame) = nullptr;
  double (*take_peak_memory_gib)() = nullptr;  // allocator peak since the last call; resets it
  std::string (*gpu_name)() = nullptr;          // the device's name
  // The head dim the attention kernel runs for a DiT's (cuda::attention_head_dim).
  int64_t (*attention_head_dim)(int64_t head_dim) = nullptr;
};
#if JENGA_HAVE_CUDA
WanCudaParts cuda_parts();  // jenga_cuda
#endif

// The files of one Wan2.1 model. builtin_dir: the built-in tiny model's temp folder (removed
// with the model, or on a signal: core/temp_paths.h); null for a real model.
struct WanPaths {
  std::string dit, vae, t5, tokenizer;
  std::shared_ptr<TempPath> builtin_dir;
};

// Loads the DiT (bf16 matrices for CUDA, f32 for the CPU); the text encoder and VAE load when
// asked for. cuda_parts: non-null runs on the GPU. on_block(done, total): DiT load progress.
std::unique_ptr<VideoModel> open_wan_model(const WanPaths& paths, const WanCudaParts* cuda_parts,
                                           const std::function<void(int64_t, int64_t)>& on_block = {});

}  // namespace jenga::wan
