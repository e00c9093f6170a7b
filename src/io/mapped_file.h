#pragma once
// A whole file mapped read-only, for readers that hand out zero-copy spans into it.
#include <memory>
#include <string>

#include "core/tensor.h"

namespace jenga {

// Maps `path` (a CPU Buffer; empty for an empty file). Throws a one-line Error when the path
// is missing, not a regular file (a folder, a FIFO: checked without blocking on it) or
// cannot be mapped.
std::shared_ptr<Buffer> map_file(const std::string& path);

}  // namespace jenga
