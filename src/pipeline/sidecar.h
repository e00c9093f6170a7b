#pragma once
// What a sidecar records about the run besides the settings: when, how it was asked for, where
// it ran, and exactly which files made it.
#include <string>

#include <nlohmann/json.hpp>

namespace jenga {

// {"date": ISO 8601 UTC, "command_line": the argv (shell-quoted), "host": hostname,
//  "gpu": the device name or "none"}. gpu: the device's name (VideoModel::gpu_name), empty = none.
nlohmann::json run_record(const std::string& gpu);

// {"path": absolute, "bytes", "mtime" (ISO 8601 UTC), "fingerprint": "fnv1a64:<16 hex>"}.
// The fingerprint is FNV-1a 64 over the size and the first MiB of each file (the safetensors
// header and first tensors): cheap on a 28 GB checkpoint, and it tells checkpoints apart; it is
// no cryptographic hash. A folder (diffusers component, tokenizer) folds its regular files
// (sorted by name); a shard index folds the shards it lists.
nlohmann::json file_record(const std::string& path);

}  // namespace jenga
