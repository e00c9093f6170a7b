#pragma once
// HunyuanVideo behind the model interface (models/video_model.h): its geometry and sampler
// defaults, the LLM + CLIP-L text encoder with the T2V template, the DiT as a Denoiser (the CPU
// f32 forward here; the bf16 CUDA one, make_cuda_denoiser below, comes in through HunyuanCudaParts), and the causal 3D VAE's tiled
// decode. The registry (models/registry.h) opens it from the folders users download
// (models/hunyuan/hunyuan_folder.h): T2V, AccVideo and I2V (token_replace).
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "models/hunyuan/hunyuan_dit.h"
#include "models/hunyuan/hunyuan_folder.h"
#include "models/video_model.h"

namespace jenga::hunyuan {

// 4x temporal / 8x spatial VAE, one 3D curve over the token volume, the text tokens in the
// self-attention sequence (2 blocks of 128; I2V: 4), embedded guidance when the DiT has a
// guidance embedding (the cfg-distilled T2V release, AccVideo), else two-branch CFG; the
// official sampler: flow-matching Euler on the shifted linspace(1, 0) table, shift 7, embedded
// guidance 6.0, 50 steps (AccVideo: 5).
Geometry hunyuan_geometry(const HunyuanConfig& c, Release release = Release::T2V);

// The value guidance_in gets for an embedded guidance scale, as the official pipelines compute it
// at their default bf16 precision: tensor([scale], fp32).to(bf16) * 1000.0, a bf16 multiply
// (pipeline_hunyuan_video.py:976-985; the I2V, AccVideo and Jenga pipelines alike). 6.0 -> 6016,
// not 6000 (bf16 spacing is 32 in [4096, 8192) and 6000 is a tie, rounded to even).
float hunyuan_guidance_value(double scale);
DenoiserInfo hunyuan_denoiser_info(const HunyuanConfig& c, Release release = Release::T2V);

// The f32 CPU denoiser over a loaded DiT (kept by the caller, outlives the denoiser).
// Conditioning: tokens = the LLM's text states [Lt, text_dim] with `valid` real rows first,
// pooled = the CLIP vector [text_dim_2]. forward_host's guidance is the guidance scale (the DiT
// takes it x 1000). The step-cache indicator is the timestep embedding (time_in); the official
// HunyuanVideo TeaCache reads the modulated latents instead, which the loop cannot decide up front.
// I2V: the token_replace condition (latent frame 0's tokens modulated as at t = 0).
std::unique_ptr<Denoiser> make_cpu_denoiser(const HunyuanDit& dit, Release release = Release::T2V);

#if JENGA_HAVE_CUDA
// The bf16 CUDA denoiser (jenga_cuda, models/hunyuan/hunyuan_model_cuda.cpp): the weights are
// uploaded here (the host model may go afterwards). Same conditioning and guidance contract as
// the CPU denoiser; T2V text is padded to 256 rows (the official length; more rows fail); I2V
// (token_replace) takes the rows the I2V text encoder gives (396 at full size), the same in
// both branches. The step-reuse residual covers the image tokens (local_tokens()). A model
// opener in jenga_core takes it as a function pointer, as Wan's WanCudaParts.
// offload: the blocks' GEMM matrices stream from pinned host memory (HunyuanDitCuda::from_model).
std::unique_ptr<Denoiser> make_cuda_denoiser(const HunyuanDit& dit, bool offload = false, Release release = Release::T2V);
// The same over random bf16 weights drawn on the GPU (HunyuanDitCuda::random): `jenga bench
// denoise` times whole loops at full size without a checkpoint on disk.
std::unique_ptr<Denoiser> make_random_cuda_denoiser(const HunyuanConfig& config, uint64_t seed,
                                                    Release release = Release::T2V, bool offload = false);
#endif

class LlamaTextEncoder;
class ClipTextEncoder;
class LlavaVisionEncoder;
struct LlavaImageFeatures;
struct HunyuanVae;

// What a CUDA build adds (made in jenga_cuda, models/hunyuan/hunyuan_model_cuda.cpp, handed in by
// the registry, so this library never calls into the CUDA one): the DiT on the GPU
// (hunyuan_dit_cuda.*), the text encoders on the GPU (llama_text_encoder_cuda.*,
// clip_text_encoder_cuda.*, I2V's llava_vision_cuda.*; fp16 operands), the VAE decoder on the GPU with the official tiling
// (hunyuan_vae_cuda.*), and the
// allocator/device queries for the sidecar. Null parts: the CPU.
struct HunyuanCudaParts {
  std::unique_ptr<Denoiser> (*denoiser)(const HunyuanDit& dit, bool offload, Release release) = nullptr;
  // The LLM on the GPU with LlamaTextEncoder::encode's host contract (hidden_states[-3]); the
  // host encoder must outlive it. encode_embeddings: LlamaTextEncoder::encode_embeddings's (the
  // I2V text encoder's merged LLaVA input).
  struct Llm {
    virtual ~Llm() = default;
    virtual Tensor encode(std::span<const int64_t> ids, std::span<const int64_t> mask) = 0;
    virtual Tensor encode_embeddings(const Tensor& embeds, std::span<const int64_t> positions,
                                     std::span<const int64_t> mask) = 0;
  };
  std::unique_ptr<Llm> (*llm)(const LlamaTextEncoder& encoder) = nullptr;
  // CLIP-L on the GPU: ClipTextEncoder::encode(...).pooled; the host encoder must outlive it.
  struct Clip {
    virtual ~Clip() = default;
    virtual Tensor pooled(std::span<const int64_t> ids, std::span<const int64_t> mask) = 0;
  };
  std::unique_ptr<Clip> (*clip)(const ClipTextEncoder& encoder) = nullptr;
  // LLaVA's vision tower + projector on the GPU (HunyuanVideo-I2V): LlavaVisionEncoder::encode's
  // contract; the host encoder must outlive it.
  struct Vision {
    virtual ~Vision() = default;
    virtual LlavaImageFeatures encode(const Tensor& pixel_values) = 0;
  };
  std::unique_ptr<Vision> (*vision)(const LlavaVisionEncoder& encoder) = nullptr;
  // hunyuan_vae_decode's contract (latents as the denoiser sees them, official tiling, clamped).
  Tensor (*vae_decode)(const HunyuanVae& vae, const Tensor& latents) = nullptr;
  // hunyuan_vae_encode's contract (frames [3, F, H, W] in [-1, 1] -> scaled latents, official tiling).
  Tensor (*vae_encode)(const HunyuanVae& vae, const Tensor& frames) = nullptr;
  double (*take_peak_memory_gib)() = nullptr;
  std::string (*gpu_name)() = nullptr;
  // The head dim the attention kernel runs for a DiT's (cuda::attention_head_dim).
  int64_t (*attention_head_dim)(int64_t head_dim) = nullptr;
};
#if JENGA_HAVE_CUDA
HunyuanCudaParts cuda_parts();  // jenga_cuda
#endif

// Loads the DiT (f32 for the CPU; bf16 matrices with CUDA parts, which the GPU computes with:
// 25.6 GB of host memory, not 51, for the 13B DiT); the text encoders and VAE load when the
// generate path asks for them. I2V (paths.release): the LLaVA text encoder with the image (its
// LLM and vision tower on the GPU with CUDA parts), the reference image's bucket,
// token_replace in the DiT (CPU or CUDA), the image through the VAE encoder (CPU or CUDA); a latent_concat
// DiT (33 input channels) fails in one line.
std::unique_ptr<VideoModel> open_hunyuan_model(const HunyuanPaths& paths, const HunyuanCudaParts* cuda,
                                               const std::function<void(int64_t, int64_t)>& on_block = {});

}  // namespace jenga::hunyuan
