#include "io/file_checks.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace jenga {

std::string file_kind(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return errno == ENOENT ? "missing" : std::strerror(errno);
  if (S_ISREG(st.st_mode)) return "regular file";
  if (S_ISDIR(st.st_mode)) return "folder";
  if (S_ISFIFO(st.st_mode)) return "FIFO (named pipe)";
  if (S_ISSOCK(st.st_mode)) return "socket";
  if (S_ISCHR(st.st_mode)) return "character device";
  if (S_ISBLK(st.st_mode)) return "block device";
  return "special file";
}

void require_regular_file(const std::string& path, const std::string& what) {
  const std::string prefix = what.empty() ? path : what + " " + path;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) fail("{}: no such file", prefix);
    fail("{}: cannot read ({})", prefix, std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode))
    fail("{}: is a {}, not a regular file; pass the weights file itself", prefix, file_kind(path));
}

}  // namespace jenga
