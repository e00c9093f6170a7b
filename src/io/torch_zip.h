#pragma once
// The zip container of a PyTorch checkpoint (torch.save since 1.6): a central directory of
// STORED entries (torch never compresses them and pads each to 64 bytes), read in place so
// that tensor data stays a span into the caller's mmap. Written by hand rather than through
// libzip: libzip hands out decompressed copies and has no way to ask where an entry's bytes
// lie in the file, which zero-copy mapping needs; a stored-only reader is the EOCD, the zip64
// records and two fixed headers. fuzz/torch_pickle_fuzz.cpp feeds it arbitrary bytes.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace jenga {

struct ZipEntry {
  std::string name;
  uint64_t local_header = 0;  // where the entry's local header starts
  uint64_t size = 0;
};

// Most entries we accept: a checkpoint has one per storage plus a handful of records.
constexpr uint64_t kMaxZipEntries = 1'000'000;

// Every entry of the archive `file`, in central-directory order, read from the central
// directory alone (at the end of the file: opening a checkpoint does not seek to every entry).
// Throws jenga::Error naming `source` when the archive is truncated or corrupt, or an entry is
// compressed, encrypted or cannot fit the file; never reads outside `file`.
std::vector<ZipEntry> read_stored_zip(std::span<const uint8_t> file, const std::string& source);

// Where `e`'s bytes start, from its local header (which lies just before them: reading it costs
// no extra seek when the data is read next). Throws if the header is corrupt or the data runs
// past the end of the file.
uint64_t zip_entry_data(std::span<const uint8_t> file, const ZipEntry& e, const std::string& source);

// The parts of a torch zip checkpoint: `<top>/data.pkl`, `<top>/data/<key>`, `<top>/byteorder`,
// `<top>/version`, where <top> is "archive" or the file's stem, depending on the torch version.
struct TorchZipLayout {
  std::string top;                   // the top folder's name
  std::span<const uint8_t> pickle;   // the bytes of <top>/data.pkl
  std::vector<ZipEntry> storages;    // <top>/data/<key>, name = key (data not yet located)
  std::optional<int> version;        // <top>/version when present
};

// Finds the layout among `entries`; throws if there is no single */data.pkl or the byte order
// is big-endian.
TorchZipLayout torch_zip_layout(std::span<const uint8_t> file, const std::vector<ZipEntry>& entries,
                                const std::string& source);

}  // namespace jenga
