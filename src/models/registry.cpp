#include "models/registry.h"

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <optional>

#include "core/error.h"
#include "core/temp_paths.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "models/hunyuan/hunyuan_config.h"
#include "models/hunyuan/hunyuan_folder.h"
#include "models/hunyuan/hunyuan_model.h"
#include "models/hunyuan/i2v_image_prep.h"
#include "models/video_model.h"
#include "models/wan/wan_builtin.h"
#include "models/wan/wan_dit.h"
#include "models/wan/wan_folder.h"
#include "models/wan/wan_model.h"
#include "pipeline/memory_estimate.h"
#include "pipeline/progress.h"
#if JENGA_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/padded_attention.h"
#include "models/hunyuan/hunyuan_dit_cuda.h"
#endif

namespace jenga {
namespace fs = std::filesystem;

namespace {
// Where the DiT runs.
bool use_cuda(const std::string& device, Progress& progress);

// The run's size, the model's default where it is 0 (as generate fills it in; with the dense
// frame count, a Jenga preset's 125 of HunyuanVideo's 129 is within the estimate's slack).
void size_or_default(MemoryNeed& need, const ModelSpec& r, const Geometry& g) {
  need.width = r.width > 0 ? r.width : g.default_width;
  need.height = r.height > 0 ? r.height : g.default_height;
  need.frames = r.frames > 0 ? r.frames : g.default_frames;
}

// The run's memory against what is free where the DiT runs: the GPU's (CUDA) or the host's. On the
// GPU, a run that fits only with the DiT's blocks streamed turns `offload` on, with a note.
void require_fits_where_it_runs(MemoryNeed& need, bool cuda, bool& offload, Progress& progress) {
  const uint64_t host = available_host_bytes();
  uint64_t available = host;
  std::string where = "host memory";
#if JENGA_HAVE_CUDA
  if (cuda) {
    const auto info = cuda::device_info();
    const size_t used = cuda::device_used_bytes();
    available = info.total_memory > used ? info.total_memory - used : 0;
    where = "GPU memory";
  }
#else
  (void)cuda;
#endif
  if (should_stream_dit(need, available, host)) {
    const MemoryEstimate resident = estimate_wan_t2v_memory(need);
    need.offload = offload = true;
    progress.note(fmt::format("{}x{}, {} frames needs {} with the DiT on the GPU but {:.1f} GiB is free: streaming its "
                              "blocks from host memory instead (as --offload; a little slower)",
                              need.width, need.height, need.frames, resident.describe(),
                              static_cast<double>(available) / (1024.0 * 1024.0 * 1024.0)));
  }
  require_memory_fits(need, available, where);
}

// The Wan DiT's config as its loader reads it (config.json beside it: the head count is not in the
// tensors); nullopt when it does not detect or cannot be read (the loader then says what is wrong,
// in its own words).
std::optional<wan::WanConfig> wan_dit_config(const std::string& dit_path) {
  try {
    const std::string path = wan::wan_dit_path(dit_path);
    const Checkpoint ck = Checkpoint::open(path);
    const auto layout = wan::detect_layout(ck);
    if (!layout) return std::nullopt;
    std::error_code ec;
    const fs::path dir = fs::is_directory(path, ec) ? fs::path(path) : fs::path(path).parent_path();
    const auto cj = read_json_if_present((dir / "config.json").string());
    return wan::detect_config(ck, *layout, cj && cj->is_object() ? &*cj : nullptr);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The run's memory, estimated from the DiT's header before any weight is read (memory_estimate.h).
void check_wan_memory(const std::optional<wan::WanConfig>& c, ModelSpec& r, bool cuda, Progress& progress) {
  if (!c) return;
  MemoryNeed need;
  need.cuda = cuda, need.offload = r.offload, need.bytes_per_weight = cuda ? 2 : 4;
  size_or_default(need, r, wan::wan_geometry(*c));
  need.dit_params = c->parameter_count(), need.dim = c->dim, need.ffn_dim = c->ffn_dim;
  require_fits_where_it_runs(need, cuda, r.offload, progress);
}

// The "load" phase, counted in DiT blocks, for a loader's on_block(done, total); it begins at
// the first block, so a loader that fails before any block shows no phase.
class BlockLoadProgress {
 public:
  explicit BlockLoadProgress(Progress& progress) : progress_(progress) {}
  std::function<void(int64_t, int64_t)> on_block() {
    return [this](int64_t done, int64_t total) {
      if (!started_) progress_.begin("load", static_cast<int>(total)), started_ = true;
      progress_.update(static_cast<int>(done));
    };
  }
  void end() {
    if (started_) progress_.end();
  }

 private:
  Progress& progress_;
  bool started_ = false;
};

// Wan2.1 on the resolved device: the CUDA parts come from jenga_cuda (this library links it).
// Checks the run's memory first, then loads the DiT with per-block progress.
std::unique_ptr<VideoModel> open_wan_for(const wan::WanPaths& paths, ModelSpec& spec, Progress& progress) {
  bool cuda = use_cuda(spec.device, progress);
  const auto config = wan_dit_config(paths.dit);
#if JENGA_HAVE_CUDA
  if (cuda && spec.device != "cuda" && config && cuda::attention_head_dim(config->head_dim()) != config->head_dim()) {
    // A test model (make-tiny's head dim 32): every preset runs on the CPU; the GPU only padded and dense.
    progress.note(fmt::format("head dim {} (a test model): running on the CPU; --device cuda runs it on the GPU, "
                              "dense only", config->head_dim()));
    cuda = false;
  }
#endif
  check_wan_memory(config, spec, cuda, progress);
  progress.note("loading the DiT " + fs::absolute(paths.dit).string());
  BlockLoadProgress load(progress);
  std::unique_ptr<VideoModel> model;
  if (!cuda) {
    model = wan::open_wan_model(paths, nullptr, load.on_block());
  } else {
#if JENGA_HAVE_CUDA
    static const wan::WanCudaParts parts = wan::cuda_parts();
    model = wan::open_wan_model(paths, &parts, load.on_block());
#endif
  }
  load.end();
  return model;
}

// The HunyuanVideo DiT a request names (--diffusion-model, else the folder's): its path; "" for a
// HunyuanVideo release folder whose DiT did not detect (missing, truncated, a damaged config.json:
// the HunyuanVideo loader then names the problem instead of Wan's search saying there is no DiT);
// none when the request is not HunyuanVideo's.
std::optional<std::string> hunyuan_dit_of(const ModelSpec& r) {
  // --diffusion-model, else the DiT in the folder's layout, else --model itself (a DiT file or folder).
  std::string dit = !r.dit.empty() ? r.dit : hunyuan::find_hunyuan_dit(r.model_dir);
  if (dit.empty()) dit = r.model_dir;
  if (dit.empty()) return std::nullopt;
  for (const auto& [p, m] : detect_models_at(dit))
    if (m.family == "hunyuanvideo-dit") return dit;
  if (r.dit.empty() && hunyuan::is_hunyuan_release_folder(r.model_dir)) return std::string();
  return std::nullopt;
}

// A latent_concat I2V DiT (33 input channels): generate runs the released token_replace one.
bool is_latent_concat_i2v(const DetectedModel& m) { return m.variant.find("I2V") != std::string::npos; }

// The DiT's config from its header (no weight read), or none when the loader will say what is wrong.
std::optional<hunyuan::HunyuanConfig> hunyuan_header_config(const std::string& dit) {
  try {
    const Checkpoint ck = Checkpoint::open(dit);
    const auto layout = hunyuan::detect_layout(ck);
    if (!layout) return std::nullopt;
    return hunyuan::detect_config(ck, *layout, nullptr, /*require_rope=*/false);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The run's memory, from the DiT's header before any weight is read; the same floor estimate as
// Wan's with HunyuanVideo's widths: host memory on the CPU (f32 weights: ~51 GB for the 13B DiT),
// GPU memory on CUDA (bf16 weights: ~25.6 GB).
void check_hunyuan_memory(const std::optional<hunyuan::HunyuanConfig>& c, hunyuan::Release release, ModelSpec& r,
                          bool cuda, Progress& progress) {
  if (!c) return;
  MemoryNeed need;
  size_or_default(need, r, hunyuan::hunyuan_geometry(*c, release));
  need.cuda = cuda, need.offload = cuda && r.offload, need.bytes_per_weight = cuda ? 2 : 4;
  need.dit_params = c->parameter_count(), need.dim = c->hidden, need.ffn_dim = c->mlp_dim;
  require_fits_where_it_runs(need, cuda, r.offload, progress);
}

std::unique_ptr<VideoModel> open_hunyuan_for(const std::string& dit, ModelSpec& r, Progress& progress) {
  const auto paths = hunyuan::resolve_hunyuan(
      r.model_dir, {dit, r.vae, !r.text_encoder.empty() ? r.text_encoder : r.t5, r.text_encoder_2, r.tokenizer, r.tokenizer_2},
      r.accvideo, false);
  bool cuda = use_cuda(r.device, progress);
  const auto config = hunyuan_header_config(paths.dit);
  // The CUDA parts come from jenga_cuda (this library links it): DiT, LLM and VAE decoder on the GPU.
  const hunyuan::HunyuanCudaParts* parts = nullptr;
#if JENGA_HAVE_CUDA
  if (cuda && config) {
    if (const std::string why = hunyuan::cuda_unsupported_reason(*config); !why.empty()) {
      if (r.device == "cuda") usage_fail("--device cuda: {}; use --device cpu", why);
      progress.note(why + "; running on the CPU");
      cuda = false;
    } else if (r.device != "cuda" && hunyuan::cuda_attention_padded(*config)) {
      // A test model (make-tiny's head dim 32): every preset runs on the CPU; the GPU only padded and dense.
      progress.note(fmt::format("head dim {} (a test model): running on the CPU; --device cuda runs it on the GPU, "
                                "dense only", config->head_dim()));
      cuda = false;
    }
  }
  static const hunyuan::HunyuanCudaParts hy_parts = hunyuan::cuda_parts();
  if (cuda) parts = &hy_parts;
#endif
  check_hunyuan_memory(config, paths.release, r, cuda, progress);
  progress.note(fmt::format("loading the HunyuanVideo {} DiT {} ({} layout{})", hunyuan::release_name(paths.release),
                            fs::absolute(paths.dit).string(), paths.layout, cuda ? ", bf16 matrices for the GPU" : ""));
  BlockLoadProgress load(progress);
  auto model = hunyuan::open_hunyuan_model(paths, parts, load.on_block());
  load.end();
  return model;
}

bool use_cuda(const std::string& device, Progress& progress) {
#if JENGA_HAVE_CUDA
  if (device == "cpu") return false;
  if (cuda::available()) return true;
  if (device == "cuda") fail("--device cuda: {}; use --device cpu", cuda::no_gpu_reason());
  if (const std::string old_gpu = cuda::unsupported_gpu(); !old_gpu.empty())
    progress.note(fmt::format("{}: running on the CPU", old_gpu));
  return false;
#else
  (void)progress;
  if (device == "cuda") fail("--device cuda: this build has no CUDA backend; use --device cpu");
  return false;
#endif
}

}  // namespace

std::vector<FoundModel> detect_models_at(const std::string& path) {
  std::error_code ec;
  std::vector<std::string> candidates{path};
  if (fs::is_directory(path, ec)) candidates.push_back((fs::path(path) / "transformer").string());
  std::vector<FoundModel> out;
  for (const auto& p : candidates) {
    std::optional<DetectedModel> m;
    try {
      if (!fs::exists(p, ec)) continue;
      m = detect_model(Checkpoint::open(p), p);
    } catch (const std::exception&) {
      continue;
    }
    if (m) out.push_back({p, *m});
  }
  return out;
}

void reject_unrunnable_model(const std::string& flag, const std::string& path) {
  std::vector<FoundModel> found = detect_models_at(path);
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    try {  // a published folder: its DiT's files (by index, published name or key detection)
      for (auto& f : detect_models_at(wan::wan_dit_path(path))) found.push_back(std::move(f));
    } catch (const std::exception&) {
    }
  }
  if (fs::is_directory(path, ec))
    if (const auto d = hunyuan::find_hunyuan_dit(path); !d.empty())
      for (auto& f : detect_models_at(d)) found.push_back(std::move(f));
  for (const auto& [p, m] : found)
    if (m.family == "hunyuanvideo-dit" && is_latent_concat_i2v(m))
      fail("{} {}: HunyuanVideo-I2V latent_concat DiT detected ({}, {} layout, 33 input channels), which generate "
           "does not run yet; it runs the released token_replace I2V DiT (hunyuan-video-i2v-720p), HunyuanVideo T2V "
           "and AccVideo, and Wan2.1. `jenga inspect {}` shows what the checkpoint holds",
           flag, path, m.variant, m.layout, p);
}

void check_image_resolution(const std::string& resolution) {
  if (!resolution.empty()) (void)hunyuan::i2v_bucket_base(resolution);
}

// A DiT flag naming something that is certainly no DiT (a damaged or empty file, an empty folder,
// another component's weights) is named here; otherwise the search would go on as for another
// model's parts and blame a component the user never meant. Weights that detect as nothing known
// go on to the loaders (a shard, a fine-tune), which say what is wrong.
void reject_non_dit(const std::string& flag, const std::string& path) {
  std::error_code ec;
  // Missing, a FIFO, a device: the loaders' own checks say so.
  if (!fs::is_regular_file(path, ec) && !fs::is_directory(path, ec)) return;
  std::optional<DetectedModel> m;
  try {
    m = detect_model(Checkpoint::open(path), path);
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    fail("{} {}: {}", flag, path, e.what());
  }
  if (m && !m->family.ends_with("-dit"))
    usage_fail("{} {}: this is a {}, not a diffusion model (DiT); pass the DiT's weights (`jenga inspect {}` says "
               "what a file holds)", flag, path, m->family, path);
}

std::unique_ptr<VideoModel> open_model(ModelSpec& req, Progress& progress) {
  if (!req.model_dir.empty()) reject_unrunnable_model("--model", req.model_dir);
  if (!req.dit.empty()) reject_unrunnable_model("--diffusion-model", req.dit);
  if (!req.dit.empty()) reject_non_dit("--diffusion-model", req.dit);
  std::error_code ec;
  if (!req.model_dir.empty() && !fs::is_directory(req.model_dir, ec)) reject_non_dit("--model", req.model_dir);
  // HunyuanVideo (T2V, AccVideo): its DiT named or found in the folder.
  if (const auto hy = hunyuan_dit_of(req)) return open_hunyuan_for(*hy, req, progress);
  if (!req.text_encoder.empty() || !req.text_encoder_2.empty() || !req.tokenizer_2.empty() || req.accvideo)
    usage_fail("--text-encoder / --text-encoder-2 / --tokenizer-2 / --accvideo are HunyuanVideo's, and no HunyuanVideo "
               "DiT was found{}", req.model_dir.empty() ? "" : " in --model " + req.model_dir);
  // Components: Wan2.1.
  wan::WanPaths paths;
  const bool builtin = req.model_dir.empty() && req.dit.empty() && req.vae.empty() && req.t5.empty();
  if (builtin) {
    // Removed with the model (or here if it does not open), and on every exit the process can
    // catch, a second signal included.
    paths.builtin_dir = std::make_shared<TempPath>(
        (fs::temp_directory_path() / ("jenga-tiny-" + std::to_string(::getpid()))).string());
    const TinyModelPaths t = write_tiny_wan_model(paths.builtin_dir->path());
    paths.dit = t.dit, paths.vae = t.vae, paths.t5 = t.t5, paths.tokenizer = t.tokenizer;
    progress.note("no --model given: running the built-in tiny random model (a smoke test; expect noise)");
    return open_wan_for(paths, req, progress);
  }
  // One place knows every layout's file names (models/wan/wan_folder.h).
  const auto folder = wan::resolve_wan_folder(req.model_dir, {req.dit, req.vae, req.t5, req.tokenizer});
  // One component's folder (a HunyuanVideo vae/, a diffusers text_encoder/) given as the model:
  // say what it holds, not that a Wan DiT or Wan2.1_VAE.pth is missing from it.
  if (req.dit.empty() && fs::is_directory(req.model_dir, ec))
    for (const auto& [p, m] : detect_models_at(folder.dit.path.empty() ? req.model_dir : folder.dit.path))
      if (!m.family.ends_with("-dit"))
        usage_fail("--model {}: this folder holds one component (a {}), not a whole model; pass the model's folder "
                   "that holds it (Wan2.1-T2V-1.3B/, HunyuanVideo's ckpts/)", req.model_dir, m.family);
  wan::require_complete(folder, req.model_dir.empty() ? "" : "--model " + req.model_dir);
  paths.dit = folder.dit.path, paths.vae = folder.vae.path, paths.t5 = folder.t5.path, paths.tokenizer = folder.tokenizer.path;
  return open_wan_for(paths, req, progress);
}

}  // namespace jenga
