#pragma once
// HunyuanVideo behind the model interface (models/video_model.h): its geometry and the DiT as a
// host Denoiser over the CPU f32 forward (token order and layout hooks included). The text
// encoders, the VAE and a CUDA DiT are not there yet, so the registry does not open it for
// generate; tests drive the denoiser through the interface and the model-neutral denoise loop.
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

}  // namespace jenga::hunyuan
