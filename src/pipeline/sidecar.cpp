#include "pipeline/sidecar.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <vector>

#include "core/error.h"

namespace jenga {
namespace fs = std::filesystem;

namespace {
std::string iso_utc(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return b;
}

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") ==
                        std::string::npos)
    return s;
  std::string r = "'";
  for (char c : s) r += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return r + "'";
}

struct Fnv {
  uint64_t h = 1469598103934665603ull;
  void mix(uint8_t b) { h = (h ^ b) * 1099511628211ull; }
  void mix64(uint64_t v) {
    for (int i = 0; i < 8; ++i) mix(static_cast<uint8_t>(v >> (8 * i)));
  }
};

// Size and first MiB of one regular file into the hash; returns its size.
uint64_t fold_file(Fnv& f, const fs::path& p) {
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return 0;
  const uint64_t size = fs::file_size(p, ec);
  f.mix64(size);
  std::ifstream in(p, std::ios::binary);
  std::vector<char> buf(1 << 20);
  in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
  for (std::streamsize i = 0; i < in.gcount(); ++i) f.mix(static_cast<uint8_t>(buf[i]));
  return size;
}

std::vector<fs::path> index_shards(const fs::path& index) {
  std::set<std::string> names;
  try {
    std::ifstream in(index);
    const auto j = nlohmann::json::parse(in);
    for (const auto& [k, v] : j.at("weight_map").items())
      if (v.is_string()) names.insert(v.get<std::string>());
  } catch (const std::exception&) {
  }
  std::vector<fs::path> out;
  for (const auto& n : names) out.push_back(index.parent_path() / n);
  return out;
}
}  // namespace

nlohmann::json run_record(const std::string& gpu_name) {
  std::string cmd;
  {
    std::ifstream in("/proc/self/cmdline", std::ios::binary);
    std::string arg;
    while (std::getline(in, arg, '\0')) cmd += (cmd.empty() ? "" : " ") + shell_quote(arg);
  }
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = 0;
  const std::string gpu = gpu_name.empty() ? "none" : gpu_name;
  return {{"date", iso_utc(std::time(nullptr))}, {"command_line", cmd}, {"host", host}, {"gpu", gpu}};
}

nlohmann::json file_record(const std::string& path) {
  std::error_code ec;
  const fs::path p = fs::absolute(path, ec).lexically_normal();
  Fnv f;
  uint64_t bytes = 0;
  std::vector<fs::path> files;
  if (fs::is_directory(p, ec)) {
    for (const auto& e : fs::directory_iterator(p, ec))
      if (e.is_regular_file(ec)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
  } else if (p.string().ends_with(".index.json")) {
    files = index_shards(p);
    files.insert(files.begin(), p);
  } else {
    files.push_back(p);
  }
  for (const auto& file : files) bytes += fold_file(f, file);
  nlohmann::json j = {{"path", p.string()}, {"bytes", bytes}, {"fingerprint", fmt::format("fnv1a64:{:016x}", f.h)}};
  struct stat st {};
  if (::stat(p.c_str(), &st) == 0) j["mtime"] = iso_utc(st.st_mtime);
  return j;
}

}  // namespace jenga
