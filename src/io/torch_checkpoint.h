#pragma once
// PyTorch checkpoints (torch.save of a state dict: .pt / .pth / .bin) read without Python and
// without running any of their pickled code. The zip format (torch >= 1.6: <top>/data.pkl +
// one stored entry per storage) and the legacy format (_use_new_zipfile_serialization=False:
// consecutive pickles, then the storages) are both mapped, and a tensor's bytes are a span into
// the mapping (zero-copy) unless it is a strided view of its storage, which load() copies.
//
// Tensor names: a top-level "module" / "ema" (a training checkpoint: "module" unless asked for
// "ema", as HunyuanVideo's loader does) or "state_dict" is unwrapped, nested dicts are
// flattened with "." (model -> blocks -> 0 -> weight = model.blocks.0.weight), entries that are
// not tensors are skipped, and prefixes such as "vae." are left to the model loaders.
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "io/tensor_source.h"

namespace jenga {

// True when `head` (a file's first bytes) starts like torch.save's zip or legacy format.
bool looks_like_torch_checkpoint(std::span<const uint8_t> head);

class TorchFile : public TensorSource {
 public:
  // `state_key`: which of "module" / "ema" to take from a training checkpoint (default "module").
  static std::shared_ptr<TorchFile> open(const std::string& path, const std::optional<std::string>& state_key = {});
  // Reads an already mapped file; `mapping` stays alive as long as loaded views do.
  static std::shared_ptr<TorchFile> from_mapping(std::shared_ptr<Buffer> mapping, const std::string& path,
                                                 const std::optional<std::string>& state_key = {});

  const std::string& path() const override { return path_; }
  const char* format() const override { return legacy_ ? "torch legacy" : "torch zip"; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  const TensorInfo* find(const std::string& name) const override;
  TensorBytes bytes(const TensorInfo& t) const override;
  // The top-level key the tensors were found under ("module", "ema", "state_dict"), or "".
  const std::string& unwrapped() const { return unwrapped_; }

  // A storage's bytes: a zip entry, located on first use (its local header lies just before its
  // data, so opening never seeks to every storage of a large file), or a legacy file's range.
  struct Storage {
    uint64_t local_header = 0;  // zip
    std::string entry_name;     // zip
    uint64_t size = 0;
    mutable std::optional<uint64_t> data;  // file offset of the first byte, once located
  };
  // How a tensor lies in its storage (in elements); TensorInfo::begin/end are relative to the
  // storage's first byte.
  struct View {
    size_t storage = 0;
    std::vector<int64_t> strides;
    uint64_t offset = 0;
    bool contiguous = true;
  };

 private:
  TorchFile() = default;
  std::string path_;
  bool legacy_ = false;
  std::string unwrapped_;
  std::shared_ptr<Buffer> mapping_;
  std::vector<TensorInfo> tensors_;  // sorted by name
  std::vector<View> views_;          // parallel to tensors_
  std::vector<Storage> storages_;
  mutable std::mutex locate_mutex_;
  std::map<std::string, size_t> index_;

  uint64_t storage_data(size_t storage) const;

  friend class TorchFileBuilder;
};

}  // namespace jenga
