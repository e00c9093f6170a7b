#pragma once
// Helpers shared by tests: temp folders and running the jenga binary.
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

namespace jenga::test {

// A fresh folder under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("jenga-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// prefix: what goes before the binary (environment, a launcher such as mpirun).
inline RunResult run_jenga_with_prefix(const std::string& prefix, const std::string& args) {
  RunResult r;
  const std::string cmd = prefix + std::string(JENGA_BIN) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline RunResult run_jenga(const std::string& args) { return run_jenga_with_prefix("", args); }

}  // namespace jenga::test
