#include "models/registry.h"

#include <unistd.h>

#include <filesystem>

#include "core/error.h"
#include "io/safetensors.h"
#include "models/video_model.h"
#include "models/wan/torch_pickle.h"
#include "models/wan/wan_builtin.h"
#include "models/wan/wan_model.h"
#include "pipeline/progress.h"
#if JENGA_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#endif

namespace jenga {
namespace fs = std::filesystem;

namespace {
// A component file of a published folder: prefer a converted .safetensors next to the .pth.
std::string component(const std::string& dir, const std::string& stem, const char* flag) {
  const fs::path st = fs::path(dir) / (stem + ".safetensors");
  const fs::path pth = fs::path(dir) / (stem + ".pth");
  if (fs::exists(st)) return st.string();
  if (fs::exists(pth)) {
    wan::reject_torch_pickle(pth.string());  // names the one-time conversion to run
    return pth.string();
  }
  fail("{}: has no {} (.safetensors or .pth); download it or pass {} FILE", dir, stem, flag);
}

// Where the DiT runs.
bool use_cuda(const std::string& device);

// Wan2.1 on the resolved device: the CUDA parts come from jenga_cuda (this library links it).
std::unique_ptr<VideoModel> open_wan_for(const wan::WanPaths& paths, const std::string& device) {
  if (!use_cuda(device)) return wan::open_wan_model(paths, nullptr);
#if JENGA_HAVE_CUDA
  static const wan::WanCudaParts parts = wan::cuda_parts();
  return wan::open_wan_model(paths, &parts);
#else
  return nullptr;  // use_cuda failed
#endif
}

bool use_cuda(const std::string& device) {
#if JENGA_HAVE_CUDA
  if (device == "cuda" && !cuda::available()) fail("--device cuda: no CUDA device found; use --device cpu");
  return device == "cuda" || (device == "auto" && cuda::available());
#else
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
  for (const auto& [p, m] : detect_models_at(path))
    if (m.family == "hunyuanvideo-dit")
      fail("{} {}: HunyuanVideo DiT detected ({}, {} layout), which generate does not run yet; it runs "
           "Wan2.1 text-to-video DiTs (1.3B, 14B; official, diffusers or ComfyUI layout). `jenga inspect {}` "
           "shows what the checkpoint holds", flag, path, m.variant, m.layout, p);
}

std::unique_ptr<VideoModel> open_model(const ModelSpec& req, Progress& progress) {
  if (!req.model_dir.empty()) reject_unrunnable_model("--model", req.model_dir);
  if (!req.dit.empty()) reject_unrunnable_model("--diffusion-model", req.dit);
  // Components. Every model generate runs today is Wan2.1 (HunyuanVideo was rejected above).
  wan::WanPaths paths;
  std::string tiny_dir;
  const bool builtin = req.model_dir.empty() && req.dit.empty() && req.vae.empty() && req.t5.empty();
  if (builtin) {
    tiny_dir = (fs::temp_directory_path() / ("jenga-tiny-" + std::to_string(::getpid()))).string();
    // Removed with the model, or here if it does not open.
    struct Cleanup {
      std::string dir;
      ~Cleanup() {
        std::error_code ec;
        if (!dir.empty()) fs::remove_all(dir, ec);
      }
    } cleanup{tiny_dir};
    const TinyModelPaths t = write_tiny_wan_model(tiny_dir);
    paths.dit = t.dit, paths.vae = t.vae, paths.t5 = t.t5, paths.tokenizer = t.tokenizer;
    progress.note("no --model given: running the built-in tiny random model (a smoke test; expect noise)");
    paths.builtin_dir = tiny_dir;
    auto model = open_wan_for(paths, req.device);
    cleanup.dir.clear();  // the model owns the folder now
    return model;
  }
  const std::string& d = req.model_dir;
  paths.dit = !req.dit.empty() ? req.dit : d;
  paths.vae = !req.vae.empty() ? req.vae : (d.empty() ? "" : component(d, "Wan2.1_VAE", "--vae"));
  paths.t5 = !req.t5.empty() ? req.t5 : (d.empty() ? "" : component(d, "models_t5_umt5-xxl-enc-bf16", "--t5xxl"));
  paths.tokenizer = !req.tokenizer.empty() ? req.tokenizer : (d.empty() ? "" : (fs::path(d) / "google" / "umt5-xxl").string());
  if (paths.dit.empty()) usage_fail("no DiT weights: pass --model FOLDER or --diffusion-model FILE");
  if (paths.vae.empty()) usage_fail("no VAE: pass --model FOLDER or --vae FILE");
  if (paths.t5.empty()) usage_fail("no text encoder: pass --model FOLDER or --t5xxl FILE");
  if (paths.tokenizer.empty()) usage_fail("no tokenizer: pass --model FOLDER or --tokenizer spiece.model");
  for (const auto& [p, what] : {std::pair{paths.dit, "DiT"}, {paths.vae, "VAE"}, {paths.t5, "text encoder"},
                                {paths.tokenizer, "tokenizer"}})
    if (!fs::exists(p)) fail("{} {}: no such file or folder", what, p);
  return open_wan_for(paths, req.device);
}

}  // namespace jenga
