#pragma once
// The HunyuanVideo VAE (decoder and encoder) on CUDA, one tile at a time behind the official
// tiling of hunyuan_vae_tiling (tiles go host -> device -> host). Precision as the official fp16
// run: fp16 activations, weights and biases, f32 accumulation (cuBLASLt), GroupNorm statistics in
// double and applied in f32; the tile's last layer writes f32.
//
// Memory: a tile runs in a workspace sized once for its shape (three activation slots, one
// im2col tile, the mid attention's q/k/v and one block of scores) by a dry run of the same
// layer sequence, so no layer allocates; the workspace grows only when a larger tile comes.
// Convs: stride-1 3x3x3 ones (nearly all the work) through our implicit GEMM over a
// replicate-padded copy of the input (conv3d_igemm.h: no 27x im2col matrix); the rest (1x1, strided,
// narrow) as im2col rows x kernels through cuBLASLt. Fusions: GroupNorm (+ SiLU) and the causal
// nearest upsample are applied while building the padded copy / the im2col rows; the conv bias
// and the residual add are the GEMM's epilogue (in place).
// STATUS: the GPU tests (decode and encode vs the official goldens) are written without a GPU.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "models/hunyuan/hunyuan_vae.h"
#include "models/hunyuan/hunyuan_vae_cpu.h"

namespace jenga::hunyuan {

// Which halves of the VAE to upload (fp16 kernels, f32 norms). The encoder needs encoder.* weights.
struct HyVaeCudaParts {
  bool decoder = true, encoder = false;
  // Stride-1 3x3x3 convs (cin % 32 == 0) through our implicit GEMM (conv3d_igemm.h); false: every
  // conv through im2col + cuBLASLt (the reference path; also JENGA_HY_VAE_IM2COL=1). On Hopper
  // the implicit GEMM runs on wgmma (conv3d_wgmma.cu); JENGA_HY_VAE_CONV=mma keeps the mma.sync
  // kernel (A/B runs).
  bool implicit_gemm = true;
  // Bytes of the im2col tile / padded chunk of frames (a conv's working buffer; larger when one
  // frame needs more).
  int64_t col_budget_bytes = int64_t{256} << 20;
};

class HunyuanVaeCuda {
 public:
  static std::unique_ptr<HunyuanVaeCuda> from_model(const HunyuanVae& vae, HyVaeCudaParts parts = {});
  ~HunyuanVaeCuda();

  // Unscaled latents [t, h, w, latent] (host) -> frames [t', h', w', out] (host), unclamped.
  HyClip decode_tile(const HyClip& z);
  // Frames [t, h, w, in] (host) -> the posterior mean, unscaled [t', h', w', latent] (host).
  HyClip encode_tile(const HyClip& x);

  // Device bytes of the weights and of the current workspace (for benchmarks).
  size_t weight_bytes() const;
  size_t workspace_bytes() const;
  bool implicit_gemm() const;  // which conv path runs the 3x3x3 convs
  // The 3x3x3 convs' kernel in words: "implicit gemm (wgmma)" (Hopper), "implicit gemm
  // (mma.sync)" (other GPUs, or JENGA_HY_VAE_CONV=mma) or "im2col + cublaslt".
  const char* conv_kernel() const;
  // GPU milliseconds per kind of work (CUDA events; off by default), summed since the last take,
  // and the conv GEMMs' useful GFLOP ("conv GFLOP") over the same calls.
  void set_breakdown(bool on);
  std::vector<std::pair<std::string, double>> take_breakdown();

 private:
  HunyuanVaeCuda();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// latents [C, T, H, W] f32 CPU as the denoiser sees them -> frames [3, F, 8H, 8W] f32 CPU with
// the official tiling (as hunyuan_vae_decode), each tile decoded on the GPU.
Tensor hunyuan_vae_decode_cuda(const HunyuanVae& vae, const Tensor& latents, bool tiling = true, bool clamp = true);

// frames [3, F, H, W] f32 CPU in [-1, 1] -> latents scaled by scaling_factor (as
// hunyuan_vae_encode), each tile encoded on the GPU.
Tensor hunyuan_vae_encode_cuda(const HunyuanVae& vae, const Tensor& frames, bool tiling = true);

}  // namespace jenga::hunyuan
