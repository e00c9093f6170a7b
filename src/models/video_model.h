#pragma once
// The seam between the generate path / denoise loop and a model. A model (Wan2.1, HunyuanVideo,
// ...) is a folder under src/models/ that implements these classes, plus one entry in
// models/registry.cpp that recognises its weights. src/pipeline/ sees only this header: it never
// includes a model folder or a backend.
//
//   VideoModel   geometry (VAE factors, patch, channels, fps, curve, guidance, presets) and the
//                factories of the three parts below, on the device the registry resolved
//   TextEncoder  prompt -> Conditioning
//   Denoiser     one DiT evaluation on host (CPU f32) or device (CUDA) buffers, with the Jenga
//                plug-in points (models/dit_hooks.h) and the step-cache indicator
//   Vae          latents -> frames (and back)
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor.h"
#include "io/image_reader.h"
#include "jenga/preset_overrides.h"
#include "jenga/presets.h"
#include "models/dit_hooks.h"

namespace jenga {

namespace dist {
class Communicator;
}
class DenoiseBackend;
class Progress;

// Which Hilbert curve Jenga orders the tokens by: one 2D curve per latent frame (Wan) or one
// curve through the whole 3D token volume (HunyuanVideo).
enum class CurveKind { FrameSliced, Volume };
// Two DiT branches combined by classifier-free guidance (Wan), or one branch that takes the
// guidance scale as an input (HunyuanVideo's embedded guidance), or HunyuanVideo without a
// guidance embedding (HunyuanVideo-I2V's HYVideo-T/2): one plain branch. The last two add the
// negative branch only when the CFG scale is > 1 (official do_classifier_free_guidance).
enum class GuidanceKind { Cfg, Embedded, CfgAboveOne };
// Whether the CFG scale decides the branches (> 1: two), as HunyuanVideo's official loop does.
inline bool cfg_gated_by_scale(GuidanceKind k) { return k != GuidanceKind::Cfg; }
// The sigma table a plain (dense) run steps through: Wan's UniPC table (linspace(0.999, 0),
// shifted) or FlowMatchDiscreteScheduler's with flow-reverse (linspace(1, 0), shifted; t = 1000 sigma).
enum class SigmaTable { WanUniPC, FlowMatch };
// How a model takes a reference image (image-to-video), if at all. FirstFrame: the image's
// latent is the first latent frame, written into the latents before every DiT forward and left
// out of every solver update (HunyuanVideo-I2V token_replace); the text encoder sees the image
// too; the video takes the size the model picks for the image (ReferenceImage).
enum class ImageCondition { None, FirstFrame };

struct Geometry {
  std::string name;                         // e.g. "Wan2.1 1.3B"
  int64_t vae_time = 4;                     // pixel frames per latent frame (frames = 4k + 1)
  int64_t vae_space = 8;                    // pixels per latent row / column
  std::array<int64_t, 3> patch{1, 2, 2};    // latent -> token grid: [t, h, w]
  int64_t latent_channels = 16;             // the denoised latent's channels
  int fps = 16;                             // of the written video
  CurveKind curve = CurveKind::FrameSliced;
  int64_t condition_blocks = 0;             // 128-token blocks of text/image inside the self-attention sequence
  GuidanceKind guidance = GuidanceKind::Cfg;
  std::string default_negative_prompt;      // empty: the model takes none
  std::vector<std::string> presets;         // --preset names it runs ("dense" = no Jenga)
  // The official sampler of a plain run (a preset may set its own shift / guidance / steps).
  SigmaTable sigmas = SigmaTable::WanUniPC;
  std::string default_solver = "unipc";
  double default_shift = 5.0;
  double default_guidance = 5.0;  // the CFG scale (Cfg) or the embedded guidance (Embedded)
  int default_steps = 50;
  // The video of a run given no --size / --frames: the official sampler's defaults (a Jenga
  // preset brings its script's own: Preset::width / height / frames).
  int default_width = 832, default_height = 480, default_frames = 81;
  // Image-to-video (FirstFrame): the shift with the stability blend (--i2v-stability), and the
  // blend point t: noise <- t * noise + (1 - t) * image latent in every frame.
  ImageCondition image_condition = ImageCondition::None;
  double default_shift_stable = 0;  // 0: default_shift
  double image_blend_t = 0.999;
  std::string default_image_resolution;  // the model's --i2v-resolution when none is given
};

// An image-to-video model's reference image, as its official sampler prepares it.
struct ReferenceImage {
  RgbImage source;             // as read (an image-aware text encoder looks at it)
  Tensor pixels;               // [3, H, W] f32 in [-1, 1]: the video's first frame size
  int width = 0, height = 0;   // the video's size (the bucket the model picked)
  int resized_width = 0, resized_height = 0;  // before the center crop
};

// What a text encoder hands the denoiser for one prompt.
struct Conditioning {
  Conditioning() = default;
  // Token states only (all rows real): what a Wan context is.
  Conditioning(Tensor t) : tokens(std::move(t)) {}  // NOLINT: implicit on purpose (a context is a Conditioning)
  Tensor tokens;        // [L, d] f32 token states
  int64_t valid = -1;   // real rows first, padding after; -1 = all L rows are real
  Tensor pooled;        // [d2] f32 pooled vector (HunyuanVideo's CLIP), or empty
  Tensor image_tokens;  // [Li, di] f32 image tokens (I2V), or empty
  // The prompt's tokens past the text encoder's limit (token_limit), cut as the official code
  // cuts them; generate says so instead of dropping them silently.
  int64_t dropped_tokens = 0, token_limit = 0;
  int64_t valid_rows() const { return valid < 0 ? (tokens.ndim() ? tokens.dim(0) : 0) : valid; }
};

class TextEncoder {
 public:
  virtual ~TextEncoder() = default;
  virtual Conditioning encode(const std::string& prompt) = 0;
  // Image-to-video: the prompt read together with the reference image (LLaVA); models whose
  // encoder takes no image fail.
  virtual Conditioning encode_with_image(const std::string& prompt, const ReferenceImage& image);
};

class Vae {
 public:
  virtual ~Vae() = default;
  // latents [C, T, h, w] f32 -> frames [3, F, H, W] f32 in [-1, 1] (F = (T - 1) * vae_time + 1).
  // on_frame(done, total): progress per latent frame (a decoder without it may leave it uncalled).
  virtual Tensor decode(const Tensor& latents, const std::function<void(int64_t, int64_t)>& on_frame = {}) = 0;
  // frames [3, F, H, W] f32 in [-1, 1] -> latents [C, T, h, w]; models without an encoder fail.
  virtual Tensor encode(const Tensor& frames) = 0;
};

// The DiT's dimensions the loop sizes its buffers and masks by.
struct DenoiserInfo {
  Geometry geometry;
  int64_t in_channels = 16, out_channels = 16;
  int64_t hidden = 0, heads = 0, head_dim = 0, layers = 0;
  int64_t text_len = 0, text_dim = 0;  // the conditioning rows it takes, and their width
  // > 0: the GPU runs this DiT's attention at this wider head dim, zero-padded (a test model's
  // head dim the kernel lacks): dense only, one process. Lets generate refuse a sparse preset or
  // sequence parallel before any work.
  int64_t padded_head_dim = 0;
};

// DenoiserInfo::padded_head_dim of a DiT whose attention runs at kernel_head_dim(head_dim) (the
// CUDA parts' cuda::attention_head_dim; null on the CPU): that dim when wider, else 0.
inline int64_t padded_head_dim(int64_t head_dim, int64_t (*kernel_head_dim)(int64_t)) {
  const int64_t k = kernel_head_dim ? kernel_head_dim(head_dim) : 0;
  return k > head_dim ? k : 0;
}

// Where a DiT's weights live (CUDA): bytes on the GPU, and with offload the pinned host copy of
// the streamed blocks.
struct DitMemory {
  bool on_gpu = false;            // a device denoiser (the fields below are about it)
  bool offload = false;
  int ring = 0;                   // device block buffers (offload)
  double gpu_weights_gib = 0;     // weights held on the GPU
  double host_pinned_gib = 0;     // streamed blocks in pinned host memory (offload)
  double streamed_block_mib = 0;  // one block's streamed bytes (offload)
};

// A device DiT's DitMemory from its byte counts (WanDitCuda, HunyuanDitCuda: the same accessors).
template <class DeviceDit>
DitMemory device_dit_memory(const DeviceDit& dit) {
  constexpr double gib = 1ull << 30;
  DitMemory m;
  m.on_gpu = true;
  m.offload = dit.offload();
  m.ring = dit.offload_ring();
  m.gpu_weights_gib = static_cast<double>(dit.weight_bytes()) / gib;
  m.host_pinned_gib = static_cast<double>(dit.host_weight_bytes()) / gib;
  m.streamed_block_mib = m.offload ? static_cast<double>(dit.streamed_block_bytes()) / (1 << 20) : 0.0;
  return m;
}

class Denoiser {
 public:
  virtual ~Denoiser() = default;
  virtual const DenoiserInfo& info() const = 0;
  // The loop's device half that drives this denoiser (latents, solver history, masks): the CPU
  // reference for a host denoiser, the CUDA one for a device denoiser. comm: Ulysses sequence
  // parallel over its ranks (host communicator); null = one process.
  virtual std::unique_ptr<DenoiseBackend> make_loop_backend(dist::Communicator* comm) = 0;
  // The conditioning of branch `slot` (0 = prompt, 1 = negative prompt), kept (or uploaded) once.
  virtual void set_conditioning(int slot, const Conditioning& c) = 0;
  // A new latent grid [T, H, W] (before patchify): token order (order[i] = raster index of the
  // i-th token; empty = raster) and the communicator the forward exchanges over (device
  // buffers for a device denoiser, e.g. NCCL). Allocates: once per stage, outside the steps.
  virtual void prepare(const std::array<int64_t, 3>& latent, std::span<const int64_t> token_order,
                       dist::Communicator* comm) = 0;
  // Under sequence parallel: this rank's tokens of the sequence and heads of self-attention.
  virtual int64_t local_tokens() const = 0;
  virtual int64_t local_heads() const = 0;
  // The step-cache (TeaCache) indicator of timestep t: the time embedding, projected or not.
  virtual std::vector<float> step_cache_indicator(double t, bool projected) = 0;
  // Host buffers (CPU f32): x [in_channels, T, H, W] -> [out_channels, T, H, W]; guidance: the
  // scale an embedded-guidance model takes (ignored under Cfg). hooks.comm: sequence parallel.
  virtual Tensor forward_host(const Tensor& x, double t, int slot, float guidance, const DitForwardHooks& hooks);
  // Device buffers (CUDA): x, out f32 on the device, t a device scalar; enqueued on `stream`,
  // no allocation or host sync.
  virtual void forward_device(const float* x, const float* t, int slot, float guidance, float* out, void* stream,
                              const CudaDitHooks& hooks);
  virtual DitMemory memory() const { return {}; }
};

// A model ready to run on the device the registry resolved.
class VideoModel {
 public:
  virtual ~VideoModel() = default;
  virtual const Geometry& geometry() const = 0;
  virtual const DenoiserInfo& denoiser_info() const = 0;
  // "cpu" or "cuda": where the denoiser (and, unless told otherwise, the VAE) runs.
  virtual std::string device() const = 0;
  // --preset NAME for this model with the user's overrides at `steps` (none = dense); UsageError
  // on a name it does not run or steps that do not fit the preset's stage switches.
  virtual std::optional<Preset> preset(const std::string& name, const JengaOverrides& overrides, int steps) const = 0;
  // The parts, made when needed so each lives only for its phase (an encoder's GPU memory is
  // free before the DiT uploads). text_on_cpu: keep the encoder on the CPU even with CUDA.
  virtual std::unique_ptr<TextEncoder> text_encoder(bool text_on_cpu) = 0;
  virtual std::unique_ptr<Denoiser> denoiser(bool offload) = 0;
  virtual std::unique_ptr<Vae> vae() = 0;
  // Image-to-video (geometry().image_condition != None): the reference image at the video's size
  // for `resolution` (the model's names, e.g. "720p"; empty = its default). UsageError on a
  // resolution it does not take; models without an image condition fail.
  virtual ReferenceImage prepare_image(const RgbImage& image, const std::string& resolution) const;
  // One line for the log ("Wan2.1 1.3B DiT (30 layers, dim 1536)") and the sidecar's "model".
  virtual std::string summary() const = 0;
  virtual nlohmann::json describe() const = 0;
  // GPU allocator's peak since the last call, in GiB (0 on the CPU); resets it.
  virtual double take_peak_memory_gib() { return 0.0; }
  // Seconds the DiT took to load when the model opened (the sidecar's timings_s.load).
  virtual double load_seconds() const { return 0.0; }
  // The GPU's name when the model runs on one (the sidecar's run.gpu); empty on the CPU.
  virtual std::string gpu_name() const { return ""; }
};

}  // namespace jenga
