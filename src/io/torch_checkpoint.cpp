#include "io/torch_checkpoint.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "core/error.h"
#include "io/mapped_file.h"
#include "io/pickle_reader.h"
#include "io/torch_zip.h"

namespace jenga {
namespace {

using pickle::Arena;
using pickle::Kind;
using pickle::Object;

// Element types torch can store, by storage class and dtype name, with their safetensors names.
struct TorchDtype {
  const char* storage;  // torch.<storage> (nullptr: only reachable as a dtype)
  const char* dtype;    // torch.<dtype>
  const char* st_name;
  size_t size;
};
constexpr TorchDtype kDtypes[] = {
    {"FloatStorage", "float32", "F32", 4},        {"HalfStorage", "float16", "F16", 2},
    {"BFloat16Storage", "bfloat16", "BF16", 2},   {"DoubleStorage", "float64", "F64", 8},
    {"LongStorage", "int64", "I64", 8},           {"IntStorage", "int32", "I32", 4},
    {"ShortStorage", "int16", "I16", 2},          {"CharStorage", "int8", "I8", 1},
    {"ByteStorage", "uint8", "U8", 1},            {"BoolStorage", "bool", "BOOL", 1},
    {"Float8_e4m3fnStorage", "float8_e4m3fn", "F8_E4M3", 1},
    {"Float8_e5m2Storage", "float8_e5m2", "F8_E5M2", 1},
    {nullptr, "uint16", "U16", 2},                {nullptr, "uint32", "U32", 4},
    {nullptr, "uint64", "U64", 8},
};
constexpr int kUntyped = -1;  // torch.UntypedStorage: bytes
constexpr int kBytes = 8;     // what an untyped storage's elements are
static_assert(kDtypes[kBytes].size == 1 && kDtypes[kBytes].st_name[0] == 'U');
// torch's other names for the same dtypes (torch.float is torch.float32, ...).
constexpr std::pair<const char*, const char*> kDtypeAliases[] = {
    {"float", "float32"}, {"half", "float16"}, {"double", "float64"},
    {"long", "int64"},    {"int", "int32"},    {"short", "int16"}};

// What an allowed global is; kept in Object::ext_type of the Global objects we hand out.
enum GlobalType : int { kCallable = 1, kStorageClass, kDtype, kTensorType };
// Objects the hooks build; kept in Object::ext_type of Ext objects.
enum ExtType : int { kStorage = 10, kTensor };

enum Callable : size_t {
  kOrderedDict, kRebuildTensor, kRebuildTensorV2, kRebuildTensorV3, kRebuildParameter,
  kRebuildParameterWithState, kRebuildFromTypeV2, kTorchSize, kTorchDevice, kCodecsEncode,
};
constexpr std::pair<const char*, Callable> kCallables[] = {
    {"collections.OrderedDict", kOrderedDict},
    {"torch._utils._rebuild_tensor", kRebuildTensor},
    {"torch._utils._rebuild_tensor_v2", kRebuildTensorV2},
    {"torch._utils._rebuild_tensor_v3", kRebuildTensorV3},
    {"torch._utils._rebuild_parameter", kRebuildParameter},
    {"torch._utils._rebuild_parameter_with_state", kRebuildParameterWithState},
    {"torch._tensor._rebuild_from_type_v2", kRebuildFromTypeV2},
    {"torch.Size", kTorchSize},
    {"torch.device", kTorchDevice},   // e.g. a config entry saying where the model ran
    {"_codecs.encode", kCodecsEncode},  // how protocol 2 pickles a bytes object
};

constexpr int kMaxTensorDims = 16;
constexpr int kMaxNesting = 64;
constexpr uint64_t kMaxExpandedView = uint64_t{1} << 20;

struct StorageRef {
  std::string key;
  int dtype = kUntyped;  // index into kDtypes
  uint64_t numel = 0;     // elements of `dtype` (bytes when untyped)
};

struct TensorRef {
  size_t storage = 0;  // index into the StorageRefs
  int dtype = 0;       // index into kDtypes, or kUntyped (bytes)
  int64_t offset = 0;
  std::vector<int64_t> size, stride;
};

// The part of the unpickler that knows torch: the allowed globals and what calling them builds.
class TorchHooks : public pickle::PickleHooks {
 public:
  explicit TorchHooks(const std::string& source) : source_(source) {}

