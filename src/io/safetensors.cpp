#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/file_checks.h"
#include "io/utf8.h"

namespace jenga {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Element sizes of every dtype the safetensors spec defines.
std::optional<size_t> spec_dtype_size(const std::string& name) {
  static const std::map<std::string, size_t> kSizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2},
      {"U16", 2},  {"F16", 2}, {"BF16", 2}, {"I32", 4},    {"U32", 4},     {"F32", 4},
      {"F64", 8},  {"I64", 8}, {"U64", 8}};
  auto it = kSizes.find(name);
  if (it == kSizes.end()) return std::nullopt;
  return it->second;
}

std::string printable(const std::string& s) {
  std::string out = s.size() > 80 ? s.substr(0, 80) + "..." : s;
  return out;
}

}  // namespace

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafetensorsHeader parse_safetensors(std::span<const uint8_t> file, const std::string& source) {
  auto bad = [&](const std::string& why) -> Error {
    return Error(fmt::format("{}: not a valid safetensors file: {} (re-download or re-export it)",
                             source, why));
  };
  if (file.size() < 8) throw bad(fmt::format("only {} bytes, too short for the 8-byte header length", file.size()));
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | file[i];
  if (n > kMaxSafetensorsHeader)
    throw bad(fmt::format("header length {} exceeds the {} byte limit", n, kMaxSafetensorsHeader));
  if (n > file.size() - 8)
    throw bad(fmt::format("header length {} runs past the end of the {} byte file", n, file.size()));
  if (n < 2) throw bad("header is empty");
  const auto* hdr = reinterpret_cast<const char*>(file.data() + 8);
  std::string_view text(hdr, n);
  if (auto pos = utf8_invalid_at(text))
    throw bad(fmt::format("header is not valid UTF-8 (byte {}): a tensor name or metadata value is corrupt", *pos));
  if (text.front() != '{') throw bad("header does not start with '{'");

  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw bad(fmt::format("header JSON does not parse ({})", e.what()));
  }
  if (!j.is_object()) throw bad("header is not a JSON object");

  SafetensorsHeader h;
  h.data_offset = 8 + n;
  h.data_size = file.size() - h.data_offset;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw bad("__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) throw bad(fmt::format("metadata '{}' is not a string", printable(m.key())));
        h.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!v.is_object()) throw bad(fmt::format("entry '{}' is not an object", printable(name)));
    TensorInfo t;
    t.name = name;
    auto dt = v.find("dtype");
    auto sh = v.find("shape");
    auto off = v.find("data_offsets");
    if (dt == v.end() || !dt->is_string()) throw bad(fmt::format("tensor '{}' has no dtype string", printable(name)));
    if (sh == v.end() || !sh->is_array()) throw bad(fmt::format("tensor '{}' has no shape array", printable(name)));
    if (off == v.end() || !off->is_array() || off->size() != 2)
      throw bad(fmt::format("tensor '{}' has no [begin, end] data_offsets", printable(name)));
    t.dtype_name = dt->get<std::string>();
    auto es = spec_dtype_size(t.dtype_name);
    if (!es) throw bad(fmt::format("tensor '{}' has unknown dtype '{}'", printable(name), printable(t.dtype_name)));
    t.elem_size = *es;
    t.dtype = dtype_from_safetensors(t.dtype_name);
    if (sh->size() > 16) throw bad(fmt::format("tensor '{}' has {} dimensions", printable(name), sh->size()));
    uint64_t numel = 1;
    for (const json& d : *sh) {
      if (!d.is_number_unsigned())
        throw bad(fmt::format("tensor '{}' has a shape entry that is not a non-negative integer", printable(name)));
      const uint64_t dv = d.get<uint64_t>();
      if (dv > (1ull << 40) || __builtin_mul_overflow(numel, dv, &numel))
        throw bad(fmt::format("tensor '{}' has an absurd shape", printable(name)));
      t.shape.push_back(static_cast<int64_t>(dv));
    }
    if (!(*off)[0].is_number_unsigned() || !(*off)[1].is_number_unsigned())
      throw bad(fmt::format("tensor '{}' has non-integer data_offsets", printable(name)));
    t.begin = (*off)[0].get<uint64_t>();
    t.end = (*off)[1].get<uint64_t>();
    if (t.begin > t.end) throw bad(fmt::format("tensor '{}' ends before it begins", printable(name)));
    if (t.end > h.data_size)
      throw bad(fmt::format("tensor '{}' ends at byte {} of a {} byte data region (file truncated?)",
                            printable(name), t.end, h.data_size));
    uint64_t want = 0;
    if (__builtin_mul_overflow(numel, t.elem_size, &want) || want != t.end - t.begin)
      throw bad(fmt::format("tensor '{}' holds {} bytes but {} {} needs {}", printable(name),
                            t.end - t.begin, t.dtype_name, fmt::join(t.shape, "x"), want));
    h.tensors.push_back(std::move(t));
  }
  std::sort(h.tensors.begin(), h.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (size_t i = 1; i < h.tensors.size(); ++i) {
    const auto& a = h.tensors[i - 1];
    const auto& b = h.tensors[i];
    if (b.begin < a.end)
      throw bad(fmt::format("tensors '{}' and '{}' overlap", printable(a.name), printable(b.name)));
  }
  return h;
}

