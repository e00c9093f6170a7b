#include "io/pickle_reader.h"

#include <cstring>
#include <unordered_map>

#include "core/error.h"

namespace jenga::pickle {

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::BigInt: return "int";
    case Kind::Float: return "float";
    case Kind::Str: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Global: return "global";
    case Kind::Ext: return "object";
  }
  return "?";
}

std::string describe(const Object* o) {
  if (!o) return "nothing";
  switch (o->kind) {
    case Kind::Int: return fmt::format("int {}", o->integer);
    case Kind::Str: return fmt::format("str '{}'", o->str.substr(0, 60));
    case Kind::Global: return o->str;
    case Kind::Tuple:
    case Kind::List: return fmt::format("{} of {}", kind_name(o->kind), o->items.size());
    default: return kind_name(o->kind);
  }
}

Object* Arena::make(Kind kind) {
  if (objects_.size() >= max_objects_)
    fail("pickle builds more than {} objects, far more than a state dict needs", max_objects_);
  objects_.push_back(std::make_unique<Object>());
  objects_.back()->kind = kind;
  return objects_.back().get();
}

void PickleHooks::build(Arena&, Object* obj, Object* state) {
  if (obj->kind == Kind::Dict && (state->kind == Kind::Dict || state->kind == Kind::None)) return;
  fail("BUILD sets {} on {}; jenga only loads tensor state dicts", describe(state), describe(obj));
}

namespace {

// Opcodes of protocols 2-5 that torch.save writes for a state dict (see Python's pickletools).
enum Op : uint8_t {
  MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2', BINFLOAT = 'G', BININT = 'J',
  BININT1 = 'K', BININT2 = 'M', NONE = 'N', BINPERSID = 'Q', REDUCE = 'R', BINUNICODE = 'X',
  EMPTY_LIST = ']', APPEND = 'a', BUILD = 'b', GLOBAL = 'c', DICT = 'd', EMPTY_DICT = '}', APPENDS = 'e',
  BINGET = 'h', LONG_BINGET = 'j', LIST = 'l', BINPUT = 'q', LONG_BINPUT = 'r', SETITEM = 's',
  TUPLE = 't', EMPTY_TUPLE = ')', SETITEMS = 'u', BINBYTES = 'B', SHORT_BINBYTES = 'C',
  PROTO = 0x80, TUPLE1 = 0x85, TUPLE2 = 0x86, TUPLE3 = 0x87, NEWTRUE = 0x88, NEWFALSE = 0x89,
  LONG1 = 0x8a, LONG4 = 0x8b, SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d, BINBYTES8 = 0x8e,
  STACK_GLOBAL = 0x93, MEMOIZE = 0x94, FRAME = 0x95,
};

class Machine {
 public:
  Machine(std::span<const uint8_t> data, size_t pos, Arena& arena, PickleHooks& hooks, const std::string& source,
          const Limits& limits)
      : data_(data), pos_(pos), arena_(arena), hooks_(hooks), source_(source), limits_(limits) {}

  Object* run();
  size_t pos() const { return pos_; }

