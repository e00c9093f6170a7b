// The f32 reference backend of the denoising loop: a host Denoiser (any model's CPU DiT) with the
// CPU AttenCarve mask and the CPU Sparse VideoGen attention.
#include <algorithm>
#include <cmath>

#include "core/dtype.h"
#include "core/error.h"
#include "core/tensor.h"
#include "dist/communicator.h"
#include "dist/ulysses.h"
#include "jenga/carve_mask.h"
#include "backend/denoise_backend.h"
#include "backend/cpu/svg_attention_cpu.h"
#include "models/video_model.h"
#include "sampling/flow_unipc.h"

namespace jenga {

namespace {

class CpuBackend final : public DenoiseBackend {
 public:
  CpuBackend(Denoiser& d, dist::Communicator* comm) : model_(d), comm_(comm) {}

  void set_contexts(const Conditioning& cond, const Conditioning& uncond) override {
    model_.set_conditioning(0, cond);
    model_.set_conditioning(1, uncond);
  }

  void set_timesteps(const std::vector<double>&) override {}

  void set_stage(const StageGeometry& g, bool) override {
    geo_ = g;
    frame0_.clear();  // a new stage's size: the caller hands its first frame again
    const auto& c = model_.info();
    n_ = static_cast<size_t>(c.geometry.latent_channels * g.latent[0] * g.latent[1] * g.latent[2]);
    x_.assign(n_, 0.0f), last_.assign(n_, 0.0f), h0_.assign(n_, 0.0f), h1_.assign(n_, 0.0f);
    const auto& patch = c.geometry.patch;
    const int64_t tokens = (g.latent[0] / patch[0]) * (g.latent[1] / patch[1]) * (g.latent[2] / patch[2]);
    // Under sequence parallel each rank keeps the TeaCache residual of its token shard only.
    const int64_t mine = comm_ ? dist::Ulysses::token_split(tokens, comm_->size()).count[static_cast<size_t>(comm_->rank())] : tokens;
    for (auto& r : residual_) r.assign(static_cast<size_t>(mine * c.hidden), 0.0f);
    image_tokens_ = tokens;
    order_.clear();
    if (g.curve) order_.assign(g.curve->order.begin(), g.curve->order.end());
    model_.prepare(g.latent, order_, comm_);
  }

  void set_svg(const SvgStage& s) override { svg_ = s; }

  void set_latents(const std::vector<float>& x) override {
    if (x.size() != n_) fail("denoise: {} latent values for a stage of {}", x.size(), n_);
    x_ = x;
  }
  std::vector<float> latents() override { return x_; }

  void set_first_frame(const std::vector<float>& f) override {
    const int64_t z = model_.info().geometry.latent_channels;
    if (!f.empty() && f.size() != static_cast<size_t>(z * geo_.latent[1] * geo_.latent[2]))
      fail("denoise: a first frame of {} values for a stage of {}x{}x{} latents", f.size(), z, geo_.latent[1],
           geo_.latent[2]);
    frame0_ = f;
    hold_first_frame();
  }

  void step(const StepRun& run, const SolverUpdate& u) override {
    const auto v = velocity(run);
    apply_solver_update(u, v.data(), x_.data(), last_.data(), h0_.data(), h1_.data(), n_);
    if (!u.euler) h0_.swap(h1_);
    hold_first_frame();  // frame 0 takes no update: the image latent again
    if (nan_step_ < 0)
      for (float e : x_)
        if (!std::isfinite(e)) {
          nan_step_ = run.step;
          break;
        }
    // Stop here, naming the step: the next forward would only see "its input holds NaN".
    if (nan_step_ >= 0) fail("the latents became NaN/inf at step {}; the DiT's weights may be corrupt", nan_step_ + 1);
  }

  std::vector<float> velocity(const StepRun& run) override {
    hold_first_frame();  // the DiT sees the image latent in frame 0
    if (!run.two_branch) return forward(run, 0);  // embedded guidance: the one branch is the velocity
    std::vector<float> v[2];
    for (int b = 0; b < 2; ++b) v[b] = forward(run, b);
    std::vector<float> out(n_);
    for (size_t k = 0; k < n_; ++k) out[k] = v[1][k] + run.guide * (v[0][k] - v[1][k]);
    return out;
  }

  void wait(bool) override {}

  std::vector<float> time_embedding(double t, bool projected) override {
    return model_.step_cache_indicator(t, projected);
  }

  int nan_step() override { return nan_step_; }
  double sparse_density() override {
    // Each rank counted its head shard: sum over ranks.
    double kept = kept_ + svg_run_.kept_blocks, all = all_ + svg_run_.all_blocks;
    if (comm_ && comm_->size() > 1) {
      std::vector<float> mine{static_cast<float>(kept), static_cast<float>(all)}, every(2 * comm_->size());
      comm_->all_gather(mine.data(), every.data(), 2, DType::F32);
      kept = all = 0;
      for (int r = 0; r < comm_->size(); ++r) kept += every[2 * r], all += every[2 * r + 1];
    }
    return all > 0 ? kept / all : 0.0;
  }
  double svg_temporal_fraction() override {
    return svg_run_.heads_seen > 0 ? svg_run_.temporal_heads / svg_run_.heads_seen : 0.0;
  }