// ---- mmap reader -------------------------------------------------------------------------

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  require_regular_file(path, "");  // stat first: open() on a FIFO would block
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open ({}); check the path", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("{}: not a regular file", path);
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* base = nullptr;
  if (size > 0) {
    base = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (base == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      fail("{}: cannot map the file ({})", path, std::strerror(err));
    }
  }
  ::close(fd);
  auto file = std::shared_ptr<SafetensorsFile>(new SafetensorsFile());
  file->path_ = path;
  file->mapping_ = std::make_shared<Buffer>(base, size, Device::CPU,
                                            [size](void* p) { ::munmap(p, size); });
  file->header_ = parse_safetensors({static_cast<const uint8_t*>(base), size}, path);
  for (size_t i = 0; i < file->header_.tensors.size(); ++i)
    file->index_[file->header_.tensors[i].name] = i;
  return file;
}

SafetensorsFile::~SafetensorsFile() = default;

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &header_.tensors[it->second];
}

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
  const TensorInfo* t = find(name);
  if (!t) fail("{}: has no tensor '{}'", path_, name);
  return *t;
}

std::span<const uint8_t> SafetensorsFile::raw(const TensorInfo& t) const {
  const auto* base = static_cast<const uint8_t*>(mapping_->data());
  return {base + header_.data_offset + t.begin, static_cast<size_t>(t.nbytes())};
}

Tensor SafetensorsFile::load(const std::string& name, std::optional<DType> want) const {
  const TensorInfo& t = info(name);
  if (!t.dtype)
    fail("{}: tensor '{}' has dtype {}, which jenga does not load (convert the checkpoint to "
         "f32/bf16/f16/fp8)", path_, name, t.dtype_name);
  if (t.shape.size() > kMaxDims)
    fail("{}: tensor '{}' has {} dimensions; jenga supports at most {}", path_, name, t.shape.size(), kMaxDims);
  const Shape shape{std::span<const int64_t>(t.shape)};
  const DType dst = want.value_or(*t.dtype);
  auto bytes = raw(t);
  const auto addr = reinterpret_cast<uintptr_t>(bytes.data());
  if (dst == *t.dtype && addr % dtype_size(dst) == 0)
    return Tensor(dst, shape, Device::CPU, const_cast<uint8_t*>(bytes.data()), mapping_);
  Tensor out = Tensor::empty(dst, shape, Device::CPU);
  convert(bytes.data(), *t.dtype, out.data(), dst, static_cast<size_t>(t.numel()));
  return out;
}

// ---- checkpoints (single, folder, sharded) -----------------------------------------------

