#pragma once
// Temp files and folders the process must not leave behind, on any exit it can catch: RAII
// removes them on a normal return or an exception, and the second Ctrl-C/SIGTERM (which ends
// the process at once) removes them from the signal handler with async-signal-safe calls only
// (fixed slots, no allocation; folders by open/getdents64/unlinkat).
#include <string>

namespace jenga {

// Registers `path` (at most 16 at a time, 4095 bytes each; more are still removed by RAII).
void register_temp_path(const std::string& path);
void unregister_temp_path(const std::string& path);
// From a signal handler: removes every registered path (recursively). Async-signal-safe.
void remove_temp_paths_signal_safe();

// Owns a temp path: registered while alive, removed (recursively) when it dies unless released.
class TempPath {
 public:
  TempPath() = default;
  explicit TempPath(std::string path);
  TempPath(const TempPath&) = delete;
  TempPath& operator=(const TempPath&) = delete;
  ~TempPath();
  const std::string& path() const { return path_; }
  void release();  // the path was moved into place: keep it

 private:
  std::string path_;
};

}  // namespace jenga