 private:
  // x_[:, 0] <- the image latent (image-to-video); nothing without one.
  void hold_first_frame() {
    if (frame0_.empty()) return;
    const size_t hw = static_cast<size_t>(geo_.latent[1] * geo_.latent[2]), per_c = hw * static_cast<size_t>(geo_.latent[0]);
    for (size_t c = 0; c * hw < frame0_.size(); ++c) std::copy_n(frame0_.data() + c * hw, hw, x_.data() + c * per_c);
  }

  std::vector<float> forward(const StepRun& run, int branch) {
    const auto& c = model_.info();
    DitForwardHooks hooks;
    hooks.token_order = order_;
    hooks.comm = comm_;
    if (run.cache) {
      hooks.residual = residual_[branch].data();
      hooks.reuse_residual = run.reuse[branch];
    }
    if (run.svg) {
      if (svg_.rows.empty()) fail("denoise: an SVG step without set_svg()");
      hooks.self_attention = [&](int layer, const float* q, const float* k, const float* v, float* out,
                                 int64_t tokens) {
        if (layer < svg_.dense_layers) return false;  // official first_layers_fp warm-up
        svg_run_.run(svg_, branch, q, k, v, out, tokens, c.heads, c.head_dim);
        return true;
      };
    }
    if (run.sparse) {
      hooks.self_attn_layout = [&](int, const float* q, const float* k, int64_t tokens,
                                   int64_t H) -> const BlockSparseLayout* {
        // The official mask sees bf16 q/k in [B, H, L, D] (H: this rank's heads).
        const int64_t D = c.head_dim;
        qh_.resize(static_cast<size_t>(tokens * H * D)), kh_.resize(qh_.size());
        for (int64_t i = 0; i < tokens; ++i)
          for (int64_t h = 0; h < H; ++h)
            for (int64_t d = 0; d < D; ++d) {
              qh_[(h * tokens + i) * D + d] = bf16_to_f32(f32_to_bf16(q[(i * H + h) * D + d]));
              kh_[(h * tokens + i) * D + d] = bf16_to_f32(f32_to_bf16(k[(i * H + h) * D + d]));
            }
        CarveParams p;
        p.top_k = run.top_k, p.p = run.p_remain, p.first_frame_blocks = run.first_frame_blocks;
        // Condition rows inside the sequence (HunyuanVideo's text) after the image tokens: the
        // trailing blocks that hold no image token. The layout covers image + valid text rows
        // (the official kernels mask keys past that length), so I2V's 396 rows, zero-padded to
        // 4 blocks by its kernel, need at most 4 here and the image rows see the same keys.
        if (c.geometry.condition_blocks > 0)
          p.text_blocks = std::max<int64_t>(0, (tokens + 127) / 128 - (image_tokens_ + 127) / 128);
        text_blocks_ = p.text_blocks;
        p.neighbors = geo_.neighbors.get();
        layout_ = build_carve_mask(qh_.data(), kh_.data(), 1, H, tokens, D, p).layout();
        kept_ += static_cast<double>(layout_.offsets.back());
        all_ += static_cast<double>(layout_.rows() * layout_.k_blocks);
        return &layout_;
      };
      if (run.text_amp != 0.0) {
        // The text amplifier (official text_amp, log2 units) on the text key blocks.
        hooks.key_block_bias = [&](int, int64_t H, int64_t kb) -> const float* {
          bias_.assign(static_cast<size_t>(H * kb), 0.0f);
          const float b = static_cast<float>(run.text_amp * std::log(2.0));
          for (int64_t h = 0; h < H; ++h)
            for (int64_t j = std::max<int64_t>(0, kb - text_blocks_); j < kb; ++j) bias_[static_cast<size_t>(h * kb + j)] = b;
          return bias_.data();
        };
      }
    }
    const Tensor xt = Tensor::from_f32(x_, Shape{c.geometry.latent_channels, geo_.latent[0], geo_.latent[1], geo_.latent[2]});
    const float guidance = run.embedded_guidance > 0 ? run.embedded_guidance : run.guide;
    const Tensor o = model_.forward_host(xt, run.timestep, branch, guidance, hooks);
    const float* v = o.data_as<float>();
    for (int64_t i = 0; i < o.numel(); ++i)
      if (!std::isfinite(v[i]))  // NaN weights: say so here, not as the next step's bad input
        fail("the DiT produced NaN/inf at step {}; its weights may be corrupt", run.step + 1);
    return std::vector<float>(v, v + o.numel());
  }

  Denoiser& model_;
  dist::Communicator* comm_;
  StageGeometry geo_;
  size_t n_ = 0;
  int64_t image_tokens_ = 0, text_blocks_ = 0;
  std::vector<float> bias_;  // [heads, key blocks] of the current layer (text amplifier)
  std::vector<float> x_, last_, h0_, h1_, residual_[2], qh_, kh_;
  std::vector<float> frame0_;  // [z, h, w] image latent held in frame 0, or empty
  std::vector<int64_t> order_;
  BlockSparseLayout layout_;
  SvgStage svg_;
  SvgAttentionCpu svg_run_;
  int nan_step_ = -1;
  double kept_ = 0, all_ = 0;
};

}  // namespace

std::unique_ptr<DenoiseBackend> make_cpu_denoise_backend(Denoiser& model, dist::Communicator* comm) {
  return std::make_unique<CpuBackend>(model, comm);
}

}  // namespace jenga