  std::vector<StorageRef> storages;
  std::vector<TensorRef> tensors;

  Object* find_class(Arena& arena, const std::string& module, const std::string& name) override {
    const std::string full = module + "." + name;
    auto global = [&](int type, size_t index) {
      Object* o = arena.make(Kind::Global);
      o->str = full;
      o->ext_type = type;
      o->ext_index = index;
      return o;
    };
    for (const auto& [n, c] : kCallables)
      if (full == n) return global(kCallable, c);
    if (full == "torch.UntypedStorage" || full == "torch.storage.UntypedStorage")
      return global(kStorageClass, static_cast<size_t>(kUntyped));
    if (full == "torch.Tensor" || full == "torch.nn.parameter.Parameter") return global(kTensorType, 0);
    if (module == "torch") {
      std::string dtype = name;
      for (const auto& [alias, canonical] : kDtypeAliases)
        if (dtype == alias) dtype = canonical;
      for (size_t i = 0; i < std::size(kDtypes); ++i) {
        if (kDtypes[i].storage && name == kDtypes[i].storage) return global(kStorageClass, i);
        if (dtype == kDtypes[i].dtype) return global(kDtype, i);
      }
    }
    fail("refusing to load {}: the pickle calls {}; jenga only loads tensor state dicts (nothing in the file was run)",
         source_, full);
  }

  Object* reduce(Arena& arena, Object* callable, Object* args) override {
    if (callable->ext_type != kCallable)
      fail("refusing to load {}: the pickle calls {}, which a tensor state dict never calls", source_, callable->str);
    const auto& a = args->items;
    switch (static_cast<Callable>(callable->ext_index)) {
      case kOrderedDict: {
        Object* d = arena.make(Kind::Dict);
        if (a.empty()) return d;
        if (a.size() == 1 && (a[0]->kind == Kind::List || a[0]->kind == Kind::Tuple)) {
          for (Object* kv : a[0]->items) {
            if (kv->kind != Kind::Tuple || kv->items.size() != 2) bad("OrderedDict of something else than pairs");
            d->entries.emplace_back(kv->items[0], kv->items[1]);
          }
          return d;
        }
        bad("OrderedDict called with unexpected arguments");
      }
      case kTorchSize:
        if (a.size() != 1 || a[0]->kind != Kind::Tuple) bad("torch.Size of something else than a tuple");
        return a[0];
      case kTorchDevice:  // ("cuda", 0) or ("cuda:0",): kept as its name
        if (a.empty() || a.size() > 2 || a[0]->kind != Kind::Str) bad("torch.device of something else than a name");
        return a[0];
      case kCodecsEncode: return latin1_bytes(arena, a);
      case kRebuildTensor:
      case kRebuildTensorV2:
      case kRebuildTensorV3: return rebuild_tensor(arena, static_cast<Callable>(callable->ext_index), a);
      case kRebuildParameter:
      case kRebuildParameterWithState:
        if (a.empty() || !is_tensor(a[0])) bad("a Parameter of something else than a tensor");
        return a[0];
      case kRebuildFromTypeV2: {  // (func, type, args, state): a tensor with Python attributes
        if (a.size() != 4 || a[0]->kind != Kind::Global || a[1]->kind != Kind::Global || a[1]->ext_type != kTensorType ||
            a[2]->kind != Kind::Tuple)
          bad("_rebuild_from_type_v2 with unexpected arguments");
        if (a[0]->ext_type != kCallable || (a[0]->ext_index != kRebuildTensorV2 && a[0]->ext_index != kRebuildTensorV3))
          fail("refusing to load {}: the pickle rebuilds a tensor through {}", source_, a[0]->str);
        return reduce(arena, a[0], a[2]);
      }
    }
    bad("unknown callable");
  }

