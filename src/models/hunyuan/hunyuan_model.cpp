#include "models/hunyuan/hunyuan_model.h"

#include <algorithm>
#include <chrono>

#include "backend/denoise_backend.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/temp_paths.h"
#include "dist/ulysses.h"
#include "models/hunyuan/clip_text_encoder.h"
#include "models/hunyuan/clip_tokenizer.h"
#include "models/hunyuan/hunyuan_dit_cpu.h"
#include "models/hunyuan/hunyuan_presets.h"
#include "models/hunyuan/hunyuan_vae.h"
#include "models/hunyuan/hunyuan_vae_tiling.h"
#include "models/hunyuan/i2v_image_prep.h"
#include "models/hunyuan/i2v_loop.h"
#include "models/hunyuan/i2v_text_encoder.h"
#include "models/hunyuan/llava_vision.h"
#include "models/hunyuan/llama_text_encoder.h"
#include "models/hunyuan/llama_tokenizer.h"
#include "models/hunyuan/text_template.h"
#include "pipeline/sidecar.h"

namespace jenga::hunyuan {

float hunyuan_guidance_value(double scale) {
  const float s = bf16_to_f32(f32_to_bf16(static_cast<float>(scale)));
  return bf16_to_f32(f32_to_bf16(s * 1000.0f));
}

Geometry hunyuan_geometry(const HunyuanConfig& c, Release release) {
  Geometry g;
  const bool i2v = release == Release::I2V;
  g.name = std::string("HunyuanVideo ") + (release == Release::AccVideo ? "AccVideo " : i2v ? "I2V " : "") +
           (i2v ? "13B" : c.variant_name());
  if (i2v && c.hidden != 3072) g.name = "HunyuanVideo I2V custom";
  g.vae_time = 4, g.vae_space = 8;
  g.patch = {c.patch[0], c.patch[1], c.patch[2]};
  g.latent_channels = c.out_channels;
  g.fps = 24;
  g.curve = CurveKind::Volume;
  g.condition_blocks = i2v || c.is_i2v() ? 4 : 2;
  g.guidance = c.guidance_embed ? GuidanceKind::Embedded : GuidanceKind::CfgAboveOne;
  if (release == Release::AccVideo)
    g.presets = {"dense", "accvideo"};
  else if (i2v)
    g.presets = {"dense", "base"};  // base = jenga_hyi2v.py's hyi2v_jenga_base.sh
  else
    g.presets = {"dense", "base", "turbo", "flash", "3stage", "multigpu-base", "multigpu-turbo", "multigpu-flash",
                 "multigpu-3stage"};
  // hyvideo/config.py: --flow-shift 7.0 with --flow-reverse, --embedded-cfg-scale 6.0, 50 steps,
  // Euler (the only flow solver); AccVideo: 5 steps (sample_t2v.py).
  g.sigmas = SigmaTable::FlowMatch;
  // hyvideo/constants.py NEGATIVE_PROMPT: used only with --cfg-scale > 1 (true CFG).
  g.default_negative_prompt =
      "Aerial view, aerial view, overexposed, low quality, deformation, a poor composition, bad hands, bad teeth, "
      "bad eyes, bad limbs, distortion";
  g.default_solver = "euler";
  g.default_shift = 7.0;
  g.default_guidance = 6.0;
  g.default_steps = release == Release::AccVideo ? 5 : 50;
  // sample_video.py: --video-size 720 1280 --video-length 129; AccVideo's sample_t2v.py 544x960x93.
  g.default_width = 1280, g.default_height = 720, g.default_frames = 129;
  if (release == Release::AccVideo) g.default_width = 960, g.default_height = 544, g.default_frames = 93;
  if (i2v) {
    // HunyuanVideo-I2V (token_replace): the image latent is latent frame 0; --flow-shift 17
    // ("dynamic", config.py's default) or 7 with --i2v-stability ("stable").
    g.image_condition = ImageCondition::FirstFrame;
    g.default_shift = i2v_default_flow_shift(false);
    g.default_shift_stable = i2v_default_flow_shift(true);
    g.image_blend_t = kI2vStabilityT;
    g.default_image_resolution = "720p";
  }
  return g;
}

DenoiserInfo hunyuan_denoiser_info(const HunyuanConfig& c, Release release) {
  DenoiserInfo d;
  d.geometry = hunyuan_geometry(c, release);
  d.in_channels = c.in_channels, d.out_channels = c.out_channels;
  d.hidden = c.hidden, d.heads = c.heads, d.head_dim = c.head_dim();
  d.layers = c.double_blocks + c.single_blocks;
  d.text_len = release == Release::I2V ? 144 + 252 : 256, d.text_dim = c.text_dim;  // the official text rows
  return d;
}

namespace {

class HunyuanCpuDenoiser final : public Denoiser {
 public:
  HunyuanCpuDenoiser(const HunyuanDit& d, Release release)
      : dit_(d), info_(hunyuan_denoiser_info(d.config, release)), token_replace_(release == Release::I2V) {}
  const DenoiserInfo& info() const override { return info_; }
  std::unique_ptr<DenoiseBackend> make_loop_backend(dist::Communicator* comm) override {
    return make_cpu_denoise_backend(*this, comm);
  }
  void set_conditioning(int slot, const Conditioning& c) override {
    if (c.tokens.ndim() == 0) return;  // embedded guidance: no negative branch
    const auto& cfg = dit_.config;
    if (c.tokens.ndim() != 2 || c.tokens.dim(1) != cfg.text_dim)
      fail("HunyuanVideo DiT: text states must be [L, {}]; got {}", cfg.text_dim, c.tokens.shape().str());
    if (c.pooled.numel() != cfg.text_dim_2)
      fail("HunyuanVideo DiT: the pooled text vector must have {} values; got {}", cfg.text_dim_2, c.pooled.numel());
    cond_.at(static_cast<size_t>(slot)) = c;
  }
  // The CPU forward takes the token order and communicator through its hooks each call.
  void prepare(const std::array<int64_t, 3>& latent, std::span<const int64_t>, dist::Communicator* comm) override {
    const auto& p = info_.geometry.patch;
    tokens_ = (latent[0] / p[0]) * (latent[1] / p[1]) * (latent[2] / p[2]);
    comm_ = comm;
  }
  // Under sequence parallel: this rank's image tokens (the text tokens are on every rank).
  int64_t local_tokens() const override {
    return comm_ ? dist::Ulysses::token_split(tokens_, comm_->size()).count[static_cast<size_t>(comm_->rank())] : tokens_;
  }
  int64_t local_heads() const override { return comm_ ? info_.heads / comm_->size() : info_.heads; }
  std::vector<float> step_cache_indicator(double t, bool) override {
    return timestep_embedder_cpu(dit_.weights.time0, dit_.weights.time2, static_cast<float>(t), dit_.config.freq_dim);
  }
  Tensor forward_host(const Tensor& x, double t, int slot, float guidance, const DitForwardHooks& hooks) override {
    const Conditioning& c = cond_.at(static_cast<size_t>(slot));
    if (c.tokens.ndim() == 0) fail("HunyuanVideo DiT: no conditioning for branch {}", slot);
    if (x.ndim() != 4 || x.dim(0) != dit_.config.in_channels)
      fail("HunyuanVideo DiT: x must be [{}, F, H, W]; got {}", dit_.config.in_channels, x.shape().str());
    const auto& cfg = dit_.config;
    const auto out = hunyuan_forward_cpu(dit_, x.data_as<float>(), x.dim(1), x.dim(2), x.dim(3), static_cast<float>(t),
                                         c.tokens.data_as<float>(), c.tokens.dim(0), c.valid_rows(),
                                         c.pooled.data_as<float>(), cfg.guidance_embed ? hunyuan_guidance_value(guidance) : 0.0f,
                                         &hooks, token_replace_);
    return Tensor::from_f32(out, Shape{cfg.out_channels, x.dim(1), x.dim(2), x.dim(3)});
  }

