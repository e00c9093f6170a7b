// The CUDA backend of the denoising loop, for any model's device Denoiser. Latents, solver history, both branches' outputs and
// TeaCache residuals live on the GPU; the timesteps of the whole run are uploaded once and each
// layer's AttenCarve layout is built on the GPU from that layer's q/k. A step only enqueues
// work: no allocation, no host sync (progress waits one step behind, see wait()).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/mask_builder.h"
#include "backend/cuda/sampler.h"
#include "backend/cuda/svg_attention.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/tensor.h"
#include "dist/communicator.h"
#include "dist/nccl_communicator.h"
#include "jenga/svg/svg_masks.h"
#include "models/video_model.h"
#include "backend/denoise_backend.h"

namespace jenga {

namespace {

Tensor dev(DType dt, int64_t n) { return Tensor::empty(dt, Shape{std::max<int64_t>(n, 1)}, Device::CUDA); }

// Per-layer AttenCarve layouts for one stage: neighbour CSR on the device, scratch, output CSR.
// Layers run in order on one stream, so one output buffer serves them all. A model with
// condition blocks in the sequence (HunyuanVideo's text) calls the hook with the image tokens
// plus its valid text rows (a length that may differ per branch): the layout then spans
// ceil(tokens/128) blocks, the image blocks select (neighbour table over them), the trailing
// text blocks are dense rows and always-kept keys, as the CPU reference's text_blocks.
class CarveLayouts {
 public:
  // image_tokens: the stage's image tokens; max_tokens: the longest sequence a hook call may
  // bring (image + the denoiser's text rows with condition blocks, else image_tokens).
  void set_stage(const BlockNeighbors* nb, int64_t image_tokens, int64_t max_tokens, bool condition_blocks, int heads,
                 int head_dim) {
    image_tokens_ = image_tokens, max_tokens_ = std::max(max_tokens, image_tokens), heads_ = heads, head_dim_ = head_dim;
    condition_ = condition_blocks;
    image_blocks_ = (image_tokens + 127) / 128;
    const int64_t blocks = (max_tokens_ + 127) / 128;
    offsets_ = dev(DType::I32, heads * blocks + 1);
    indices_ = dev(DType::I32, heads * blocks * blocks);
    nb_off_ = Tensor(), nb_idx_ = Tensor();
    if (nb) {
      if (nb->blocks != image_blocks_)
        fail("AttenCarve: neighbour table of {} blocks for {} image blocks", nb->blocks, image_blocks_);
      nb_off_ = dev(DType::I32, static_cast<int64_t>(nb->offsets.size()));
      nb_idx_ = dev(DType::I32, static_cast<int64_t>(nb->indices.size()));
      cuda::copy_to_device(nb_off_.data(), nb->offsets.data(), nb->offsets.size() * 4);
      if (!nb->indices.empty()) cuda::copy_to_device(nb_idx_.data(), nb->indices.data(), nb->indices.size() * 4);
    }
    // The largest sequence needs the most scratch (the plan grows with the block count).
    cuda::BlockMaskArgs a = args(nullptr, nullptr, max_tokens_, 8, 0, 0, 0.0);
    ws_bytes_ = cuda::block_mask_workspace_bytes(a);
    ws_ = dev(DType::U8, static_cast<int64_t>(ws_bytes_));
    // The text amplifier's per-(head, key block) bias, one buffer per branch (their key block
    // counts may differ), refilled on the stream only when the value or the block count changes.
    for (auto& b : bias_) b = condition_ ? dev(DType::F32, heads * blocks) : Tensor();
    for (auto& k : bias_key_) k = {0.0, -1};
    if (!kept_.data()) {  // the run's running total, kept across stages
      kept_ = dev(DType::I64, 1);
      JENGA_CUDA_CHECK(cudaMemset(kept_.data(), 0, 8));
    }
  }