  Object* persistent_load(Arena& arena, Object* pid) override {
    // ("storage", storage class, key, location, numel[, view metadata of the legacy format])
    const auto& p = pid->items;
    if (pid->kind != Kind::Tuple || p.size() < 5 || p.size() > 6 || p[0]->kind != Kind::Str || p[0]->str != "storage")
      bad(fmt::format("persistent id {} is not a storage", pickle::describe(pid)));
    if (p[1]->kind != Kind::Global || p[1]->ext_type != kStorageClass)
      bad(fmt::format("storage of type {}", pickle::describe(p[1])));
    if (p[2]->kind != Kind::Str) bad("storage key is not a string");
    if (p[4]->kind != Kind::Int || p[4]->integer < 0) bad("storage size is not a non-negative integer");
    if (p.size() == 6 && p[5]->kind != Kind::None)
      fail("{}: uses storage views of the pre-1.0 torch format, which jenga does not read; re-save it with a newer torch",
           source_);
    storages.push_back({p[2]->str, static_cast<int>(static_cast<int64_t>(p[1]->ext_index)), static_cast<uint64_t>(p[4]->integer)});
    Object* o = arena.make(Kind::Ext);
    o->ext_type = kStorage;
    o->ext_index = storages.size() - 1;
    return o;
  }

  static bool is_tensor(const Object* o) { return o->kind == Kind::Ext && o->ext_type == kTensor; }

 private:
  [[noreturn]] void bad(const std::string& why) const {
    fail("{}: not a tensor state dict pickle: {}", source_, why);
  }

  // _codecs.encode(text, "latin1"): each code point of the UTF-8 text is one byte.
  Object* latin1_bytes(Arena& arena, const std::vector<Object*>& a) const {
    if (a.size() != 2 || a[0]->kind != Kind::Str || a[1]->kind != Kind::Str || (a[1]->str != "latin1" && a[1]->str != "latin-1"))
      bad("_codecs.encode of something else than latin1 text");
    Object* o = arena.make(Kind::Bytes);
    const std::string& t = a[0]->str;
    for (size_t i = 0; i < t.size(); ++i) {
      const auto c = static_cast<uint8_t>(t[i]);
      if (c < 0x80) {
        o->str.push_back(static_cast<char>(c));
      } else if ((c == 0xc2 || c == 0xc3) && i + 1 < t.size() && (static_cast<uint8_t>(t[i + 1]) & 0xc0) == 0x80) {
        o->str.push_back(static_cast<char>(((c & 0x03) << 6) | (static_cast<uint8_t>(t[++i]) & 0x3f)));
      } else {
        bad("_codecs.encode of text that is not latin1");
      }
    }
    return o;
  }

  std::vector<int64_t> ints(const Object* o, const char* what) const {
    if (o->kind != Kind::Tuple && o->kind != Kind::List) bad(fmt::format("tensor {} is a {}", what, pickle::describe(o)));
    if (o->items.size() > kMaxTensorDims) bad(fmt::format("tensor {} has {} entries", what, o->items.size()));
    std::vector<int64_t> v;
    for (const Object* i : o->items) {
      if (i->kind != Kind::Int || i->integer < 0) bad(fmt::format("tensor {} holds {}", what, pickle::describe(i)));
      v.push_back(i->integer);
    }
    return v;
  }

  // _rebuild_tensor(storage, offset, size, stride), _v2(..., requires_grad, hooks[, metadata]),
  // _v3(..., requires_grad, hooks, dtype[, metadata]).
  Object* rebuild_tensor(Arena& arena, Callable which, const std::vector<Object*>& a) {
    const size_t want = which == kRebuildTensor ? 4 : which == kRebuildTensorV2 ? 6 : 7;
    if (a.size() < want || a.size() > want + 1) bad(fmt::format("{} arguments to a tensor rebuild", a.size()));
    if (a[0]->kind != Kind::Ext || a[0]->ext_type != kStorage) bad("a tensor rebuilt from something else than a storage");
    if (a[1]->kind != Kind::Int || a[1]->integer < 0) bad("tensor storage offset is not a non-negative integer");
    TensorRef t;
    t.storage = a[0]->ext_index;
    t.offset = a[1]->integer;
    t.size = ints(a[2], "size");
    t.stride = ints(a[3], "stride");
    if (t.size.size() != t.stride.size()) bad("tensor size and stride differ in length");
    t.dtype = storages[t.storage].dtype;
    if (which == kRebuildTensorV3) {
      if (a[6]->kind != Kind::Global || a[6]->ext_type != kDtype) bad(fmt::format("tensor dtype {}", pickle::describe(a[6])));
      t.dtype = static_cast<int>(a[6]->ext_index);
    }
    tensors.push_back(std::move(t));
    Object* o = arena.make(Kind::Ext);
    o->ext_type = kTensor;
    o->ext_index = tensors.size() - 1;
    return o;
  }

