#pragma once
// Recognises which model a checkpoint holds from its tensor names and shapes.
#include <optional>
#include <string>

namespace jenga {
class Checkpoint;

struct DetectedModel {
  std::string family;   // e.g. "wan2.1-t2v-dit"
  std::string variant;  // e.g. "1.3B", "14B", "custom"
  std::string layout;   // official | diffusers | comfyui
  std::string details;  // one line: dims, layers, heads
};

// `path` is what the user gave (file or folder); a config.json beside it is read when present.
std::optional<DetectedModel> detect_model(const Checkpoint& ckpt, const std::string& path);

}  // namespace jenga