  // tokens: the hook's sequence length (the stage's tokens, or image + valid text rows).
  DeviceBlockLayout build(const void* q, const void* k, int64_t tokens, int64_t row_stride, int64_t top_k, int64_t ffb,
                          double p, void* stream) {
    if (tokens > max_tokens_ || (!condition_ && tokens != image_tokens_))
      fail("AttenCarve: a layout for {} tokens; the stage holds {} (at most {})", tokens, image_tokens_, max_tokens_);
    const auto a = args(static_cast<const uint16_t*>(q), static_cast<const uint16_t*>(k), tokens, row_stride, top_k,
                        ffb, p);
    cuda::build_block_mask(a, ws_.data(), ws_bytes_, stream);
    const int64_t blocks = (tokens + 127) / 128;
    const int rows = heads_ * static_cast<int>(blocks);
    cuda::tally_kept_blocks(offsets_.data_as<int32_t>(), rows, reinterpret_cast<unsigned long long*>(kept_.data()),
                            stream);
    all_ += static_cast<double>(rows) * static_cast<double>(blocks);
    return {offsets_.data_as<int32_t>(), indices_.data_as<int32_t>(), nullptr};
  }

  // The text amplifier (official text_amp, log2 units) as the attention's key-block bias in
  // natural-log units on the text key blocks of a `tokens`-long layout of branch `b`.
  const float* text_bias(int b, double amp_log2, int64_t tokens, void* stream) {
    if (!condition_ || amp_log2 == 0.0) return nullptr;
    const int64_t blocks = (tokens + 127) / 128;
    auto& key = bias_key_[b];
    if (key.first != amp_log2 || key.second != blocks) {
      cuda::fill_key_block_bias(bias_[b].data_as<float>(), heads_, static_cast<int>(blocks),
                                static_cast<int>(std::min(image_blocks_, blocks)),
                                static_cast<float>(amp_log2 * std::log(2.0)), stream);
      key = {amp_log2, blocks};
    }
    return bias_[b].data_as<float>();
  }

 private:
  cuda::BlockMaskArgs args(const uint16_t* q, const uint16_t* k, int64_t tokens, int64_t rs, int64_t top_k,
                           int64_t ffb, double p) {
    cuda::BlockMaskArgs a;
    a.q = q, a.k = k;
    a.q_row_stride = a.k_row_stride = rs;
    a.q_head_stride = a.k_head_stride = head_dim_;
    a.q_batch_stride = a.k_batch_stride = tokens * rs;
    a.batch = 1, a.heads = heads_, a.len = static_cast<int>(tokens), a.head_dim = head_dim_;
    // Image blocks select; the rest (text) are dense rows and always-kept keys. 0 = all (Wan).
    a.select_blocks = condition_ ? static_cast<int>(std::min(image_blocks_, (tokens + 127) / 128)) : 0;
    a.zero_padded = true;  // the official Wan wrapper pads L with zeros to a multiple of 128
    // The official pipelines build their masks from bf16 q/k under bf16 autocast: bf16 means and
    // scores, so equal scores tie and the lower index wins, as there.
    a.round_bf16 = true;
    a.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim_)));
    a.prob_threshold = static_cast<float>(p);
    a.top_k = static_cast<int>(top_k);
    a.first_frame_blocks = static_cast<int>(ffb);
    if (nb_off_.data()) a.neighbor_offsets = nb_off_.data_as<int32_t>(), a.neighbor_indices = nb_idx_.data_as<int32_t>();
    a.offsets = offsets_.data_as<int32_t>(), a.indices = indices_.data_as<int32_t>();
    return a;
  }

  int64_t image_tokens_ = 0, max_tokens_ = 0, image_blocks_ = 0;
  bool condition_ = false;
  int heads_ = 0, head_dim_ = 128;
  Tensor offsets_, indices_, nb_off_, nb_idx_, ws_, kept_, bias_[2];
  std::pair<double, int64_t> bias_key_[2] = {{0.0, -1}, {0.0, -1}};
  double all_ = 0;

 public:
  double density() {
    if (!kept_.data() || all_ == 0) return 0.0;
    unsigned long long k = 0;
    cuda::synchronize();
    cuda::copy_to_host(&k, kept_.data(), 8);
    return static_cast<double>(k) / all_;
  }
  size_t ws_bytes_ = 0;
};

class CudaBackend final : public DenoiseBackend {
 public:
  CudaBackend(Denoiser& d, dist::Communicator* host) : dit_(&d), host_(host) {
    cuda::init();
    JENGA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    // Sequence parallel: NCCL on the DiT's stream, bootstrapped through the host communicator.
    if (host_) nccl_ = dist::make_nccl_communicator(*host_, stream_);
    for (auto& e : done_) JENGA_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    nan_ = dev(DType::I32, 1);
    reset_nan();
  }
  ~CudaBackend() override {
    cudaStreamSynchronize(stream_);
    nccl_.reset();
    for (auto& e : done_) cudaEventDestroy(e);
    cudaStreamDestroy(stream_);
  }

