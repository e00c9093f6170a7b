#pragma once
// The DiT `jenga debug dit-forward` and `debug denoise` run, found before any inputs file is read:
// a --model that is missing, damaged or no DiT fails naming the model (not the inputs), and the
// inputs are then read for the family the model is.
#include <string>

namespace jenga::cli {

struct DebugDit {
  bool hunyuan = false;  // else Wan2.1
  std::string path;      // the DiT's weights (in a whole HunyuanVideo folder: its DiT)
  // A HunyuanVideo-I2V release's token_replace DiT (it has T2V's shapes): told by its config
  // (image_condition_type), its release folder hunyuan-video-i2v-720p/ or its file name.
  bool hunyuan_i2v = false;
  const char* family() const { return hunyuan ? "HunyuanVideo" : "Wan2.1"; }
};

// `command` names the subcommand in the error ("debug dit-forward").
DebugDit find_debug_dit(const std::string& model, const char* command);

}  // namespace jenga::cli
