#include "core/temp_paths.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>

namespace jenga {
namespace {

constexpr int kSlots = 16;
constexpr size_t kMaxPath = 4096;
char g_paths[kSlots][kMaxPath];
std::atomic<bool> g_used[kSlots];

struct LinuxDirent64 {
  ino64_t d_ino;
  off64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

// Removes everything under the open folder `dir` (depth-limited), syscalls only.
void remove_tree_at(int dir, int depth) {
  if (depth > 16) return;
  char buf[4096];
  for (;;) {
    const long n = ::syscall(SYS_getdents64, dir, buf, sizeof buf);
    if (n <= 0) return;
    bool removed = false;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<LinuxDirent64*>(buf + off);
      off += d->d_reclen;
      if (!std::strcmp(d->d_name, ".") || !std::strcmp(d->d_name, "..")) continue;
      if (::unlinkat(dir, d->d_name, 0) == 0) {
        removed = true;
        continue;
      }
      const int sub = ::openat(dir, d->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0) {
        remove_tree_at(sub, depth + 1);
        ::close(sub);
      }
      if (::unlinkat(dir, d->d_name, AT_REMOVEDIR) == 0) removed = true;
    }
    // Entries moved under us: read the folder again from the start.
    if (removed) ::lseek(dir, 0, SEEK_SET);
  }
}

void remove_path_signal_safe(const char* path) {
  if (::unlink(path) == 0) return;
  const int fd = ::open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) {
    remove_tree_at(fd, 0);
    ::close(fd);
  }
  ::rmdir(path);
}

}  // namespace

void register_temp_path(const std::string& path) {
  if (path.empty() || path.size() >= kMaxPath) return;
  for (int i = 0; i < kSlots; ++i) {
    if (g_used[i].load()) continue;
    std::memcpy(g_paths[i], path.c_str(), path.size() + 1);
    g_used[i].store(true);
    return;
  }
}

void unregister_temp_path(const std::string& path) {
  for (int i = 0; i < kSlots; ++i)
    if (g_used[i].load() && path == g_paths[i]) g_used[i].store(false);
}

void remove_temp_paths_signal_safe() {
  for (int i = 0; i < kSlots; ++i)
    if (g_used[i].load()) remove_path_signal_safe(g_paths[i]);
}

TempPath::TempPath(std::string path) : path_(std::move(path)) { register_temp_path(path_); }

TempPath::~TempPath() {
  if (path_.empty()) return;
  unregister_temp_path(path_);
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void TempPath::release() {
  unregister_temp_path(path_);
  path_.clear();
}

}  // namespace jenga
