#pragma once
// Safetensors: a bounds-checked header parser, an mmap reader with lazy per-tensor access,
// a sharded-checkpoint view (folder or *.safetensors.index.json), and a writer.
// Format: u64 little-endian header length N, N bytes of JSON, then the data region.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace jenga {

struct TensorInfo {
  std::string name;
  std::string dtype_name;      // as in the header, e.g. "BF16"
  std::optional<DType> dtype;  // empty for spec dtypes jenga does not compute in (F64, BOOL, ...)
  size_t elem_size = 0;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets relative to the data region
  uint64_t end = 0;

  int64_t numel() const;
  uint64_t nbytes() const { return end - begin; }
};

struct SafetensorsHeader {
  std::vector<TensorInfo> tensors;  // in data-offset order
  std::map<std::string, std::string> metadata;
  uint64_t data_offset = 0;  // 8 + header length
  uint64_t data_size = 0;
};

// Largest header we accept (the format's reference implementation uses the same cap).
constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;

// Validates everything about a file image: length prefix, UTF-8, JSON, dtypes, shapes,
// offsets inside the data region, sizes matching shapes, no overlaps. Throws jenga::Error
// naming `source` on any problem; never reads outside `file`.
SafetensorsHeader parse_safetensors(std::span<const uint8_t> file, const std::string& source);

class SafetensorsFile {
 public:
  static std::shared_ptr<SafetensorsFile> open(const std::string& path);
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  const SafetensorsHeader& header() const { return header_; }
  const TensorInfo* find(const std::string& name) const;
  const TensorInfo& info(const std::string& name) const;  // throws if absent
  std::span<const uint8_t> raw(const TensorInfo& t) const;

  // A CPU tensor converted to `dtype` (or the stored dtype). Zero-copy view into the mapping
  // when no conversion is needed and the data is aligned; otherwise a copy.
  Tensor load(const std::string& name, std::optional<DType> dtype = std::nullopt) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  std::shared_ptr<Buffer> mapping_;  // keeps the mmap alive for zero-copy views
  SafetensorsHeader header_;
  std::map<std::string, size_t> index_;
};

// Every tensor of a checkpoint given as one file, a folder of *.safetensors, or a sharded
// index (*.safetensors.index.json, or a folder that holds one).
class Checkpoint {
 public:
  static Checkpoint open(const std::string& path);

  const std::vector<std::string>& names() const { return names_; }  // sorted
  bool contains(const std::string& name) const { return where_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;
  Tensor load(const std::string& name, std::optional<DType> dtype = std::nullopt) const;
  const std::vector<std::shared_ptr<SafetensorsFile>>& files() const { return files_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> where_;  // name -> file index
  std::vector<std::string> names_;
};

class SafetensorsWriter {
 public:
  void add(const std::string& name, const Tensor& t);  // CPU tensors
  void add_raw(const std::string& name, DType dtype, std::vector<int64_t> shape,
               std::span<const uint8_t> bytes);
  void set_metadata(const std::string& key, const std::string& value);
  // Writes to path + ".tmp" then renames, so a failure never leaves a half file at `path`.
  void write(const std::string& path) const;

 private:
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

// For a loader's error: "N missing tensor(s): a, b, ...; M unexpected tensor(s): ..." (the first
// four of each), or "" when both lists are empty.
std::string describe_tensor_set_diff(const std::vector<std::string>& missing, const std::vector<std::string>& unexpected);

}  // namespace jenga
