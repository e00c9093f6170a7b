#include "cli/debug_model.h"

#include <filesystem>
#include <optional>
#include <vector>

#include "core/error.h"
#include "io/checkpoint.h"
#include "io/json_file.h"
#include "models/detect.h"
#include "models/hunyuan/hunyuan_folder.h"

namespace jenga::cli {

namespace fs = std::filesystem;

namespace {

// A HunyuanVideo-I2V token_replace DiT has T2V's tensors: its config says so (diffusers'
// image_condition_type), or its release folder (hunyuan-video-i2v-720p/) or file name
// (ComfyUI's *image_to_video*) does, as generate tells it. Only those names count, not any folder
// above the model that happens to hold "i2v".
bool is_i2v_release_dit(const std::string& dit) {
  const fs::path p(dit);
  std::error_code ec;
  const fs::path cfg = (fs::is_directory(p, ec) ? p : p.parent_path()) / "config.json";
  // The one JSON side-file reader: a damaged config.json, a folder or FIFO there is named.
  if (const auto j = read_json_if_present(cfg.string()); j && j->is_object())
    for (const char* key : {"image_condition_type", "i2v_condition_type"})
      if (j->contains(key)) return (*j)[key].is_string() && (*j)[key].get<std::string>() == "token_replace";
  return hunyuan::release_from_path(dit) == hunyuan::Release::I2V;
}

}  // namespace

DebugDit find_debug_dit(const std::string& model, const char* command) {
  std::error_code ec;
  if (!fs::exists(model, ec)) fail("--model {}: no such file or folder", model);
  // The path itself, a diffusers pipeline's transformer/, a whole HunyuanVideo release's DiT.
  std::vector<std::string> candidates{model};
  if (fs::is_directory(model, ec)) {
    candidates.push_back((fs::path(model) / "transformer").string());
    if (const std::string d = hunyuan::find_hunyuan_dit(model); !d.empty()) candidates.push_back(d);
  }
  std::optional<std::string> error;  // the first damage found (truncated file, bad config.json, ...)
  std::string holds;                 // what a checkpoint that is no DiT holds
  for (const std::string& p : candidates) {
    if (!fs::exists(p, ec)) continue;
    std::optional<DetectedModel> m;
    try {
      m = detect_model(Checkpoint::open(p), p);
    } catch (const Error& e) {
      if (!error) error = e.what();
      continue;
    }
    if (!m) {
      if (holds.empty()) holds = "a checkpoint jenga does not recognise";
      continue;
    }
    const bool hy = m->family == "hunyuanvideo-dit";
    if (hy || (m->family.starts_with("wan2.1-") && m->family.ends_with("-dit")))
      return DebugDit{hy, p, hy && is_i2v_release_dit(p)};
    holds = m->family;  // e.g. hunyuanvideo-vae, umt5-encoder
  }
  if (!holds.empty())
    fail("--model {}: holds {}, not a DiT; {} runs a Wan2.1 or HunyuanVideo DiT (its file or folder, or a whole "
         "HunyuanVideo release folder)", model, holds, command);
  if (error) fail("--model {}: {}", model, *error);
  fail("--model {}: holds no checkpoint; {} runs a Wan2.1 or HunyuanVideo DiT", model, command);
}

}  // namespace jenga::cli