  const std::string& source_;
};

const std::string& key_text(const Object* k, std::string& buf) {
  if (k->kind == Kind::Str) return k->str;
  buf = k->kind == Kind::Int ? std::to_string(k->integer) : std::string();
  return buf;
}

// Names every tensor below `o` (dicts and lists flattened with "."), each container once.
void flatten(const Object* o, const std::string& name, int depth, std::set<const Object*>& seen,
             std::vector<std::pair<std::string, size_t>>& out, const std::string& source) {
  if (TorchHooks::is_tensor(o)) {
    out.emplace_back(name, o->ext_index);
    return;
  }
  if (o->kind != Kind::Dict && o->kind != Kind::List && o->kind != Kind::Tuple) return;  // not a tensor: skipped
  if (!seen.insert(o).second) return;  // shared or cyclic: its tensors already have names
  if (depth >= kMaxNesting)
    fail("{}: dicts/lists nested deeper than {} levels (at '{}...'); not a tensor state dict", source, kMaxNesting,
         name.substr(0, 60));
  auto join = [&](const std::string& key) { return name.empty() ? key : name + "." + key; };
  if (o->kind == Kind::Dict) {
    std::string buf;
    for (const auto& [k, v] : o->entries) {
      if (k->kind != Kind::Str && k->kind != Kind::Int) continue;
      flatten(v, join(key_text(k, buf)), depth + 1, seen, out, source);
    }
  } else {
    for (size_t i = 0; i < o->items.size(); ++i) flatten(o->items[i], join(std::to_string(i)), depth + 1, seen, out, source);
  }
}

const Object* dict_get(const Object* d, const std::string& key) {
  for (const auto& [k, v] : d->entries)
    if (k->kind == Kind::Str && k->str == key) return v;
  return nullptr;
}

std::string dict_keys(const Object* d) {
  std::string s;
  size_t n = 0;
  for (const auto& [k, v] : d->entries) {
    if (k->kind != Kind::Str) continue;
    if (++n > 8) return s + ", ...";
    s += (s.empty() ? "" : ", ") + k->str.substr(0, 40);
  }
  return s;
}

constexpr uint8_t kLegacyMagic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};  // 0x1950a86a20f9469cfc6c

bool checked_mul(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_mul_overflow(a, b, &out); }
bool checked_add(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_add_overflow(a, b, &out); }

// A pickled value for messages, with its article: "a tensor", "an int 3", "a dict".
std::string value_phrase(const pickle::Object* o) {
  if (o && TorchHooks::is_tensor(o)) return "a tensor";
  const std::string d = pickle::describe(o);
  if (d == "None" || d == "nothing") return d;
  return (std::string("aeiou").find(d[0]) != std::string::npos ? "an " : "a ") + d;
}

}  // namespace

bool looks_like_torch_checkpoint(std::span<const uint8_t> h) {
  if (h.size() >= 4 && h[0] == 'P' && h[1] == 'K' && h[2] == 3 && h[3] == 4) return true;
  // Legacy: PROTO 2..5, an optional FRAME, then LONG1 of the 10-byte magic number.
  if (h.size() < 4 || h[0] != 0x80 || h[1] < 2 || h[1] > 5) return false;
  size_t p = 2;
  if (h[p] == 0x95) p += 9;
  return h.size() >= p + 2 && h[p] == 0x8a && h[p + 1] == 10;
}

class TorchFileBuilder {
 public:
  TorchFileBuilder(TorchFile& f, const std::optional<std::string>& state_key)
      : f_(f), state_key_(state_key), hooks_(f.path_) {}

