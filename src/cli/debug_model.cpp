#include "cli/debug_model.h"

#include <filesystem>
#include <optional>
#include <vector>

#include "core/error.h"
#include "io/checkpoint.h"
#include "models/detect.h"
#include "models/hunyuan/hunyuan_folder.h"

namespace jenga::cli {

namespace fs = std::filesystem;

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
      return DebugDit{hy, p, hy && hunyuan::release_from_path(p) == hunyuan::Release::I2V};
    holds = m->family;  // e.g. hunyuanvideo-vae, umt5-encoder
  }
  if (!holds.empty())
    fail("--model {}: holds {}, not a DiT; {} runs a Wan2.1 or HunyuanVideo DiT (its file or folder, or a whole "
         "HunyuanVideo release folder)", model, holds, command);
  if (error) fail("--model {}: {}", model, *error);
  fail("--model {}: holds no checkpoint; {} runs a Wan2.1 or HunyuanVideo DiT", model, command);
}

}  // namespace jenga::cli
