#include "io/torch_zip.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "core/error.h"

namespace jenga {
namespace {

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50;
constexpr uint32_t kEnd64LocatorSig = 0x07064b50, kEnd64Sig = 0x06064b50;
constexpr size_t kEndSize = 22, kEnd64LocatorSize = 20, kEnd64Size = 56, kCentralSize = 46, kLocalSize = 30;

// Little-endian reads at a checked position of the file image.
struct Reader {
  std::span<const uint8_t> file;
  const std::string& source;

  [[noreturn]] void bad(const std::string& why) const {
    fail("{}: not a valid PyTorch zip checkpoint: {} (file truncated or corrupt? re-download it)", source, why);
  }
  void need(uint64_t pos, uint64_t n, const char* what) const {
    if (pos > file.size() || n > file.size() - pos)
      bad(fmt::format("the {} at byte {} runs past the end of the {} byte file", what, pos, file.size()));
  }
  uint64_t le(uint64_t pos, int bytes) const {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | file[pos + i];
    return v;
  }
  uint16_t u16(uint64_t pos) const { return static_cast<uint16_t>(le(pos, 2)); }
  uint32_t u32(uint64_t pos) const { return static_cast<uint32_t>(le(pos, 4)); }
  uint64_t u64(uint64_t pos) const { return le(pos, 8); }
};

struct Directory {
  uint64_t entries = 0, offset = 0, size = 0;
};

// The end-of-central-directory record: within the last 64 KiB + 22 bytes (the comment may
// follow it), and its zip64 twin when a count or offset overflowed 16/32 bits.
Directory find_directory(const Reader& r) {
  const auto& f = r.file;
  if (f.size() < kEndSize) r.bad(fmt::format("only {} bytes", f.size()));
  const uint64_t last = f.size() - kEndSize;
  const uint64_t first = last > 0xFFFF ? last - 0xFFFF : 0;
  std::optional<uint64_t> end;
  for (uint64_t p = last + 1; p-- > first;) {
    if (r.u32(p) == kEndSig && p + kEndSize + r.u16(p + 20) == f.size()) {
      end = p;
      break;
    }
  }
  if (!end) r.bad("no end-of-central-directory record");
  const uint64_t e = *end;
  if (r.u16(e + 4) != 0 || (r.u16(e + 6) != 0 && r.u16(e + 6) != 0xFFFF))
    r.bad("a multi-disk archive");
  Directory d{r.u16(e + 10), r.u32(e + 16), r.u32(e + 12)};
  const bool zip64 = d.entries == 0xFFFF || d.offset == 0xFFFFFFFF || d.size == 0xFFFFFFFF;
  if (zip64 || (e >= kEnd64LocatorSize && r.u32(e - kEnd64LocatorSize) == kEnd64LocatorSig)) {
    if (e < kEnd64LocatorSize || r.u32(e - kEnd64LocatorSize) != kEnd64LocatorSig)
      r.bad("the zip64 end-of-central-directory locator is missing");
    const uint64_t at = r.u64(e - kEnd64LocatorSize + 8);
    r.need(at, kEnd64Size, "zip64 end-of-central-directory record");
    if (r.u32(at) != kEnd64Sig) r.bad("the zip64 end-of-central-directory record is missing");
    d = {r.u64(at + 32), r.u64(at + 48), r.u64(at + 40)};
  }
  if (d.entries > kMaxZipEntries) r.bad(fmt::format("{} entries (at most {} accepted)", d.entries, kMaxZipEntries));
  r.need(d.offset, d.size, "central directory");
  if (d.entries > d.size / kCentralSize) r.bad(fmt::format("{} entries do not fit a {} byte central directory", d.entries, d.size));
  return d;
}

}  // namespace

std::vector<ZipEntry> read_stored_zip(std::span<const uint8_t> file, const std::string& source) {
  const Reader r{file, source};
  const Directory d = find_directory(r);
  std::vector<ZipEntry> out;
  out.reserve(d.entries);
  std::set<std::string> seen;
  uint64_t p = d.offset;
  const uint64_t dir_end = d.offset + d.size;
  for (uint64_t i = 0; i < d.entries; ++i) {
    if (p + kCentralSize > dir_end) r.bad(fmt::format("central directory entry {} runs past the directory", i));
    if (r.u32(p) != kCentralSig) r.bad(fmt::format("central directory entry {} has a bad signature", i));
    const uint16_t flags = r.u16(p + 8), method = r.u16(p + 10);
    uint64_t comp = r.u32(p + 20), size = r.u32(p + 24);
    const uint64_t name_len = r.u16(p + 28), extra_len = r.u16(p + 30), comment_len = r.u16(p + 32);
    uint64_t local = r.u32(p + 42);
    const uint64_t var = p + kCentralSize;
    if (var + name_len + extra_len + comment_len > dir_end)
      r.bad(fmt::format("central directory entry {} runs past the directory", i));
    ZipEntry ent;
    ent.name.assign(reinterpret_cast<const char*>(file.data() + var), name_len);
    // zip64 extra field: the 64-bit values, in this order, of the fields stored as all-ones.
    for (uint64_t x = var + name_len, xe = x + extra_len; x + 4 <= xe;) {
      const uint16_t id = r.u16(x), len = r.u16(x + 2);
      if (x + 4 + len > xe) r.bad(fmt::format("entry '{}' has a truncated extra field", ent.name));
      if (id == 0x0001) {
        uint64_t q = x + 4;
        auto take = [&](uint64_t& field) {
          if (q + 8 > x + 4 + len) r.bad(fmt::format("entry '{}' has a short zip64 extra field", ent.name));
          field = r.u64(q);
          q += 8;
        };
        if (size == 0xFFFFFFFF) take(size);
        if (comp == 0xFFFFFFFF) take(comp);
        if (local == 0xFFFFFFFF) take(local);
      }
      x += 4 + len;
    }
    p = var + name_len + extra_len + comment_len;

    if (flags & 0x1) r.bad(fmt::format("entry '{}' is encrypted", ent.name));
    if (method != 0)
      fail("{}: entry '{}' is compressed (zip method {}); torch.save stores entries uncompressed and jenga maps "
           "them in place: re-save the checkpoint with torch.save, or unzip and re-zip it with -0",
           source, ent.name, method);
    if (comp != size) r.bad(fmt::format("stored entry '{}' has compressed size {} != size {}", ent.name, comp, size));
    // The data follows the local header's name and extra field, located on access; here it
    // must at least fit after a bare local header.
    r.need(local, kLocalSize, "local header");
    if (size > file.size() - local - kLocalSize)
      r.bad(fmt::format("entry '{}' of {} bytes runs past the end of the file", ent.name, size));
    ent.local_header = local;
    ent.size = size;
    if (!seen.insert(ent.name).second) r.bad(fmt::format("entry '{}' appears twice", ent.name));
    out.push_back(std::move(ent));
  }
  return out;
}

uint64_t zip_entry_data(std::span<const uint8_t> file, const ZipEntry& e, const std::string& source) {
  const Reader r{file, source};
  const uint64_t local = e.local_header;
  r.need(local, kLocalSize, "local header");
  if (r.u32(local) != kLocalSig) r.bad(fmt::format("entry '{}' has no local header at byte {}", e.name, local));
  const uint64_t lname = r.u16(local + 26), lextra = r.u16(local + 28);
  r.need(local + kLocalSize, lname + lextra, "local header");
  if (lname != e.name.size() || std::memcmp(file.data() + local + kLocalSize, e.name.data(), lname) != 0)
    r.bad(fmt::format("entry '{}' has a different name in its local header", e.name));
  const uint64_t data = local + kLocalSize + lname + lextra;
  r.need(data, e.size, fmt::format("data of entry '{}'", e.name).c_str());
  return data;
}

TorchZipLayout torch_zip_layout(std::span<const uint8_t> file, const std::vector<ZipEntry>& entries,
                                const std::string& source) {
  TorchZipLayout l;
  const ZipEntry* pickle = nullptr;
  for (const auto& e : entries) {
    const auto slash = e.name.find('/');
    if (slash == std::string::npos || e.name.compare(slash, std::string::npos, "/data.pkl") != 0) continue;
    if (pickle)
      fail("{}: holds two pickles ({} and {}); expected one torch.save checkpoint", source, pickle->name, e.name);
    pickle = &e;
  }
  if (!pickle)
    fail("{}: is a zip file but not a PyTorch checkpoint (no */data.pkl entry); pass a file written by torch.save",
         source);
  l.top = pickle->name.substr(0, pickle->name.find('/'));
  l.pickle = file.subspan(zip_entry_data(file, *pickle, source), pickle->size);
  const std::string data_dir = l.top + "/data/";
  auto text = [&](const ZipEntry& e) {
    const size_t n = std::min<uint64_t>(e.size, 64);
    std::string s(reinterpret_cast<const char*>(file.data() + zip_entry_data(file, e, source)), n);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
  };
  for (const auto& e : entries) {
    if (e.name.starts_with(data_dir) && e.name.size() > data_dir.size()) {
      ZipEntry s = e;
      s.name = e.name.substr(data_dir.size());
      l.storages.push_back(std::move(s));
    } else if (e.name == l.top + "/byteorder") {
      const std::string order = text(e);
      if (order == "big")
        fail("{}: was saved on a big-endian machine; jenga reads little-endian checkpoints only (re-save it on x86/ARM)",
             source);
      if (order != "little") fail("{}: byteorder record says '{}', expected 'little'", source, order);
    } else if (e.name == l.top + "/version") {
      const std::string v = text(e);
      int n = 0;
      bool ok = !v.empty() && v.size() <= 4;
      for (char c : v) ok = ok && c >= '0' && c <= '9', n = n * 10 + (c - '0');
      if (!ok) fail("{}: version record '{}' is not a number", source, v.substr(0, 16));
      l.version = n;
    }
  }
  return l;
}

}  // namespace jenga