  void build() {
    const auto* base = static_cast<const uint8_t*>(f_.mapping_->data());
    const std::span<const uint8_t> file{base, f_.mapping_->bytes()};
    const Object* root = nullptr;
    std::map<std::string, size_t> data;  // storage key -> index into f_.storages_
    if (file.size() >= 2 && file[0] == 'P' && file[1] == 'K') {
      const auto layout = torch_zip_layout(file, read_stored_zip(file, f_.path_), f_.path_);
      size_t pos = 0;
      root = pickle::unpickle(layout.pickle, pos, arena_, hooks_, f_.path_);
      for (const auto& s : layout.storages) {
        data[s.name] = f_.storages_.size();
        f_.storages_.push_back({s.local_header, layout.top + "/data/" + s.name, s.size, std::nullopt});
      }
    } else {
      f_.legacy_ = true;
      root = read_legacy(file, data);
    }
    name_tensors(root, data);
  }

 private:
  // torch.save(..., _use_new_zipfile_serialization=False): pickles of the magic number, the
  // protocol version, system info, the object and the storage keys, then each storage as its
  // element count (u64) and bytes.
  const Object* read_legacy(std::span<const uint8_t> file, std::map<std::string, size_t>& data) {
    const std::string& src = f_.path_;
    size_t pos = 0;
    const Object* magic = pickle::unpickle(file, pos, arena_, hooks_, src);
    if (magic->kind != Kind::BigInt || magic->str.size() != sizeof kLegacyMagic ||
        std::memcmp(magic->str.data(), kLegacyMagic, sizeof kLegacyMagic) != 0)
      fail("{}: is a Python pickle but not a PyTorch checkpoint (no torch.save magic number)", src);
    const Object* version = pickle::unpickle(file, pos, arena_, hooks_, src);
    if (version->kind != Kind::Int || version->integer != 1001)
      fail("{}: legacy torch checkpoint of protocol version {}, expected 1001", src, pickle::describe(version));
    const Object* info = pickle::unpickle(file, pos, arena_, hooks_, src);
    if (info->kind == Kind::Dict) {
      const Object* le = dict_get(info, "little_endian");
      if (le && le->kind == Kind::Bool && !le->boolean)
        fail("{}: was saved on a big-endian machine; jenga reads little-endian checkpoints only (re-save it on x86/ARM)", src);
    }
    const Object* root = pickle::unpickle(file, pos, arena_, hooks_, src);
    const Object* keys = pickle::unpickle(file, pos, arena_, hooks_, src);
    if (keys->kind != Kind::List) fail("{}: legacy torch checkpoint has no storage key list", src);
    // Element size and count of each storage, from the persistent ids that name it.
    std::map<std::string, const StorageRef*> refs;
    for (const auto& s : hooks_.storages) refs.emplace(s.key, &s);
    for (const Object* k : keys->items) {
      if (k->kind != Kind::Str) fail("{}: legacy storage key {} is not a string", src, pickle::describe(k));
      auto it = refs.find(k->str);
      if (it == refs.end()) fail("{}: storage '{}' is listed but no tensor uses it", src, k->str.substr(0, 40));
      const StorageRef& s = *it->second;
      const uint64_t elem = s.dtype == kUntyped ? 1 : kDtypes[s.dtype].size;
      if (file.size() - pos < 8) fail("{}: storage '{}' runs past the end of the file (truncated?)", src, s.key);
      uint64_t numel = 0;
      for (int i = 7; i >= 0; --i) numel = (numel << 8) | file[pos + i];
      pos += 8;
      uint64_t size = 0;
      if (!checked_mul(numel, elem, size) || size > file.size() - pos)
        fail("{}: storage '{}' of {} elements runs past the end of the file (truncated?)", src, s.key, numel);
      if (numel != s.numel) fail("{}: storage '{}' holds {} elements, its tensors say {}", src, s.key, numel, s.numel);
      if (!data.emplace(s.key, f_.storages_.size()).second) fail("{}: storage '{}' is stored twice", src, s.key);
      f_.storages_.push_back({0, "", size, pos});
      pos += size;
    }
    return root;
  }