 private:
  const HunyuanDit& dit_;
  DenoiserInfo info_;
  std::array<Conditioning, 2> cond_;
  int64_t tokens_ = 0;
  dist::Communicator* comm_ = nullptr;
  bool token_replace_ = false;  // HunyuanVideo-I2V: frame-0 tokens modulated as at t = 0
};

// CLIP-L's pooled vector of the stripped prompt (77 tokens), as both official text paths take it;
// on the GPU when `gpu` is given.
Tensor clip_pooled(const ClipTokenizer& tok, const ClipTextEncoder& clip, const std::string& prompt,
                   const std::string& tokenizer_path, HunyuanCudaParts::Clip* gpu = nullptr) {
  const TokenizedText ct = tok.encode(python_strip(prompt), kClipMaxLength);
  for (int64_t id : ct.ids)
    if (id < 0 || id >= clip.config().vocab)
      fail("{}: token id {} is outside CLIP's vocabulary of {}", tokenizer_path, id, clip.config().vocab);
  return gpu ? gpu->pooled(ct.ids, ct.mask) : clip.encode(ct.ids, ct.mask).pooled;
}

// The official T2V text path: LLM over the video template (351 tokens, hidden_states[-3], the
// first 95 rows cropped: [256, text_dim] with the valid rows first) and CLIP-L's pooled vector
// of the stripped prompt (77 tokens).
class HunyuanTextEncoder final : public TextEncoder {
 public:
  // cuda: the LLM and CLIP-L run on the GPU (uploaded here, freed with the encoder).
  HunyuanTextEncoder(const HunyuanPaths& p, const HunyuanConfig& cfg, const HunyuanCudaParts* cuda)
      : tok_(LlamaTokenizer::open(p.tokenizer)),
        llm_(LlamaTextEncoder::open(p.text_encoder)),
        tok2_(ClipTokenizer::open(p.tokenizer_2)),
        clip_(ClipTextEncoder::open(p.text_encoder_2)),
        paths_(p) {
    if (llm_.config().hidden != cfg.text_dim)
      fail("{}: LLM width {} does not match the DiT's text_states_dim {}", p.text_encoder, llm_.config().hidden, cfg.text_dim);
    if (clip_.config().hidden != cfg.text_dim_2)
      fail("{}: CLIP width {} does not match the DiT's text_states_dim_2 {}", p.text_encoder_2, clip_.config().hidden,
           cfg.text_dim_2);
    if (cuda && cuda->llm) llm_gpu_ = cuda->llm(llm_);
    if (cuda && cuda->clip) clip_gpu_ = cuda->clip(clip_);
  }
  Conditioning encode(const std::string& prompt) override {
    const PromptTemplate& t = video_template();
    const TokenizedText tt = tokenize_llm_prompt(tok_, prompt, t);
    for (int64_t id : tt.ids)
      if (id < 0 || id >= llm_.config().vocab)
        fail("{}: token id {} is outside the LLM's vocabulary of {}", paths_.tokenizer, id, llm_.config().vocab);
    const Tensor hs = llm_gpu_ ? llm_gpu_->encode(tt.ids, tt.mask) : llm_.encode(tt.ids, tt.mask, 2);  // hidden_states[-3]
    const int64_t L = static_cast<int64_t>(tt.ids.size()), D = llm_.config().hidden, n = L - t.crop_start;
    Conditioning c;
    c.tokens = Tensor::empty(DType::F32, Shape{n, D});
    std::copy(hs.data_as<float>() + t.crop_start * D, hs.data_as<float>() + L * D, c.tokens.data_as<float>());
    int64_t valid = 0;
    for (int64_t i = t.crop_start; i < L; ++i) valid += tt.mask[static_cast<size_t>(i)] != 0;
    c.valid = valid;
    c.pooled = clip_pooled(tok2_, clip_, prompt, paths_.tokenizer_2, clip_gpu_.get());
    c.dropped_tokens = tt.dropped, c.token_limit = kLlmMaxLength - t.crop_start;
    return c;
  }

