#pragma once
// Text-to-video (and image-to-video for a model with an image condition: the reference image's
// size, text with the image, its VAE latent held as frame 0) for any model behind the interface
// (models/video_model.h), end to end: prompt ->
// text encoder -> DiT denoising loop (flow matching, CFG or embedded guidance, UniPC / DPM++ /
// Euler) -> VAE decode -> video file + JSON sidecar. The model is opened by the registry
// (models/registry.h: open_model) from the request's files; this path never sees a model folder.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/progress.h"
#include "pipeline/denoise.h"

namespace jenga {

namespace dist {
class Communicator;
}
class VideoModel;

// Upper limits, refused as given (docs/ERRORS.md): far past any published setting, low enough
// that no size computation can overflow.
inline constexpr int kMaxFrames = 1001;  // 4k+1
inline constexpr int kMaxSide = 8192;    // pixels, width and height

struct T2VRequest {
  // A published Wan2.1 folder or a DiT file (models/wan/wan_folder.h finds each component:
  // diffusion_pytorch_model*.safetensors, Wan2.1_VAE.pth,
  // models_t5_umt5-xxl-enc-bf16.pth, google/umt5-xxl/); single components override it.
  // All empty: the built-in tiny random model (a smoke test of the whole path).
  std::string model_dir, dit, vae, t5, tokenizer;
  // HunyuanVideo (models/hunyuan/hunyuan_folder.h): LLM, CLIP-L and CLIP's tokenizer files
  // (`tokenizer` is the LLM's); accvideo: the DiT is AccVideo's.
  std::string text_encoder, text_encoder_2, tokenizer_2;
  bool accvideo = false;
  std::string prompt;
  std::string negative_prompt;  // empty: the official default
  // Image-to-video (C API `image`, CLI --image; a model with an image condition, HunyuanVideo-I2V): the reference image
  // (PNG/JPEG); the video's size is then the model's bucket for it at `image_resolution` (the
  // model's names, e.g. 720p; empty = its default), not width/height. image_stability: the
  // official --i2v-stability (noise blended toward the image latent; the model's stable shift).
  std::string image;
  std::string image_resolution;
  bool image_stability = false;
  // 0: the model's default (a Jenga preset's script's, else the official sampler's; Geometry).
  int width = 0, height = 0, frames = 0;
  int steps = 50;  // 0: the preset's, else the model's (HunyuanVideo 50, AccVideo 5)
  uint64_t seed = 42;
  // Unset: the official defaults (dense Wan2.1: 5.0 / 5.0; Jenga presets: 6.0 / 8.0;
  // HunyuanVideo: cfg 1.0 = one branch, shift 7.0). embedded_guidance: HunyuanVideo's
  // --embedded-cfg-scale (6.0).
  std::optional<double> guide_scale, shift, embedded_guidance;
  std::string solver;  // unipc | dpm++ | euler; empty = the model's (Wan unipc, HunyuanVideo euler)
  std::string preset = "dense";  // dense | base | turbo | flash | a full name such as turbo-1.3b
  JengaOverrides jenga;  // official Jenga flags over the preset
  std::string attention;  // dense | jenga | svg; empty = what the preset implies
  SvgOverrides svg;       // official Sparse VideoGen flags (with attention svg); rows seeded by `seed`
  std::string device = "auto";   // auto | cpu | cuda: where the DiT, umT5 and VAE run
  bool t5_cpu = false;           // umT5 on the CPU even with CUDA (official --t5_cpu: saves ~11 GB)
  // CUDA: the DiT's blocks stay in pinned host memory and stream to the GPU two at a time
  // (WanDitCuda offload; bit-identical output). On the CPU: a note, nothing else.
  bool offload = false;
  std::string output = "output.webp";
  // Several processes (mpirun): "sequence" = every rank runs each prompt's DiT, Ulysses
  // sequence parallel, text encoder and VAE on rank 0; "prompts" = each rank takes whole
  // prompts (job i on rank i % size). Null comm = one process.
  dist::Communicator* comm = nullptr;
  std::string parallel = "sequence";
  std::string latents_out;  // debug: also write the final latents (f32 "latents") to this .safetensors
};

// One prompt of a batch and where its video goes.
struct T2VJob {
  std::string prompt, output;
  std::string latents;  // debug dump of the final latents, or empty
};

struct T2VResult {
  std::string output;   // the file (or PNG folder) written
  std::string sidecar;  // its .json
  nlohmann::json report;
};

// The cheap checks (sizes, frames, steps, flags, output format and folder): UsageError.
void check_t2v_request(const T2VRequest& request);

// A width, height or frame count of 0 becomes the Jenga preset's script's, else the model's
// official default (Geometry::default_*); with an image the size is already the bucket's. Returns
// the note saying what was taken ("--size 1280x720 --frames 125 (hyvideo_jenga_turbo.sh; ...)"),
// or "" when the request named everything.
std::string resolve_video_size(T2VRequest& r, const Geometry& g, const std::optional<Preset>& jenga, bool image);

// Many prompts on one opened model (request.prompt / output are ignored; every job uses
// request.seed; the request's file and device fields were the registry's). Validates everything
// cheap first (sizes, frames, steps, output format) and throws UsageError / Error before any
// heavy work. Returns the results this rank wrote (rank 0 under "sequence"; its own jobs under
// "prompts"). t_start: when the run began (the first job's total time counts from it).
std::vector<T2VResult> generate_batch(VideoModel& model, const T2VRequest& request, const std::vector<T2VJob>& jobs,
                                      Progress& progress, double t_start = 0);

// Seconds on a steady clock (t_start above).
double generate_clock_s();

}  // namespace jenga
