#pragma once
// Strict UTF-8 validation (no overlongs, no surrogates, max U+10FFFF).
#include <cstddef>
#include <optional>
#include <string_view>

namespace jenga {
// Byte offset of the first invalid sequence, or nullopt when `s` is valid UTF-8.
std::optional<size_t> utf8_invalid_at(std::string_view s);
}  // namespace jenga
