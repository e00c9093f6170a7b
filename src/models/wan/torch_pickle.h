#pragma once
// jenga reads safetensors only; the published Wan .pth files (a zip holding a pickle) are named
// as such with the one-time conversion to run, instead of failing as a corrupt safetensors file.
#include <string>

namespace jenga::wan {

// Throws an Error if `path` is a regular file in PyTorch's zip or legacy pickle format.
void reject_torch_pickle(const std::string& path);

}  // namespace jenga::wan