 private:
  LlamaTokenizer tok_;
  LlamaTextEncoder llm_;
  ClipTokenizer tok2_;
  ClipTextEncoder clip_;
  HunyuanPaths paths_;
  std::unique_ptr<HunyuanCudaParts::Llm> llm_gpu_;  // declared last: freed first
  std::unique_ptr<HunyuanCudaParts::Clip> clip_gpu_;
};

// The official I2V text path (TextEncoder.encode in i2v_mode on LlavaForConditionalGeneration):
// the I2V template (crop 103, <image> expanded into the projected image rows, max 256 + 103 ids),
// hidden_states[-3] cut to the image rows every 4th + the text rows (396 at full size, valid rows
// first), and CLIP-L's pooled vector of the stripped prompt as in T2V. cuda: the vision tower and
// projector, then the LLM over the merged input, run on the GPU (uploaded here, freed with the
// encoder); CLIP-L stays on the CPU.
class HunyuanI2vTextEncoder final : public TextEncoder {
 public:
  HunyuanI2vTextEncoder(const HunyuanPaths& p, const HunyuanConfig& cfg, const HunyuanCudaParts* cuda)
      : tok_(LlamaTokenizer::open(p.tokenizer)),
        llm_(LlamaTextEncoder::open(p.text_encoder)),
        vision_(LlavaVisionEncoder::open(p.text_encoder)),
        special_(LlavaSpecialTokens::load(p.text_encoder)),
        processor_(ClipImageProcessorConfig::load(p.text_encoder)),
        tok2_(ClipTokenizer::open(p.tokenizer_2)),
        clip_(ClipTextEncoder::open(p.text_encoder_2)),
        paths_(p) {
    if (llm_.config().hidden != cfg.text_dim)
      fail("{}: LLM width {} does not match the DiT's text_states_dim {}", p.text_encoder, llm_.config().hidden, cfg.text_dim);
    vision_.check_processor(processor_);
    if (vision_.config().proj_out != llm_.config().hidden)
      fail("{}: the image projector gives {} values per row, the LLM takes {}", p.text_encoder, vision_.config().proj_out,
           llm_.config().hidden);
    if (clip_.config().hidden != cfg.text_dim_2)
      fail("{}: CLIP width {} does not match the DiT's text_states_dim_2 {}", p.text_encoder_2, clip_.config().hidden,
           cfg.text_dim_2);
    const auto dr = tok_.encode_plain("\n\n");
    if (dr.size() != 1) fail("{}: \"\\n\\n\" is not one token; the I2V crop needs it (Llama-3 id 271)", p.tokenizer);
    crop_.double_return_id = dr[0];
    if (cuda && cuda->llm) llm_gpu_ = cuda->llm(llm_);
    if (cuda && cuda->vision) vision_gpu_ = cuda->vision(vision_);
  }
  Conditioning encode(const std::string&) override {
    usage_fail("HunyuanVideo-I2V reads the prompt together with the reference image: give --image PATH");
  }
  Conditioning encode_with_image(const std::string& prompt, const ReferenceImage& image) override {
    const PromptTemplate& t = i2v_video_template();
    const TokenizedText tt = tokenize_llm_prompt(tok_, prompt, t, 256 + t.crop_start);
    for (int64_t id : tt.ids)
      if (id < 0 || id >= llm_.config().vocab)
        fail("{}: token id {} is outside the LLM's vocabulary of {}", paths_.tokenizer, id, llm_.config().vocab);
    const auto at = std::find(tt.ids.begin(), tt.ids.end(), special_.image);
    if (at == tt.ids.end())
      fail("{}: the I2V template gave no image token (id {}, config.json's image_token_index)", paths_.tokenizer,
           special_.image);
    I2vTextCrop crop = crop_;
    crop.crop_start = t.crop_start;
    crop.image_emb_start = at - tt.ids.begin();
    const Tensor pixels = clip_preprocess(image.source, processor_);
    const auto img = vision_gpu_ ? vision_gpu_->encode(pixels) : vision_.encode(pixels);
    I2vTextStates s;
    if (llm_gpu_) {  // the same merge and crop around the GPU LLM (hidden_states[-3])
      const LlavaMergedInput m = llava_merge_input(llm_, tt.ids, tt.mask, img.projected, special_);
      const Tensor hidden = llm_gpu_->encode_embeddings(m.embeds, m.positions, m.mask);
      s = i2v_crop_states(hidden, tt.ids, tt.mask, img.projected.dim(0), crop);
    } else {
      s = i2v_encode_text(llm_, tt.ids, tt.mask, img.projected, special_, crop, 2);
    }
    Conditioning c;
    c.tokens = s.states;
    int64_t valid = 0;
    while (valid < static_cast<int64_t>(s.mask.size()) && s.mask[static_cast<size_t>(valid)]) ++valid;
    for (size_t i = static_cast<size_t>(valid); i < s.mask.size(); ++i)
      if (s.mask[i]) fail("I2V text states: the mask is not the valid rows first (row {})", i);
    c.valid = valid;
    c.pooled = clip_pooled(tok2_, clip_, prompt, paths_.tokenizer_2);
    c.dropped_tokens = tt.dropped, c.token_limit = 256;  // the I2V call's max length is 256 + its crop
    return c;
  }

