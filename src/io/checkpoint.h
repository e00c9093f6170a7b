#pragma once
// Checkpoint: every tensor of a model's weights, whatever they were saved as: one safetensors
// file, a folder of them, a sharded index (*.safetensors.index.json), or a PyTorch checkpoint
// (.pt / .pth / .bin: torch.save's zip or legacy format, read by io/torch_checkpoint.h without
// running any pickled code). Model loaders see the same names, infos and lazy loads for all.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/tensor_source.h"

namespace jenga {

struct CheckpointOptions {
  // Which state dict of a torch training checkpoint that holds "module" and/or "ema" (as
  // HunyuanVideo's mp_rank_00_model_states.pt does): the official loaders take "module" unless
  // asked for "ema" (--load-key).
  std::optional<std::string> state_key;
};

class Checkpoint {
 public:
  static Checkpoint open(const std::string& path, const CheckpointOptions& options = {});

  const std::vector<std::string>& names() const { return names_; }  // sorted
  bool contains(const std::string& name) const { return where_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;
  Tensor load(const std::string& name, std::optional<DType> dtype = std::nullopt) const;
  // A tensor's row-major bytes (zero-copy when stored contiguously), in any stored dtype.
  TensorBytes bytes(const std::string& name) const;
  const std::vector<std::shared_ptr<TensorSource>>& files() const { return files_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<std::shared_ptr<TensorSource>> files_;
  std::map<std::string, size_t> where_;  // name -> file index
  std::vector<std::string> names_;
};

// Opens one file of tensors, telling the format from its first bytes (zip, pickle or
// safetensors) rather than its extension.
std::shared_ptr<TensorSource> open_tensor_file(const std::string& path, const CheckpointOptions& options = {});

}  // namespace jenga
