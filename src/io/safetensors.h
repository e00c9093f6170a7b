#pragma once
// Safetensors: a bounds-checked header parser, an mmap reader with lazy per-tensor access,
// and a writer. Checkpoint (io/checkpoint.h, included here for its many callers) opens a file,
// a folder or a sharded index of safetensors or PyTorch checkpoints.
// Format: u64 little-endian header length N, N bytes of JSON, then the data region.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/tensor_source.h"

namespace jenga {

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

class SafetensorsFile : public TensorSource {
 public:
  static std::shared_ptr<SafetensorsFile> open(const std::string& path);
  // Reads an already mapped file; `mapping` stays alive as long as loaded views do.
  static std::shared_ptr<SafetensorsFile> from_mapping(std::shared_ptr<Buffer> mapping, const std::string& path);
  ~SafetensorsFile() override;

  const std::string& path() const override { return path_; }
  const char* format() const override { return "safetensors"; }
  const std::vector<TensorInfo>& tensors() const override { return header_.tensors; }
  const TensorInfo* find(const std::string& name) const override;
  TensorBytes bytes(const TensorInfo& t) const override;
  const SafetensorsHeader& header() const { return header_; }
  std::span<const uint8_t> raw(const TensorInfo& t) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  std::shared_ptr<Buffer> mapping_;  // keeps the mmap alive for zero-copy views
  SafetensorsHeader header_;
  std::map<std::string, size_t> index_;
};

// One tensor's header entry for a writer: its data is `bytes` long and follows the previous one's.
struct SafetensorsEntryInfo {
  std::string name;
  std::string dtype_name;  // F32, BF16, ...
  std::vector<int64_t> shape;
  uint64_t bytes = 0;
};
// A file's first bytes: the u64 length and the JSON header (padded with spaces so the data region
// is 8-byte aligned), entries laid out in the given order. Shared by SafetensorsWriter and the
// streaming writers that produce data tensor by tensor after it (models/random_checkpoint.h).
std::string safetensors_header_bytes(const std::vector<SafetensorsEntryInfo>& entries,
                                     const std::map<std::string, std::string>& metadata);

class SafetensorsWriter {
 public:
  void add(const std::string& name, const Tensor& t);  // CPU tensors; copies the data
  void add_raw(const std::string& name, DType dtype, std::vector<int64_t> shape,
               std::span<const uint8_t> bytes);
  // Any spec dtype by its safetensors name (F64, BOOL, I8, ...). The bytes are not copied:
  // `owner` keeps them alive until write() (converting a large checkpoint streams from its mmap).
  void add_view(const std::string& name, const std::string& dtype_name, std::vector<int64_t> shape,
                std::span<const uint8_t> bytes, std::shared_ptr<const void> owner);
  void set_metadata(const std::string& key, const std::string& value);
  // Writes to path + ".tmp" then renames, so a failure never leaves a half file at `path`.
  void write(const std::string& path) const;

 private:
  struct Entry {
    std::string name;
    std::string dtype_name;
    std::vector<int64_t> shape;
    std::span<const uint8_t> bytes;
    std::shared_ptr<const void> owner;
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

// For a loader's error: "N missing tensor(s): a, b, ...; M unexpected tensor(s): ..." (the first
// four of each), or "" when both lists are empty.
std::string describe_tensor_set_diff(const std::vector<std::string>& missing, const std::vector<std::string>& unexpected);

}  // namespace jenga

#include "io/checkpoint.h"  // IWYU pragma: export
