#pragma once
// SHA-256 (FIPS 180-4) of a file, as lowercase hex: the sidecar's record of an input file.
#include <cstddef>
#include <cstdint>
#include <string>

namespace jenga {

// Hex digest of `size` bytes.
std::string sha256_hex(const uint8_t* data, size_t size);
// Hex digest of a whole file, read in chunks; Error when it cannot be read.
std::string sha256_file_hex(const std::string& path);

}  // namespace jenga