  void set_contexts(const Conditioning& cond, const Conditioning& uncond) override {
    dit_->set_conditioning(0, cond);
    dit_->set_conditioning(1, uncond);
    uncond_branch_ = uncond.tokens.defined();  // embedded guidance without true CFG: one branch
  }

  void set_timesteps(const std::vector<double>& ts) override {
    std::vector<float> f(ts.begin(), ts.end());
    t_dev_ = dev(DType::F32, static_cast<int64_t>(f.size()));
    cuda::copy_to_device(t_dev_.data(), f.data(), f.size() * 4);
  }

  void set_stage(const StageGeometry& g, bool step_reuse) override {
    JENGA_CUDA_CHECK(cudaStreamSynchronize(stream_));
    const auto& c = dit_->info();
    const auto& patch = c.geometry.patch;
    geo_ = g;
    frame0_ = Tensor();  // a new stage's size: the caller hands its first frame again
    // A ProRes switch: the last stage's buffers go before this stage's are made, so the peak is
    // the larger stage, not both (the caller holds the latents on the host across the switch).
    x_ = last_ = vc_ = vu_ = Tensor();
    for (auto* t : {&hist_[0], &hist_[1], &residual_[0], &residual_[1]}) *t = Tensor();
    const int64_t F = g.latent[0] / patch[0], H = g.latent[1] / patch[1], W = g.latent[2] / patch[2];
    tokens_ = F * H * W;
    std::vector<int64_t> order;
    if (g.curve) order.assign(g.curve->order.begin(), g.curve->order.end());
    dit_->prepare(g.latent, order, nccl_.get());
    n_ = c.geometry.latent_channels * g.latent[0] * g.latent[1] * g.latent[2];
    x_ = dev(DType::F32, n_), last_ = dev(DType::F32, n_), vc_ = dev(DType::F32, n_), vu_ = dev(DType::F32, n_);
    for (auto& h : hist_) {
      h = dev(DType::F32, n_);
      JENGA_CUDA_CHECK(cudaMemset(h.data(), 0, h.nbytes()));  // 0 * garbage could be NaN
    }
    JENGA_CUDA_CHECK(cudaMemset(last_.data(), 0, last_.nbytes()));
    newest_ = 0;
    // Under sequence parallel: the residual of this rank's tokens, masks of its heads.
    // The uncond branch's residual only when there is an uncond branch (1.3 GiB at HunyuanVideo 720p).
    for (int b = 0; b < 2; ++b)
      residual_[b] = step_reuse && (b == 0 || uncond_branch_) ? dev(DType::F32, dit_->local_tokens() * c.hidden) : Tensor();
    // With condition blocks (HunyuanVideo's text) the layouts span the image tokens plus up to the
    // denoiser's text rows.
    const bool condition = c.geometry.condition_blocks > 0;
    carve_.set_stage(g.neighbors.get(), tokens_, condition ? tokens_ + c.text_len : tokens_, condition,
                     static_cast<int>(dit_->local_heads()), static_cast<int>(c.head_dim));
  }

  void set_svg(const SvgStage& s) override {
    const auto& c = dit_->info();
    if (s.grid.tokens() != tokens_) fail("SVG: token grid of {} tokens for a stage of {}", s.grid.tokens(), tokens_);
    JENGA_CUDA_CHECK(cudaStreamSynchronize(stream_));
    // One layout per guidance branch (HunyuanVideo: each branch's valid text rows are keys).
    std::vector<cuda::SvgBranch> branches;
    for (int b = 0; b < 2; ++b) {
      const svg::SvgGrid g = s.grid_for(b);
      const int64_t width = svg::band_width(g, svg::band_multiplier(g, s.params.sparsity));
      branches.push_back({svg::placed_layout(g, width, c.heads, 128), g.rules == svg::SvgRules::wan ? g.tokens() : g.real()});
    }
    svg_.set_stage(cuda::svg_grid_args(s.grid, c.heads, c.head_dim), s.rows, branches);
    svg_dense_layers_ = s.dense_layers;
    svg_rows_ = s.grid.sequence();
  }

  void set_latents(const std::vector<float>& x) override {
    if (static_cast<int64_t>(x.size()) != n_) fail("denoise: {} latent values for a stage of {}", x.size(), n_);
    JENGA_CUDA_CHECK(cudaStreamSynchronize(stream_));
    cuda::copy_to_device(x_.data(), x.data(), x.size() * 4);
  }

