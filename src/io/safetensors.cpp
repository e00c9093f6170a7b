#include "io/json_errors.h"
#include "io/safetensors.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/interrupt.h"
#include "core/temp_paths.h"
#include "io/mapped_file.h"
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
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number that overflows
    throw bad(fmt::format("header JSON does not parse ({})", json_error_brief(e)));
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
  return from_mapping(map_file(path), path);
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::from_mapping(std::shared_ptr<Buffer> mapping, const std::string& path) {
  auto file = std::shared_ptr<SafetensorsFile>(new SafetensorsFile());
  file->path_ = path;
  file->mapping_ = std::move(mapping);
  file->header_ = parse_safetensors({static_cast<const uint8_t*>(file->mapping_->data()), file->mapping_->bytes()}, path);
  for (size_t i = 0; i < file->header_.tensors.size(); ++i)
    file->index_[file->header_.tensors[i].name] = i;
  return file;
}

SafetensorsFile::~SafetensorsFile() = default;

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &header_.tensors[it->second];
}

std::span<const uint8_t> SafetensorsFile::raw(const TensorInfo& t) const {
  const auto* base = static_cast<const uint8_t*>(mapping_->data());
  return {base + header_.data_offset + t.begin, static_cast<size_t>(t.nbytes())};
}

TensorBytes SafetensorsFile::bytes(const TensorInfo& t) const { return {raw(t), mapping_}; }

// ---- writer -------------------------------------------------------------------------------

void SafetensorsWriter::add(const std::string& name, const Tensor& t) {
  if (t.device() != Device::CPU) fail("safetensors writer: tensor '{}' is not on the CPU", name);
  std::vector<int64_t> shape(t.shape().dims.begin(), t.shape().dims.begin() + t.ndim());
  add_raw(name, t.dtype(), std::move(shape), {static_cast<const uint8_t*>(t.data()), t.nbytes()});
}

void SafetensorsWriter::add_raw(const std::string& name, DType dtype, std::vector<int64_t> shape,
                                std::span<const uint8_t> bytes) {
  auto copy = std::make_shared<std::vector<uint8_t>>(bytes.begin(), bytes.end());
  add_view(name, std::string(dtype_safetensors_name(dtype)), std::move(shape), {copy->data(), copy->size()}, copy);
}

void SafetensorsWriter::add_view(const std::string& name, const std::string& dtype_name, std::vector<int64_t> shape,
                                 std::span<const uint8_t> bytes, std::shared_ptr<const void> owner) {
  if (name == "__metadata__") fail("safetensors writer: '__metadata__' is reserved");
  if (utf8_invalid_at(name)) fail("safetensors writer: tensor name is not valid UTF-8");
  for (const auto& e : entries_)
    if (e.name == name) fail("safetensors writer: tensor '{}' added twice", name);
  const auto elem = spec_dtype_size(dtype_name);
  if (!elem) fail("safetensors writer: '{}' has dtype {}, which safetensors does not define", name, dtype_name);
  uint64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel))
      fail("safetensors writer: '{}' has a bad shape", name);
  }
  uint64_t want = 0;
  if (__builtin_mul_overflow(numel, *elem, &want) || want != bytes.size())
    fail("safetensors writer: '{}' has {} bytes for {} elements of {}", name, bytes.size(), numel, dtype_name);
  entries_.push_back({name, dtype_name, std::move(shape), bytes, std::move(owner)});
}

void SafetensorsWriter::set_metadata(const std::string& key, const std::string& value) {
  metadata_[key] = value;
}

std::string safetensors_header_bytes(const std::vector<SafetensorsEntryInfo>& entries,
                                     const std::map<std::string, std::string>& metadata) {
  json h = json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& e : entries) {
    h[e.name] = {{"dtype", e.dtype_name}, {"shape", e.shape}, {"data_offsets", {offset, offset + e.bytes}}};
    offset += e.bytes;
  }
  std::string text = h.dump();
  text.resize((text.size() + 7) / 8 * 8, ' ');  // keep the data region 8-byte aligned
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(static_cast<uint64_t>(text.size()) >> (8 * i));
  return out + text;
}

void SafetensorsWriter::write(const std::string& path) const {
  std::vector<SafetensorsEntryInfo> infos;
  for (const auto& e : entries_) infos.push_back({e.name, e.dtype_name, e.shape, e.bytes.size()});
  const std::string head = safetensors_header_bytes(infos, metadata_);
  // Readers (ours, the safetensors library) refuse a larger header: never write one.
  if (head.size() - 8 > kMaxSafetensorsHeader)
    fail("{}: its header would be {} bytes, over the {} safetensors readers accept ({} tensors; names too long?)", path,
         head.size() - 8, kMaxSafetensorsHeader, entries_.size());
  // A hidden name of this process in the same folder (the rename stays atomic): two writers of
  // one path never share a temp file, and a user's PATH.tmp is not ours to overwrite.
  const fs::path target(path);
  TempPath tmp_path((target.parent_path() / fmt::format(".{}-jenga-tmp-{}", target.filename().string(), ::getpid())).string());
  const std::string& tmp = tmp_path.path();  // removed on any failure below
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("{}: cannot write ({}); check the folder exists and is writable", path, std::strerror(errno));
    out.write(head.data(), static_cast<std::streamsize>(head.size()));
    for (const auto& e : entries_) {
      check_interrupt();  // a large conversion takes a while: Ctrl-C leaves no .tmp behind
      out.write(reinterpret_cast<const char*>(e.bytes.data()), static_cast<std::streamsize>(e.bytes.size()));
    }
    out.flush();
    if (!out) fail("{}: write failed (disk full?)", path);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) fail("{}: cannot move the finished file into place ({})", path, ec.message());  // tmp_path removes it
  tmp_path.release();
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
