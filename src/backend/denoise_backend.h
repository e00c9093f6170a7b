#pragma once
// What the denoising loop needs from a device: evaluate the DiT's guidance branches through the
// model's Denoiser (both CFG branches, or one with embedded guidance; dense or with an
// AttenCarve mask, computing or reusing the blocks' cached residual) and apply a sampler update
// to latents it keeps. Model-neutral: a model's Denoiser picks its loop backend
// (Denoiser::make_loop_backend). The CPU backend is the f32 reference; the CUDA one keeps every
// per-step array on the GPU and never synchronises inside a step.
#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/error.h"
#include "jenga/block_neighbors.h"
#include "jenga/gilbert_curve.h"
#include "jenga/svg/svg_classify.h"
#include "models/video_model.h"
#include "sampling/solver_update.h"

namespace jenga {

namespace dist {
class Communicator;
}

struct StageGeometry {
  std::array<int64_t, 3> latent{};                  // [T, H, W] latent (before patchify)
  std::shared_ptr<const Curve> curve;               // token order; null = raster
  std::shared_ptr<const BlockNeighbors> neighbors;  // AttenCarve neighbour blocks (with curve)
};

// Sparse VideoGen for a stage (dense schedule, raster token order): the token grid, settings,
// the sampled query rows (fixed for the run, over grid.sequence()) and the first layers that stay
// dense. HunyuanVideo: grid.text = the DiT's text rows; each branch's valid rows in text_valid.
struct SvgStage {
  svg::SvgGrid grid;
  svg::SvgParams params;
  std::vector<int32_t> rows;
  int64_t dense_layers = 0;
  std::array<int64_t, 2> text_valid{0, 0};  // cond, uncond (HunyuanVideo)
  // The grid of guidance branch `branch` (its valid text rows; Wan: the grid).
  svg::SvgGrid grid_for(int branch) const {
    svg::SvgGrid g = grid;
    if (g.rules == svg::SvgRules::hunyuan) g.text_valid = text_valid.at(static_cast<size_t>(branch));
    return g;
  }
};

struct StepRun {
  int step = 0;
  double timestep = 0;
  float guide = 1.0f;    // CFG scale (two branches), or the embedded guidance the one branch takes
  float embedded_guidance = 0.0f;  // what an embedded-guidance DiT takes in every branch (0: none)
  double text_amp = 0.0;  // HunyuanVideo AttenCarve: log2 bias on the text key blocks (first stage)
  bool two_branch = true;  // Cfg: cond + uncond combined; Embedded: branch 0 only
  bool sparse = false;  // AttenCarve instead of dense self-attention
  bool svg = false;     // Sparse VideoGen self-attention (past the warm-up steps; see set_svg)
  int64_t top_k = 0, first_frame_blocks = 0;
  double p_remain = 0.9;
  bool reuse[2] = {false, false};  // cond, uncond: add the cached residual instead of the blocks
  bool cache = false;              // step reuse on: computed branches refresh their residual
};


class DenoiseBackend {
 public:
  virtual ~DenoiseBackend() = default;
  // Hands the denoiser the conditioning of both branches once (uncond unused with one branch).
  virtual void set_contexts(const Conditioning& cond, const Conditioning& uncond) = 0;
  // Model timesteps of every step of the run (StepRun::step indexes them), uploaded once.
  virtual void set_timesteps(const std::vector<double>& timesteps) = 0;
  // A new token grid (first stage, ProRes switch): sizes buffers (TeaCache residuals when
  // step_reuse), zeroes the solver history.
  virtual void set_stage(const StageGeometry& g, bool step_reuse) = 0;
  // Sparse VideoGen settings for the current stage (after set_stage): uploads the rows and the
  // shared CSR layout once. Steps with StepRun::svg then use it.
  virtual void set_svg(const SvgStage& s) = 0;
  virtual void set_latents(const std::vector<float>& x) = 0;
  // Image-to-video (first-frame replacement), after set_stage: latent frame 0 is `frame0` ([z,
  // 1, h, w] of the stage's size) before every forward and after every update, so the solver
  // never moves it. Empty: none. A backend without it fails.
  virtual void set_first_frame(const std::vector<float>& frame0);
  virtual std::vector<float> latents() = 0;
  // Both branches, then the guided sampler update of the latents.
  virtual void step(const StepRun& run, const SolverUpdate& update) = 0;
  // Both branches; the guided velocity to the host (the stage switch).
  virtual std::vector<float> velocity(const StepRun& run) = 0;
  // Blocks until every enqueued step has finished, or (pipelined progress) all but the newest.
  virtual void wait(bool all_but_newest) = 0;
  // The denoiser's step-cache (TeaCache) indicator for timestep t (Denoiser::step_cache_indicator).
  virtual std::vector<float> time_embedding(double t, bool projected) = 0;
  // First step whose latents became non-finite, or -1 (synchronises).
  virtual int nan_step() = 0;
  virtual double peak_memory_gib() const { return 0; }
  virtual DitMemory dit_memory() const { return {}; }
  // Kept / all self-attention blocks over every sparse layer evaluated so far (synchronises).
  virtual double sparse_density() = 0;
  // Temporal / all heads over every SVG layer evaluated so far (synchronises); 0 without SVG.
  virtual double svg_temporal_fraction() { return 0.0; }
};

inline void DenoiseBackend::set_first_frame(const std::vector<float>& frame0) {
  if (!frame0.empty()) fail("denoise: this device's loop does not take an image condition yet; use --device cpu");
}

// The loop backends a Denoiser::make_loop_backend returns. comm: Ulysses sequence parallel over
// its ranks (every rank runs the same loop on the same latents; the DiT output is gathered);
// null = one process.
// CPU: a host denoiser (forward_host), f32 reference.
std::unique_ptr<DenoiseBackend> make_cpu_denoise_backend(Denoiser& denoiser, dist::Communicator* comm = nullptr);
// CUDA (built in jenga_cuda): a device denoiser (forward_device); comm is the host communicator
// (MPI), the backend makes its NCCL communicator from it.
std::unique_ptr<DenoiseBackend> make_cuda_denoise_backend(Denoiser& denoiser, dist::Communicator* comm = nullptr);

}  // namespace jenga
