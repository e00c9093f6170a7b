#include "models/wan/torch_pickle.h"

#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace jenga::wan {

void reject_torch_pickle(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return;
  std::ifstream f(path, std::ios::binary);
  unsigned char m[4] = {};
  f.read(reinterpret_cast<char*>(m), 4);
  const bool zip = f.gcount() == 4 && m[0] == 'P' && m[1] == 'K' && m[2] == 3 && m[3] == 4;
  const bool pickle = f.gcount() >= 2 && m[0] == 0x80 && m[1] >= 2 && m[1] <= 5;  // PROTO opcode
  if (zip || pickle)
    fail("{} is a PyTorch .pth checkpoint (zip/pickle), which jenga does not read; convert it once with "
         "tools/convert_pth_to_safetensors.py {} OUT.safetensors",
         path, path);
}

}  // namespace jenga::wan