  // The state dict to read: a training checkpoint's "module"/"ema", a "state_dict", or the whole.
  const Object* state_dict(const Object* root) {
    const std::string& src = f_.path_;
    if (root->kind != Kind::Dict)
      fail("{}: holds {}, not a dict of tensors; jenga reads state dicts (torch.save(model.state_dict()))", src,
           value_phrase(root));
    auto pick = [&](const std::string& key) {
      const Object* v = dict_get(root, key);
      if (!v)
        fail("{}: has no '{}' to read (its top-level keys: {}); {}", src, key, dict_keys(root),
             state_key_ ? "pick another --state-key"
                        : "by default a training checkpoint's 'module' is read, as HunyuanVideo's loader does; "
                          "--state-key names another (e.g. --state-key ema)");
      if (v->kind != Kind::Dict) fail("{}: '{}' is {}, not a dict of tensors", src, key, value_phrase(v));
      f_.unwrapped_ = key;
      return v;
    };
    if (state_key_) return pick(*state_key_);
    if (dict_get(root, "module") || dict_get(root, "ema")) return pick("module");  // as HunyuanVideo's --load-key
    if (const Object* v = dict_get(root, "state_dict"); v && v->kind == Kind::Dict) return pick("state_dict");
    return root;
  }

  void name_tensors(const Object* root, const std::map<std::string, size_t>& data) {
    const std::string& src = f_.path_;
    std::vector<std::pair<std::string, size_t>> named;
    std::set<const Object*> seen;
    flatten(state_dict(root), "", 0, seen, named, src);
    if (named.empty())
      fail("{}: holds no tensors{}; is it a model's state dict?", src,
           f_.unwrapped_.empty() ? "" : fmt::format(" under '{}'", f_.unwrapped_));
    std::sort(named.begin(), named.end());
    for (size_t i = 1; i < named.size(); ++i)
      if (named[i].first == named[i - 1].first) fail("{}: tensor name '{}' appears twice", src, named[i].first);
    for (const auto& [name, ref] : named) add_tensor(name, hooks_.tensors[ref], data);
  }

  void add_tensor(const std::string& name, const TensorRef& t, const std::map<std::string, size_t>& data) {
    const std::string& src = f_.path_;
    auto bad = [&](const std::string& why) -> Error {
      return Error(fmt::format("{}: tensor '{}' {} (file corrupt? re-download it)", src, name, why));
    };
    const StorageRef& s = hooks_.storages[t.storage];
    auto it = data.find(s.key);
    if (it == data.end()) throw bad(fmt::format("uses storage '{}', which the file does not hold", s.key.substr(0, 40)));
    const uint64_t storage_elem = s.dtype == kUntyped ? 1 : kDtypes[s.dtype].size;
    const uint64_t stored = f_.storages_[it->second].size;
    uint64_t storage_bytes = 0;
    if (!checked_mul(s.numel, storage_elem, storage_bytes) || storage_bytes > stored)
      throw bad(fmt::format("has a storage of {} elements but its data holds {} bytes", s.numel, stored));
    const TorchDtype& d = kDtypes[t.dtype == kUntyped ? kBytes : t.dtype];
    const uint64_t capacity = storage_bytes / d.size;

    TensorInfo info;
    info.name = name;
    info.dtype_name = d.st_name;
    info.dtype = dtype_from_safetensors(d.st_name);
    info.elem_size = d.size;
    TorchFile::View v;
    v.storage = it->second;
    v.offset = static_cast<uint64_t>(t.offset);
    v.strides = t.stride;
    uint64_t numel = 1, last = v.offset, expect_stride = 1;
    for (size_t i = 0; i < t.size.size(); ++i) {
      const auto n = static_cast<uint64_t>(t.size[i]);
      if (n > (uint64_t{1} << 40) || !checked_mul(numel, n, numel)) throw bad("has an absurd shape");
      info.shape.push_back(t.size[i]);
    }
    for (size_t i = t.size.size(); i-- > 0;) {
      const auto n = static_cast<uint64_t>(t.size[i]), st = static_cast<uint64_t>(t.stride[i]);
      uint64_t step = 0;
      if (n > 0 && (!checked_mul(n - 1, st, step) || !checked_add(last, step, last)))
        throw bad("has strides that overflow");
      if (n != 1 && st != expect_stride) v.contiguous = false;
      checked_mul(expect_stride, n, expect_stride);  // bounded by numel, which did not overflow
    }
    uint64_t nbytes = 0;
    if (!checked_mul(numel, d.size, nbytes)) throw bad("has an absurd shape");
    if (numel == 0) {
      v.contiguous = true;
      if (v.offset > capacity) throw bad(fmt::format("starts at element {} of a storage of {}", v.offset, capacity));
      info.begin = info.end = v.offset * d.size;
    } else {
      if (last >= capacity)
        throw bad(fmt::format("reads element {} of a storage holding {} (offset/strides past its end)", last, capacity));
      // A view with stride 0 (torch's expand) may claim far more elements than its storage
      // holds; copying it out is bounded by the storage's size (or a small constant).
      if (!v.contiguous && nbytes > std::max<uint64_t>(storage_bytes, kMaxExpandedView))
        throw bad(fmt::format("is a {} byte view of a {} byte storage; jenga does not expand such views", nbytes,
                              storage_bytes));
      info.begin = v.offset * d.size;
      info.end = v.contiguous ? info.begin + nbytes : (last + 1) * d.size;
    }
    f_.index_[name] = f_.tensors_.size();
    f_.tensors_.push_back(std::move(info));
    f_.views_.push_back(std::move(v));
  }