 private:
  LlamaTokenizer tok_;
  LlamaTextEncoder llm_;
  LlavaVisionEncoder vision_;
  LlavaSpecialTokens special_;
  ClipImageProcessorConfig processor_;
  ClipTokenizer tok2_;
  ClipTextEncoder clip_;
  HunyuanPaths paths_;
  I2vTextCrop crop_;
  // The GPU parts, declared last: freed first.
  std::unique_ptr<HunyuanCudaParts::Llm> llm_gpu_;
  std::unique_ptr<HunyuanCudaParts::Vision> vision_gpu_;
};

// The official decode: latents / scaling_factor, tiled as AutoencoderKLCausal3D tiles by default.
class HunyuanVaeModel final : public Vae {
 public:
  // cuda: decode on the GPU (the DiT is freed by then), tile by tile with the official tiling.
  HunyuanVaeModel(const HunyuanPaths& p, const HunyuanConfig& cfg, const HunyuanCudaParts* cuda)
      : vae_(HunyuanVae::load(p.vae)), cuda_(cuda) {
    if (vae_.config.latent_channels != cfg.out_channels)
      fail("{}: VAE latent channels {} do not match the DiT's {}", p.vae, vae_.config.latent_channels, cfg.out_channels);
  }
  Tensor decode(const Tensor& x, const std::function<void(int64_t, int64_t)>& on_frame) override {
    Tensor out = cuda_ && cuda_->vae_decode ? cuda_->vae_decode(vae_, x)
                                            : hunyuan_vae_decode(vae_, x, /*tiling=*/true, /*clamp=*/true);
    if (on_frame) on_frame(x.dim(1), x.dim(1));
    return out;
  }
  // I2V's first frame: on the GPU with CUDA parts (the encoder uploaded for this call only).
  Tensor encode(const Tensor& frames) override {
    return cuda_ && cuda_->vae_encode ? cuda_->vae_encode(vae_, frames) : hunyuan_vae_encode(vae_, frames, true);
  }