namespace {
std::vector<std::string> shards_from_index(const fs::path& index_path) {
  require_regular_file(index_path.string(), "shard index");
  std::ifstream in(index_path);
  if (!in) fail("{}: cannot read the shard index", index_path.string());
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    fail("{}: shard index is not valid JSON ({})", index_path.string(), e.what());
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    fail("{}: shard index has no \"weight_map\" object", index_path.string());
  std::vector<std::string> files;
  for (auto& [name, file] : j["weight_map"].items()) {
    if (!file.is_string()) fail("{}: weight_map entry '{}' is not a file name", index_path.string(), name);
    const std::string f = file.get<std::string>();
    if (f.find('/') != std::string::npos || f == "..")
      fail("{}: weight_map names '{}', which is outside the index's folder", index_path.string(), f);
    if (std::find(files.begin(), files.end(), f) == files.end()) files.push_back(f);
  }
  std::sort(files.begin(), files.end());
  const fs::path dir = index_path.parent_path();
  for (auto& f : files) {
    f = (dir / f).string();
    if (!fs::exists(f)) fail("{}: shard {} is missing; download every shard the index lists", index_path.string(), f);
  }
  return files;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

Checkpoint Checkpoint::open(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail("{}: no such file or folder", path);
  std::vector<std::string> files;
  if (fs::is_directory(path, ec)) {
    std::vector<fs::path> indexes, singles;
    for (const auto& e : fs::directory_iterator(path)) {
      const std::string n = e.path().filename().string();
      if (ends_with(n, ".safetensors.index.json")) indexes.push_back(e.path());
      else if (ends_with(n, ".safetensors") && e.is_regular_file()) singles.push_back(e.path());
    }
    if (indexes.size() > 1) fail("{}: holds {} shard indexes; pass the one you mean", path, indexes.size());
    if (indexes.size() == 1) {
      files = shards_from_index(indexes[0]);
    } else {
      std::sort(singles.begin(), singles.end());
      for (auto& p : singles) files.push_back(p.string());
    }
    if (files.empty()) fail("{}: folder holds no .safetensors files", path);
  } else if (ends_with(path, ".index.json")) {
    files = shards_from_index(path);
  } else {
    files.push_back(path);
  }
  Checkpoint c;
  c.path_ = path;
  for (const auto& f : files) {
    auto file = SafetensorsFile::open(f);
    const size_t idx = c.files_.size();
    for (const auto& t : file->header().tensors) {
      auto [it, inserted] = c.where_.emplace(t.name, idx);
      if (!inserted)
        fail("{}: tensor '{}' appears in both {} and {}", path, t.name, c.files_[it->second]->path(), f);
      c.names_.push_back(t.name);
    }
    c.files_.push_back(std::move(file));
  }
  std::sort(c.names_.begin(), c.names_.end());
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

// ---- writer -------------------------------------------------------------------------------

void SafetensorsWriter::add(const std::string& name, const Tensor& t) {
  if (t.device() != Device::CPU) fail("safetensors writer: tensor '{}' is not on the CPU", name);
  std::vector<int64_t> shape(t.shape().dims.begin(), t.shape().dims.begin() + t.ndim());
  add_raw(name, t.dtype(), std::move(shape), {static_cast<const uint8_t*>(t.data()), t.nbytes()});
}

void SafetensorsWriter::add_raw(const std::string& name, DType dtype, std::vector<int64_t> shape,
                                std::span<const uint8_t> bytes) {
  if (name == "__metadata__") fail("safetensors writer: '__metadata__' is reserved");
  if (utf8_invalid_at(name)) fail("safetensors writer: tensor name is not valid UTF-8");
  for (const auto& e : entries_)
    if (e.name == name) fail("safetensors writer: tensor '{}' added twice", name);
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  if (static_cast<size_t>(numel) * dtype_size(dtype) != bytes.size())
    fail("safetensors writer: '{}' has {} bytes for {} elements of {}", name, bytes.size(), numel, dtype_name(dtype));
  entries_.push_back({name, dtype, std::move(shape), {bytes.begin(), bytes.end()}});
}

void SafetensorsWriter::set_metadata(const std::string& key, const std::string& value) {
  metadata_[key] = value;
}

void SafetensorsWriter::write(const std::string& path) const {
  json h = json::object();
  if (!metadata_.empty()) h["__metadata__"] = metadata_;
  uint64_t offset = 0;
  for (const auto& e : entries_) {
    h[e.name] = {{"dtype", dtype_safetensors_name(e.dtype)},
                 {"shape", e.shape},
                 {"data_offsets", {offset, offset + e.bytes.size()}}};
    offset += e.bytes.size();
  }
  std::string text = h.dump();
  text.resize((text.size() + 7) / 8 * 8, ' ');  // keep the data region 8-byte aligned
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("{}: cannot write ({}); check the folder exists and is writable", path, std::strerror(errno));
    uint8_t len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& e : entries_)
      out.write(reinterpret_cast<const char*>(e.bytes.data()), static_cast<std::streamsize>(e.bytes.size()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      fail("{}: write failed (disk full?)", path);
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    fail("{}: cannot move the finished file into place ({})", path, ec.message());
  }
}

std::string describe_tensor_set_diff(const std::vector<std::string>& missing, const std::vector<std::string>& unexpected) {
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size() && i < 4; ++i) s += (i ? ", " : "") + v[i];
    if (v.size() > 4) s += fmt::format(", ... ({} more)", v.size() - 4);
    return s;
  };
  std::string what;
  if (!missing.empty()) what += fmt::format("{} missing tensor(s): {}", missing.size(), list(missing));
  if (!unexpected.empty())
    what += fmt::format("{}{} unexpected tensor(s): {}", what.empty() ? "" : "; ", unexpected.size(), list(unexpected));
  return what;
}

}  // namespace jenga