  // Image-to-video: frame 0 of the latents is the image latent before every forward and after
  // every update (the CPU backend's rule), copied on the stream from a buffer uploaded here.
  void set_first_frame(const std::vector<float>& f) override {
    const int64_t z = dit_->info().geometry.latent_channels;
    if (!f.empty() && static_cast<int64_t>(f.size()) != z * geo_.latent[1] * geo_.latent[2])
      fail("denoise: a first frame of {} values for a stage of {}x{}x{} latents", f.size(), z, geo_.latent[1],
           geo_.latent[2]);
    JENGA_CUDA_CHECK(cudaStreamSynchronize(stream_));
    frame0_ = Tensor();
    if (f.empty()) return;
    frame0_ = dev(DType::F32, static_cast<int64_t>(f.size()));
    cuda::copy_to_device(frame0_.data(), f.data(), f.size() * 4);
    hold_first_frame();
  }

  std::vector<float> latents() override {
    JENGA_CUDA_CHECK(cudaStreamSynchronize(stream_));
    std::vector<float> h(static_cast<size_t>(n_));
    cuda::copy_to_host(h.data(), x_.data(), h.size() * 4);
    return h;
  }

  void step(const StepRun& run, const SolverUpdate& u) override {
    branches(run);
    // Embedded guidance: one branch is the velocity (uncond := cond, scale 1 gives it exactly).
    const float* vu = run.two_branch ? vu_.data_as<float>() : vc_.data_as<float>();
    const float guide = run.two_branch ? run.guide : 1.0f;
    cuda::SamplerBuffers b;
    b.x = x_.data_as<float>();
    b.last = last_.data_as<float>();
    b.h0 = hist_[newest_].data_as<float>();
    b.h1 = hist_[1 - newest_].data_as<float>();
    b.m_out = hist_[1 - newest_].data_as<float>();
    b.nan_step = nan_.data_as<int>();
    cuda::sampler_step(vc_.data_as<float>(), vu, guide, u, b, run.step, n_, stream_);
    if (!u.euler) newest_ = 1 - newest_;
    hold_first_frame();  // frame 0 takes no update: the image latent again
    JENGA_CUDA_CHECK(cudaEventRecord(done_[run.step % 2], stream_));
    last_step_ = run.step;
  }

  std::vector<float> velocity(const StepRun& run) override {
    branches(run);
    if (run.two_branch)
      cuda::cfg_combine(vc_.data_as<float>(), vu_.data_as<float>(), run.guide, vc_.data_as<float>(), n_, stream_);
    JENGA_CUDA_CHECK(cudaStreamSynchronize(stream_));
    std::vector<float> h(static_cast<size_t>(n_));
    cuda::copy_to_host(h.data(), vc_.data(), h.size() * 4);
    return h;
  }

  void wait(bool all_but_newest) override {
    if (!all_but_newest || last_step_ < 1) {
      JENGA_CUDA_CHECK(cudaStreamSynchronize(stream_));
      return;
    }
    JENGA_CUDA_CHECK(cudaEventSynchronize(done_[(last_step_ - 1) % 2]));
  }

  std::vector<float> time_embedding(double t, bool projected) override {
    return dit_->step_cache_indicator(t, projected);
  }

  int nan_step() override {
    JENGA_CUDA_CHECK(cudaStreamSynchronize(stream_));
    int v = 0;
    cuda::copy_to_host(&v, nan_.data(), 4);
    return v == kNoNan ? -1 : v;
  }

  double sparse_density() override {
    JENGA_CUDA_CHECK(cudaStreamSynchronize(stream_));
    const double mine_d = svg_.runs() > 0 ? svg_.density() : carve_.density();
    if (!host_ || host_->size() == 1) return mine_d;
    // Each rank counted its head shard (same rows per rank): the mean over ranks.
    const float mine = static_cast<float>(mine_d);
    std::vector<float> all(static_cast<size_t>(host_->size()));
    host_->all_gather(&mine, all.data(), 1, DType::F32);
    double sum = 0;
    for (float v : all) sum += v;
    return sum / static_cast<double>(all.size());
  }
  double svg_temporal_fraction() override { return svg_.temporal_fraction(); }