  TorchFile& f_;
  const std::optional<std::string>& state_key_;
  Arena arena_;
  TorchHooks hooks_;
};

std::shared_ptr<TorchFile> TorchFile::open(const std::string& path, const std::optional<std::string>& state_key) {
  return from_mapping(map_file(path), path, state_key);
}

std::shared_ptr<TorchFile> TorchFile::from_mapping(std::shared_ptr<Buffer> mapping, const std::string& path,
                                                   const std::optional<std::string>& state_key) {
  auto f = std::shared_ptr<TorchFile>(new TorchFile());
  f->path_ = path;
  f->mapping_ = std::move(mapping);
  TorchFileBuilder(*f, state_key).build();
  return f;
}

const TensorInfo* TorchFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

uint64_t TorchFile::storage_data(size_t i) const {
  std::lock_guard<std::mutex> lock(locate_mutex_);
  const Storage& s = storages_[i];
  if (!s.data) {
    const std::span<const uint8_t> file{static_cast<const uint8_t*>(mapping_->data()), mapping_->bytes()};
    s.data = zip_entry_data(file, {s.entry_name, s.local_header, s.size}, path_);
  }
  return *s.data;
}

TensorBytes TorchFile::bytes(const TensorInfo& t) const {
  auto found = index_.find(t.name);
  if (found == index_.end()) fail("{}: has no tensor '{}'", path_, t.name);
  const View& v = views_[found->second];
  const uint8_t* storage = static_cast<const uint8_t*>(mapping_->data()) + storage_data(v.storage);
  const uint64_t nbytes = t.nbytes();
  if (v.contiguous) return {{storage + t.begin, static_cast<size_t>(nbytes)}, mapping_};
  // A strided view (a transpose, a slice of another dim): gather it row by row.
  auto out = Buffer::allocate(nbytes, Device::CPU);
  auto* dst = static_cast<uint8_t*>(out->data());
  const size_t nd = t.shape.size(), elem = t.elem_size;
  const int64_t inner = t.shape[nd - 1], inner_stride = v.strides[nd - 1];
  std::vector<int64_t> idx(nd, 0);
  for (uint64_t row = 0, rows = t.numel() / inner; row < rows; ++row) {
    uint64_t at = v.offset;
    for (size_t d = 0; d + 1 < nd; ++d) at += static_cast<uint64_t>(idx[d] * v.strides[d]);
    if (inner_stride == 1) {
      std::memcpy(dst, storage + at * elem, static_cast<size_t>(inner) * elem);
      dst += static_cast<size_t>(inner) * elem;
    } else {
      for (int64_t j = 0; j < inner; ++j, dst += elem) std::memcpy(dst, storage + (at + j * inner_stride) * elem, elem);
    }
    for (size_t d = nd - 1; d-- > 0;) {
      if (++idx[d] < t.shape[d]) break;
      idx[d] = 0;
    }
  }
  return {{static_cast<const uint8_t*>(out->data()), static_cast<size_t>(nbytes)}, out};
}

}  // namespace jenga
