#include "io/json_errors.h"
#include "io/checkpoint.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string_view>

#include "core/error.h"
#include "io/file_checks.h"
#include "io/mapped_file.h"
#include "io/safetensors.h"
#include "io/torch_checkpoint.h"

namespace jenga {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// A shard index's files (sorted, each once) and the tensor names it lists.
struct ShardIndex {
  std::vector<std::string> files;
  std::vector<std::string> tensors;
};

ShardIndex shards_from_index(const fs::path& index_path) {
  require_regular_file(index_path.string(), "shard index");  // stat first: opening a FIFO would block
  std::ifstream in(index_path);
  if (!in) fail("{}: cannot read the shard index", index_path.string());
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    fail("{}: shard index is not valid JSON ({}); download it again", index_path.string(), json_error_brief(e));
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    fail("{}: shard index has no \"weight_map\" object", index_path.string());
  if (j["weight_map"].empty())
    fail("{}: shard index lists no tensors (an empty \"weight_map\"); download it again", index_path.string());
  ShardIndex index;
  std::vector<std::string>& files = index.files;
  for (auto& [name, file] : j["weight_map"].items()) {
    if (!file.is_string()) fail("{}: weight_map entry '{}' is not a file name", index_path.string(), name);
    std::string f = file.get<std::string>();
    if (f.starts_with("./")) f = f.substr(2);  // the same folder, written out
    if (f.empty() || f.find('/') != std::string::npos || f == "..")
      fail("{}: weight_map names '{}', which is not a file in the index's folder", index_path.string(), f);
    if (std::find(files.begin(), files.end(), f) == files.end()) files.push_back(f);
    index.tensors.push_back(name);
  }
  std::sort(files.begin(), files.end());
  const fs::path dir = index_path.parent_path();
  for (auto& f : files) {
    f = (dir / f).string();
    if (!fs::exists(f)) fail("{}: shard {} is missing; download every shard the index lists", index_path.string(), f);
  }
  return index;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The files of a model folder: its shard index, else its *.safetensors, else its one torch
// checkpoint (HunyuanVideo's transformers/ holds only mp_rank_00_model_states.pt).
// (tensors: what its shard index lists, when it has one)
ShardIndex folder_files(const std::string& path) {
  std::vector<fs::path> indexes, singles, torch_files;
  for (const auto& e : fs::directory_iterator(path)) {
    const std::string n = e.path().filename().string();
    if (ends_with(n, ".safetensors.index.json")) indexes.push_back(e.path());
    else if (ends_with(n, ".safetensors") && e.is_regular_file()) singles.push_back(e.path());
    else if ((ends_with(n, ".pt") || ends_with(n, ".pth")) && e.is_regular_file()) torch_files.push_back(e.path());
  }
  if (indexes.size() > 1) fail("{}: holds {} shard indexes; pass the one you mean", path, indexes.size());
  if (indexes.size() == 1) return shards_from_index(indexes[0]);
  ShardIndex out;
  std::vector<std::string>& files = out.files;
  std::sort(singles.begin(), singles.end());
  for (auto& p : singles) files.push_back(p.string());
  if (files.empty() && torch_files.size() == 1) files.push_back(torch_files[0].string());
  if (files.empty() && torch_files.size() > 1) {
    std::sort(torch_files.begin(), torch_files.end());
    std::string names;
    for (const auto& p : torch_files) names += (names.empty() ? "" : ", ") + p.filename().string();
    fail("{}: holds {} PyTorch checkpoints ({}); pass the file you mean", path, torch_files.size(), names);
  }
  if (files.empty()) fail("{}: folder holds no .safetensors (or .pt/.pth) files", path);
  return out;
}

}  // namespace

// A file that is plainly something else (an image, a config, a GGUF model): named by its first
// bytes, instead of a safetensors header length of 10^18 bytes.
static std::string foreign_format(std::span<const uint8_t> h) {
  const auto starts = [&](std::string_view m) {
    return h.size() >= m.size() &&
           std::equal(m.begin(), m.end(), h.begin(), [](char a, uint8_t b) { return static_cast<uint8_t>(a) == b; });
  };
  if (starts("\x89PNG")) return "a PNG image";
  if (starts("\xff\xd8\xff")) return "a JPEG image";
  if (starts("RIFF") && h.size() >= 12 && std::string_view(reinterpret_cast<const char*>(h.data()) + 8, 4) == "WEBP")
    return "a WebP image";
  if (starts("GIF8")) return "a GIF image";
  if (starts("GGUF")) return "a GGUF file (llama.cpp's format)";
  if (starts("\x1f\x8b")) return "a gzip archive (unpack it first)";
  size_t i = 0;
  while (i < h.size() && std::isspace(h[i])) ++i;
  if (i < h.size() && (h[i] == '{' || h[i] == '[')) return "JSON text (a config or tokenizer file?)";
  // Printable with some white space (words, lines): text; 300 bytes of 'Z' stay "damaged".
  const auto white = [](uint8_t c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  if (std::all_of(h.begin(), h.end(), [&](uint8_t c) { return white(c) || (c > 0x20 && c < 0x7f); }) &&
      std::any_of(h.begin(), h.end(), white))
    return "a text file";
  return "";
}

std::shared_ptr<TensorSource> open_tensor_file(const std::string& path, const CheckpointOptions& options) {
  auto mapping = map_file(path);
  if (mapping->bytes() == 0) fail("{}: the file is empty (0 bytes); download or export it again", path);
  const std::span<const uint8_t> head{static_cast<const uint8_t*>(mapping->data()), std::min<size_t>(mapping->bytes(), 16)};
  if (looks_like_torch_checkpoint(head)) return TorchFile::from_mapping(std::move(mapping), path, options.state_key);
  if (options.state_key)
    fail("{}: --state-key {} applies to PyTorch checkpoints; this is a safetensors file", path, *options.state_key);
  // The first bytes kept: the mapping is handed over (and gone when the safetensors parse fails).
  const std::vector<uint8_t> first(head.begin(), head.end());
  // A header length of 640, 896, 1152 or 1408 bytes starts like a pickle's PROTO opcode:
  // only when the file is no safetensors either is it named as a foreign pickle.
  const bool pickle_like = head.size() >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5;
  // A torch file by its name that is neither format: say so, not "not a valid safetensors file".
  const std::string ext = fs::path(path).extension().string();
  const bool torch_name = ext == ".pt" || ext == ".pth" || ext == ".bin" || ext == ".ckpt";
  try {
    return SafetensorsFile::from_mapping(std::move(mapping), path);
  } catch (const Error&) {
    if (const std::string other = foreign_format(first); !other.empty() && !pickle_like)
      fail("{}: is {}, not a checkpoint (safetensors or a PyTorch .pt/.pth); pass the weights file", path, other);
    if (torch_name && !pickle_like)
      fail("{}: neither a PyTorch checkpoint (no torch.save zip or legacy magic) nor safetensors; the file is damaged "
           "or another format; download or export it again", path);
    if (!pickle_like) throw;
    fail("{}: is a Python pickle but not a PyTorch checkpoint written by torch.save (no torch magic number); jenga "
         "reads torch.save state dicts and safetensors", path);
  }
}

Checkpoint Checkpoint::open(const std::string& path, const CheckpointOptions& options) {
  std::error_code ec;
  if (path.empty()) usage_fail("an empty checkpoint path (an unset shell variable?); give a checkpoint file or folder");
  if (!fs::exists(path, ec)) {
    if (ec) fail("{}: cannot read it ({})", path, ec.message());  // a symlink loop, a permission
    fail("{}: no such file or folder", path);
  }
  ShardIndex index;
  if (fs::is_directory(path, ec)) index = folder_files(path);
  else if (ends_with(path, ".index.json")) index = shards_from_index(path);
  else index.files.push_back(path);
  const std::vector<std::string>& files = index.files;
  Checkpoint c;
  c.path_ = path;
  for (const auto& f : files) {
    auto file = open_tensor_file(f, options);
    const size_t idx = c.files_.size();
    for (const auto& t : file->tensors()) {
      auto [it, inserted] = c.where_.emplace(t.name, idx);
      if (!inserted)
        fail("{}: tensor '{}' appears in both {} and {}", path, t.name, c.files_[it->second]->path(), f);
      c.names_.push_back(t.name);
    }
    c.files_.push_back(std::move(file));
  }
  std::sort(c.names_.begin(), c.names_.end());
  // A tensor the index lists but no shard holds: a shard from another download.
  for (const auto& name : index.tensors)
    if (!c.where_.contains(name))
      fail("{}: lists tensor '{}', which none of its shards holds; download the shards again", path, name);
  return c;
}

const TensorInfo& Checkpoint::info(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) fail("{}: has no tensor '{}'", path_, name);
  return files_[it->second]->info(name);
}

Tensor Checkpoint::load(const std::string& name, std::optional<DType> dtype) const {
  auto it = where_.find(name);
  if (it == where_.end()) fail("{}: has no tensor '{}'", path_, name);
  return files_[it->second]->load(name, dtype);
}

TensorBytes Checkpoint::bytes(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) fail("{}: has no tensor '{}'", path_, name);
  return files_[it->second]->bytes(files_[it->second]->info(name));
}

}  // namespace jenga
