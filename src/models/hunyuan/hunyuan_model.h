#pragma once
// HunyuanVideo behind the model interface (models/video_model.h): its geometry and the DiT as a
// host Denoiser over the CPU f32 forward (token order and layout hooks included), or a device
// Denoiser over the CUDA forward. The text encoders and the VAE are not wired here yet, so the
// registry does not open it for generate; tests drive the denoiser through the interface and the model-neutral denoise loop.
#include <memory>

#include "models/hunyuan/hunyuan_dit.h"
#include "models/video_model.h"

namespace jenga::hunyuan {

// Wan-style 4x temporal / 8x spatial VAE, one 3D curve over the token volume, the text tokens
// in the self-attention sequence (2 blocks of 128; I2V: 4), embedded guidance when the DiT has
// a guidance embedding (the cfg-distilled T2V release, AccVideo), else two-branch CFG.
Geometry hunyuan_geometry(const HunyuanConfig& c);
DenoiserInfo hunyuan_denoiser_info(const HunyuanConfig& c);

// The f32 CPU denoiser over a loaded DiT (kept by the caller, outlives the denoiser).
// Conditioning: tokens = the LLM's text states [Lt, text_dim] with `valid` real rows first,
// pooled = the CLIP vector [text_dim_2]. forward_host's guidance is the guidance scale (the DiT
// takes it x 1000). The step-cache indicator is the timestep embedding (time_in); the official
// HunyuanVideo TeaCache reads the modulated latents instead, which the loop cannot decide up front.
std::unique_ptr<Denoiser> make_cpu_denoiser(const HunyuanDit& dit);

#if JENGA_HAVE_CUDA
// The bf16 CUDA denoiser (jenga_cuda, models/hunyuan/hunyuan_model_cuda.cpp): the weights are
// uploaded here (the host model may go afterwards). Same conditioning and guidance contract as
// the CPU denoiser; text is padded to 256 rows (the official length; more rows fail). The
// step-reuse residual covers the image tokens (local_tokens()). A model opener in jenga_core
// takes it as a function pointer, as Wan's WanCudaParts.
std::unique_ptr<Denoiser> make_cuda_denoiser(const HunyuanDit& dit);
#endif

}  // namespace jenga::hunyuan