  double peak_memory_gib() const override { return static_cast<double>(cuda::memory_stats().peak) / (1ull << 30); }
  DitMemory dit_memory() const override { return dit_->memory(); }


 private:
  static constexpr int kNoNan = 0x7fffffff;
  void reset_nan() { cuda::copy_to_device(nan_.data(), &kNoNan, 4); }

  // x_[:, 0] <- the image latent [z, h, w] (image-to-video), enqueued; nothing without one.
  void hold_first_frame() {
    if (!frame0_.data()) return;
    const size_t hw = static_cast<size_t>(geo_.latent[1] * geo_.latent[2]) * 4;
    const int64_t z = dit_->info().geometry.latent_channels;
    JENGA_CUDA_CHECK(cudaMemcpy2DAsync(x_.data(), hw * static_cast<size_t>(geo_.latent[0]), frame0_.data(), hw, hw,
                                       static_cast<size_t>(z), cudaMemcpyDeviceToDevice, stream_));
  }

  void branches(const StepRun& run) {
    if (!t_dev_.data() || run.step < 0 || run.step >= t_dev_.numel()) fail("denoise: step {} has no uploaded timestep", run.step);
    if (run.cache && !residual_[0].data()) fail("denoise: step reuse was not enabled for this stage");
    if (run.cache && run.two_branch && !residual_[1].data())
      fail("denoise: a two-branch step with step reuse, but set_contexts() had no uncond conditioning");
    const float* t_dev = t_dev_.data_as<float>() + run.step;
    hold_first_frame();  // the DiT sees the image latent in frame 0
    Tensor* out[2] = {&vc_, &vu_};
    for (int b = 0; b < (run.two_branch ? 2 : 1); ++b) {
      CudaDitHooks hooks;
      if (run.svg) {
        if (!svg_.ready()) fail("denoise: an SVG step without set_svg()");
        hooks.self_attention = [&, b](int layer, const void* q, const void* k, const void* v, int64_t rs, void* out,
                                      int64_t ors, int64_t tokens, void* s) {
          if (tokens != svg_rows_) fail("SVG: a self-attention of {} rows for a grid of {}", tokens, svg_rows_);
          if (layer < svg_dense_layers_) return false;  // official first_layers_fp warm-up
          svg_.run(static_cast<const uint16_t*>(q), static_cast<const uint16_t*>(k), static_cast<const uint16_t*>(v),
                   rs, static_cast<uint16_t*>(out), ors, s, b);
          return true;
        };
      }
      if (run.sparse)
        hooks.self_attn_layout = [&, b](int, const void* q, const void* k, int64_t tokens, int64_t rs, void* s) {
          DeviceBlockLayout l = carve_.build(q, k, tokens, rs, run.top_k, run.first_frame_blocks, run.p_remain, s);
          l.key_block_bias = carve_.text_bias(b, run.text_amp, tokens, s);  // null without text blocks or amp
          return l;
        };
      if (run.cache) {
        hooks.residual = residual_[b].data_as<float>();
        hooks.reuse_residual = run.reuse[b];
      }
      // Embedded guidance (HunyuanVideo) goes into the DiT; under true CFG run.guide combines the branches.
      const float guidance = run.embedded_guidance > 0 ? run.embedded_guidance : run.guide;
      dit_->forward_device(x_.data_as<float>(), t_dev, b, guidance, out[b]->data_as<float>(), stream_, hooks);
    }
  }

  Denoiser* dit_;
  dist::Communicator* host_;
  std::unique_ptr<dist::Communicator> nccl_;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t done_[2] = {nullptr, nullptr};
  StageGeometry geo_;
  int64_t n_ = 0, tokens_ = 0;
  Tensor x_, last_, vc_, vu_, hist_[2], residual_[2], nan_, t_dev_;
  bool uncond_branch_ = true;  // set_contexts() was given an uncond conditioning
  Tensor frame0_;  // [z, h, w] image latent held in frame 0 (image-to-video), or none
  int newest_ = 0, last_step_ = -1;
  CarveLayouts carve_;
  cuda::SvgAttention svg_;
  int64_t svg_dense_layers_ = 0, svg_rows_ = 0;
};

}  // namespace

std::unique_ptr<DenoiseBackend> make_cuda_denoise_backend(Denoiser& model, dist::Communicator* comm) {
  return std::make_unique<CudaBackend>(model, comm);
}

}  // namespace jenga