 private:
  [[noreturn]] void bad(const std::string& why) const {
    fail("{}: bad pickle at byte {}: {}", source_, op_at_, why);
  }
  const uint8_t* take(uint64_t n) {
    if (n > data_.size() - pos_) bad(fmt::format("needs {} more bytes, the pickle ends after {}", n, data_.size() - pos_));
    const uint8_t* p = data_.data() + pos_;
    pos_ += n;
    return p;
  }
  uint64_t le(int n) {
    const uint8_t* p = take(n);
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
  }
  void push(Object* o) {
    if (stack_.size() >= limits_.max_stack) bad(fmt::format("stack deeper than {}", limits_.max_stack));
    stack_.push_back(o);
  }
  Object* pop() {
    if (stack_.size() <= floor()) bad("pops an empty stack");
    Object* o = stack_.back();
    stack_.pop_back();
    return o;
  }
  Object* top() {
    if (stack_.size() <= floor()) bad("reads an empty stack");
    return stack_.back();
  }
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  // The objects pushed since the last MARK, which is removed.
  std::vector<Object*> pop_mark() {
    if (marks_.empty()) bad("no MARK to pop to");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Object*> items(stack_.begin() + static_cast<ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  Object* make(Kind k) { return arena_.make(k); }
  Object* string(Kind k, uint64_t n) {
    if (n > limits_.max_string) bad(fmt::format("a {} byte string (at most {} accepted)", n, limits_.max_string));
    const uint8_t* p = take(n);
    Object* o = make(k);
    o->str.assign(reinterpret_cast<const char*>(p), n);
    return o;
  }
  Object* integer(int64_t v) {
    Object* o = make(Kind::Int);
    o->integer = v;
    return o;
  }
  Object* tuple(std::vector<Object*> items) {
    Object* o = make(Kind::Tuple);
    o->items = std::move(items);
    return o;
  }
  Object* long_int(uint64_t n) {
    if (n > limits_.max_string) bad(fmt::format("a {} byte integer", n));
    const uint8_t* p = take(n);
    if (n > 8) {  // kept as bytes: torch's legacy magic number is 10 bytes long
      Object* o = make(Kind::BigInt);
      o->str.assign(reinterpret_cast<const char*>(p), n);
      return o;
    }
    uint64_t v = 0;
    for (uint64_t i = n; i-- > 0;) v = (v << 8) | p[i];
    if (n > 0 && n < 8 && (p[n - 1] & 0x80)) v |= ~uint64_t{0} << (8 * n);  // sign-extend
    return integer(static_cast<int64_t>(v));
  }
  std::string line() {  // GLOBAL's "module\n" and "name\n"
    const size_t start = pos_;
    while (pos_ < data_.size() && data_[pos_] != '\n') {
      if (pos_ - start > 256) bad("a GLOBAL name longer than 256 bytes");
      ++pos_;
    }
    if (pos_ >= data_.size()) bad("a GLOBAL name runs past the end");
    return std::string(reinterpret_cast<const char*>(data_.data() + start), pos_++ - start);
  }
  void memo_put(uint64_t i, Object* o) {
    if (memo_.size() >= limits_.max_memo && !memo_.count(i)) bad(fmt::format("memo larger than {}", limits_.max_memo));
    memo_[i] = o;
  }
  Object* memo_get(uint64_t i) {
    auto it = memo_.find(i);
    if (it == memo_.end()) bad(fmt::format("memo index {} was never stored", i));
    return it->second;
  }
  void set_items(Object* dict, const std::vector<Object*>& kv) {
    if (dict->kind != Kind::Dict) bad(fmt::format("SETITEM(S) on a {}", kind_name(dict->kind)));
    if (kv.size() % 2) bad("SETITEMS with an odd number of keys and values");
    for (size_t i = 0; i < kv.size(); i += 2) dict->entries.emplace_back(kv[i], kv[i + 1]);
  }
  void append(Object* list, const std::vector<Object*>& items) {
    if (list->kind != Kind::List) bad(fmt::format("APPEND(S) on a {}", kind_name(list->kind)));
    list->items.insert(list->items.end(), items.begin(), items.end());
  }

  std::span<const uint8_t> data_;
  size_t pos_;
  size_t op_at_ = 0;
  Arena& arena_;
  PickleHooks& hooks_;
  const std::string& source_;
  const Limits& limits_;
  std::vector<Object*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Object*> memo_;
};

Object* Machine::run() {
  bool first = true;
  for (;;) {
    op_at_ = pos_;
    const uint8_t op = *take(1);
    if (first && op != PROTO) bad("does not start with a PROTO opcode (protocol 0/1 pickles are not torch checkpoints)");
    first = false;
    switch (op) {
      case PROTO: {
        const uint8_t v = *take(1);
        if (v < 2 || v > 5) bad(fmt::format("pickle protocol {}; only 2 to 5 are read", v));
        break;
      }
      case FRAME: le(8); break;  // frames only help buffered readers
      case STOP: {
        if (!marks_.empty() || stack_.size() != 1) bad("STOP with a stack that does not hold exactly one object");
        return stack_.back();
      }
      case MARK:
        if (marks_.size() >= limits_.max_marks) bad(fmt::format("nested deeper than {} levels", limits_.max_marks));
        marks_.push_back(stack_.size());
        break;
      case POP: pop(); break;
      case POP_MARK: pop_mark(); break;
      case DUP: push(top()); break;
      case NONE: push(make(Kind::None)); break;
      case NEWTRUE:
      case NEWFALSE: {
        Object* o = make(Kind::Bool);
        o->boolean = op == NEWTRUE;
        push(o);
        break;
      }
      case BININT: push(integer(static_cast<int32_t>(le(4)))); break;
      case BININT1: push(integer(static_cast<int64_t>(le(1)))); break;
      case BININT2: push(integer(static_cast<int64_t>(le(2)))); break;
      case LONG1: push(long_int(le(1))); break;
      case LONG4: {
        const auto n = static_cast<int32_t>(le(4));
        if (n < 0) bad("LONG4 with a negative length");
        push(long_int(static_cast<uint64_t>(n)));
        break;
      }
      case BINFLOAT: {
        const uint8_t* p = take(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];  // big-endian
        Object* o = make(Kind::Float);
        std::memcpy(&o->real, &bits, 8);
        push(o);
        break;
      }
      case SHORT_BINUNICODE: push(string(Kind::Str, le(1))); break;
      case BINUNICODE: push(string(Kind::Str, le(4))); break;
      case BINUNICODE8: push(string(Kind::Str, le(8))); break;
      case SHORT_BINBYTES: push(string(Kind::Bytes, le(1))); break;
      case BINBYTES: push(string(Kind::Bytes, le(4))); break;
      case BINBYTES8: push(string(Kind::Bytes, le(8))); break;
      case EMPTY_TUPLE: push(tuple({})); break;
      case TUPLE1:
      case TUPLE2:
      case TUPLE3: {
        const size_t n = op - TUPLE1 + 1;
        if (stack_.size() < floor() + n) bad(fmt::format("TUPLE{} with fewer than {} objects on the stack", n, n));
        std::vector<Object*> items(stack_.end() - static_cast<ptrdiff_t>(n), stack_.end());
        stack_.resize(stack_.size() - n);
        push(tuple(std::move(items)));
        break;
      }
      case TUPLE: push(tuple(pop_mark())); break;
      case EMPTY_LIST: push(make(Kind::List)); break;
      case LIST: {
        Object* o = make(Kind::List);
        o->items = pop_mark();
        push(o);
        break;
      }
      case EMPTY_DICT: push(make(Kind::Dict)); break;
      case DICT: {
        Object* o = make(Kind::Dict);
        set_items(o, pop_mark());
        push(o);
        break;
      }
      case APPEND: {
        Object* v = pop();
        append(top(), {v});
        break;
      }
      case APPENDS: {
        auto items = pop_mark();
        append(top(), items);
        break;
      }
      case SETITEM: {
        Object* v = pop();
        Object* k = pop();
        set_items(top(), {k, v});
        break;
      }
      case SETITEMS: {
        auto kv = pop_mark();
        set_items(top(), kv);
        break;
      }
      case BINPUT: memo_put(le(1), top()); break;
      case LONG_BINPUT: memo_put(le(4), top()); break;
      case MEMOIZE: memo_put(memo_.size(), top()); break;
      case BINGET: push(memo_get(le(1))); break;
      case LONG_BINGET: push(memo_get(le(4))); break;
      case GLOBAL: {
        const std::string module = line();
        const std::string name = line();
        push(hooks_.find_class(arena_, module, name));
        break;
      }
      case STACK_GLOBAL: {
        Object* name = pop();
        Object* module = pop();
        if (module->kind != Kind::Str || name->kind != Kind::Str) bad("STACK_GLOBAL of non-strings");
        push(hooks_.find_class(arena_, module->str, name->str));
        break;
      }
      case REDUCE: {
        Object* args = pop();
        Object* callable = pop();
        if (callable->kind != Kind::Global) bad(fmt::format("REDUCE calls a {}, not a global", describe(callable)));
        if (args->kind != Kind::Tuple) bad(fmt::format("REDUCE with {} as arguments", describe(args)));
        push(hooks_.reduce(arena_, callable, args));
        break;
      }
      case BUILD: {
        Object* state = pop();
        hooks_.build(arena_, top(), state);
        break;
      }
      case BINPERSID: push(hooks_.persistent_load(arena_, pop())); break;
      default:
        bad(fmt::format("opcode 0x{:02x} is not one a tensor state dict uses; jenga only loads tensor state dicts", op));
    }
  }
}

}  // namespace

Object* unpickle(std::span<const uint8_t> data, size_t& pos, Arena& arena, PickleHooks& hooks,
                 const std::string& source, const Limits& limits) {
  if (pos > data.size()) fail("{}: pickle starts past the end of the data", source);
  Machine m(data, pos, arena, hooks, source, limits);
  Object* result = m.run();
  pos = m.pos();
  return result;
}

}  // namespace jenga::pickle