 private:
  HunyuanVae vae_;
  const HunyuanCudaParts* cuda_;
};

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

class HunyuanModel final : public VideoModel {
 public:
  HunyuanModel(const HunyuanPaths& paths, const HunyuanCudaParts* cuda,
               const std::function<void(int64_t, int64_t)>& on_block)
      : paths_(paths),
        cuda_(cuda ? std::optional<HunyuanCudaParts>(*cuda) : std::nullopt),
        components_({{"dit", file_record(paths.dit)}, {"vae", file_record(paths.vae)},
                     {"text_encoder", file_record(paths.text_encoder)},
                     {"text_encoder_2", file_record(paths.text_encoder_2)},
                     {"tokenizer", file_record(paths.tokenizer)}, {"tokenizer_2", file_record(paths.tokenizer_2)}}),
        t0_(now_s()),
        // The GPU computes with bf16 matrices: loading them so halves host memory (25.6 GB, not 51, for 13B).
        dit_(load_hunyuan_dit(paths.dit, cuda ? DType::BF16 : DType::F32, on_block)),
        load_s_(now_s() - t0_) {
    if (dit_.config.is_i2v())
      usage_fail("{}: a HunyuanVideo-I2V latent_concat DiT ({} input channels); generate runs the released "
                 "token_replace I2V DiT (16 input channels, the official default), T2V and AccVideo",
                 paths.dit, dit_.config.in_channels);
    release_ = paths.release;
    info_ = hunyuan_denoiser_info(dit_.config, release_);
    if (cuda_) info_.padded_head_dim = padded_head_dim(info_.head_dim, cuda_->attention_head_dim);
  }
  const Geometry& geometry() const override { return info_.geometry; }
  const DenoiserInfo& denoiser_info() const override { return info_; }
  std::string device() const override { return cuda_ ? "cuda" : "cpu"; }
  std::optional<Preset> preset(const std::string& name, const JengaOverrides& o, int steps) const override {
    return hunyuan_preset_for(name, release_, o, steps);
  }
  std::unique_ptr<TextEncoder> text_encoder(bool text_on_cpu) override {
    const HunyuanCudaParts* gpu = cuda_ && !text_on_cpu ? &*cuda_ : nullptr;
    if (release_ == Release::I2V) return std::make_unique<HunyuanI2vTextEncoder>(paths_, dit_.config, gpu);
    return std::make_unique<HunyuanTextEncoder>(paths_, dit_.config, gpu);
  }
  ReferenceImage prepare_image(const RgbImage& image, const std::string& resolution) const override {
    if (release_ != Release::I2V) return VideoModel::prepare_image(image, resolution);
    // The official bucket: 720p -> base 960, 540p -> 720, 360p -> 480, or a base in pixels.
    const std::string r = resolution.empty() ? info_.geometry.default_image_resolution : resolution;
    const int base = i2v_bucket_base(r);
    const I2vImage p = prepare_i2v_image_base(image, base);
    ReferenceImage out;
    out.source = image;
    out.pixels = p.pixels;
    out.width = p.bucket.width, out.height = p.bucket.height;
    out.resized_width = p.resized_w, out.resized_height = p.resized_h;
    return out;
  }
  std::unique_ptr<Denoiser> denoiser(bool offload) override {
    if (cuda_ && cuda_->denoiser) return cuda_->denoiser(dit_, offload, release_);
    return make_cpu_denoiser(dit_, release_);
  }
  std::unique_ptr<Vae> vae() override {
    return std::make_unique<HunyuanVaeModel>(paths_, dit_.config, cuda_ ? &*cuda_ : nullptr);
  }
  std::string summary() const override {
    const auto& c = dit_.config;
    return fmt::format("HunyuanVideo {} {} DiT ({}+{} blocks, hidden {})", release_name(release_), c.variant_name(),
                       c.double_blocks, c.single_blocks, c.hidden);
  }
  nlohmann::json describe() const override {
    const bool builtin = paths_.builtin_dir != nullptr;
    return {{"builtin_tiny", builtin},
            {"family", "hunyuanvideo"},
            {"release", std::string(release_name(release_))},
            {"dit", builtin ? "built-in" : paths_.dit},
            {"dit_variant", dit_.config.variant_name()},
            {"dit_layout", std::string(layout_name(dit_.layout))},
            {"folder_layout", paths_.layout},
            {"components", components_}};
  }
  double load_seconds() const override { return load_s_; }
  double take_peak_memory_gib() override { return cuda_ && cuda_->take_peak_memory_gib ? cuda_->take_peak_memory_gib() : 0.0; }
  std::string gpu_name() const override { return cuda_ && cuda_->gpu_name ? cuda_->gpu_name() : ""; }

 private:
  HunyuanPaths paths_;
  std::optional<HunyuanCudaParts> cuda_;
  nlohmann::json components_;
  double t0_;
  HunyuanDit dit_;
  double load_s_;
  Release release_ = Release::T2V;
  DenoiserInfo info_;
};

}  // namespace

std::unique_ptr<Denoiser> make_cpu_denoiser(const HunyuanDit& dit, Release release) {
  return std::make_unique<HunyuanCpuDenoiser>(dit, release);
}

std::unique_ptr<VideoModel> open_hunyuan_model(const HunyuanPaths& paths, const HunyuanCudaParts* cuda,
                                               const std::function<void(int64_t, int64_t)>& on_block) {
  return std::make_unique<HunyuanModel>(paths, cuda, on_block);
}

}  // namespace jenga::hunyuan
