#include "io/json_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/file_checks.h"
#include "io/json_errors.h"

namespace jenga {

bool json_file_present(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return false;
    fail("{}: cannot read it ({})", path, std::strerror(errno));
  }
  if (::stat(path.c_str(), &st) != 0) fail("{}: a symbolic link to nothing; remove it or put the file there", path);
  if (!S_ISREG(st.st_mode)) {
    const std::string name = std::filesystem::path(path).filename().string();
    fail("{}: is a {}, not a JSON file; put the model's {} there or remove it", path, file_kind(path), name);
  }
  return true;
}

nlohmann::json read_json_file(const std::string& path) {
  if (!json_file_present(path)) fail("{}: no such file", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot read it ({})", path, std::strerror(errno));
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not valid JSON ({}); fix or delete it", path, json_error_brief(e));
  } catch (const std::ios_base::failure& e) {  // a read error (EIO) in the middle
    fail("{}: cannot read it ({})", path, e.code().message());
  }
}

std::optional<nlohmann::json> read_json_if_present(const std::string& path) {
  if (!json_file_present(path)) return std::nullopt;
  return read_json_file(path);
}

}  // namespace jenga
