#pragma once
// One file of named tensors behind a Checkpoint: a safetensors file (io/safetensors.h) or a
// PyTorch checkpoint (io/torch_checkpoint.h). Both map the file and read a tensor's bytes only
// when it is loaded.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace jenga {

struct TensorInfo {
  std::string name;
  std::string dtype_name;      // the safetensors name, e.g. "BF16"
  std::optional<DType> dtype;  // empty for dtypes jenga stores but does not compute in (F64, BOOL, I8, ...)
  size_t elem_size = 0;
  std::vector<int64_t> shape;
  // The bytes the tensor touches: relative to the data region in a safetensors file, to its
  // storage in a torch checkpoint. Exactly nbytes() long unless the tensor is a strided view.
  uint64_t begin = 0;
  uint64_t end = 0;

  int64_t numel() const;
  uint64_t nbytes() const { return static_cast<uint64_t>(numel()) * elem_size; }
};

// A tensor's elements in row-major order and what keeps them alive: the file mapping when
// they are stored contiguously (zero-copy), else a fresh copy.
struct TensorBytes {
  std::span<const uint8_t> bytes;
  std::shared_ptr<Buffer> owner;
};

class TensorSource {
 public:
  virtual ~TensorSource() = default;

  virtual const std::string& path() const = 0;
  virtual const char* format() const = 0;  // "safetensors", "torch zip", "torch legacy"
  virtual const std::vector<TensorInfo>& tensors() const = 0;
  virtual const TensorInfo* find(const std::string& name) const = 0;
  virtual TensorBytes bytes(const TensorInfo& t) const = 0;

  const TensorInfo& info(const std::string& name) const;  // throws if absent
  // A CPU tensor converted to `dtype` (or the stored dtype). Zero-copy view into the mapping
  // when no conversion is needed and the data is contiguous and aligned; otherwise a copy.
  Tensor load(const std::string& name, std::optional<DType> dtype = std::nullopt) const;
};

}  // namespace jenga
