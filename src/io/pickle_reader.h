#pragma once
// A restricted unpickler: Python's pickle protocols 2-5, only the opcodes a saved state dict
// uses, into a tree of plain values. It executes nothing: GLOBAL/STACK_GLOBAL, REDUCE, BUILD and
// persistent ids go to a PickleHooks object, which builds plain data for the few callables it
// allows and throws for everything else. Every resource is bounded (objects, stack, marks, memo,
// string lengths), so a malicious file gives an Error, never a crash, a hang or a huge allocation.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace jenga::pickle {

enum class Kind : uint8_t {
  None, Bool, Int, BigInt, Float, Str, Bytes, Tuple, List, Dict,
  Global,  // a callable or class the hooks allowed, named by `str` ("module.name")
  Ext,     // something the hooks built (a tensor, a storage, a dtype): ext_type/ext_index are theirs
};
const char* kind_name(Kind k);

// Objects live in an Arena and refer to each other by pointer, so a cyclic or shared structure
// (the memo allows both) is freed without recursion or leaks.
struct Object {
  Kind kind = Kind::None;
  bool boolean = false;
  int64_t integer = 0;
  double real = 0;
  std::string str;                                   // Str, Bytes, Global; BigInt: its raw bytes
  std::vector<Object*> items;                        // Tuple, List
  std::vector<std::pair<Object*, Object*>> entries;  // Dict, in insertion order
  int ext_type = 0;
  size_t ext_index = 0;
};

struct Limits {
  size_t max_objects = size_t{1} << 24;
  size_t max_stack = size_t{1} << 20;
  size_t max_marks = 1000;  // nesting depth of MARK-delimited groups
  size_t max_memo = size_t{1} << 22;
  size_t max_string = size_t{64} << 20;
};

class Arena {
 public:
  explicit Arena(size_t max_objects = Limits{}.max_objects) : max_objects_(max_objects) {}
  Object* make(Kind kind);  // throws once max_objects exist
  size_t size() const { return objects_.size(); }

 private:
  size_t max_objects_;
  std::vector<std::unique_ptr<Object>> objects_;
};

class PickleHooks {
 public:
  virtual ~PickleHooks() = default;
  // GLOBAL module name: return a Global object or throw for a name that is not allowed.
  virtual Object* find_class(Arena& arena, const std::string& module, const std::string& name) = 0;
  // REDUCE: `callable` is a Global this object returned, `args` a Tuple.
  virtual Object* reduce(Arena& arena, Object* callable, Object* args) = 0;
  // BINPERSID: the persistent id `pid` (torch: a tuple naming a storage).
  virtual Object* persistent_load(Arena& arena, Object* pid) = 0;
  // BUILD: set `state` on `obj`; the default accepts it on a dict (an OrderedDict's attributes,
  // such as a state dict's _metadata, which a loader does not need) and refuses the rest.
  virtual void build(Arena& arena, Object* obj, Object* state);
};

// Runs one pickle that starts at `pos` of `data` and returns its result; `pos` is left just
// past its STOP, where a following pickle (torch's legacy format has several) starts. Errors
// name `source` and the byte offset.
Object* unpickle(std::span<const uint8_t> data, size_t& pos, Arena& arena, PickleHooks& hooks,
                 const std::string& source, const Limits& limits = {});

// A short description of `o` for error messages: "dict", "str 'abc'", "int 3".
std::string describe(const Object* o);

}  // namespace jenga::pickle
