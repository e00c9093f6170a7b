// `jenga bench load PATH`: how fast a checkpoint opens and how fast every tensor's bytes can be
// read, for comparing the same weights as safetensors and as a torch .pt. --cold first drops the
// files from the page cache (posix_fadvise DONTNEED: no root needed), so the disk is measured.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "core/error.h"
#include "io/safetensors.h"
#include "jenga/version.h"

namespace jenga::cli {
namespace {

struct BenchLoadOptions {
  std::string path;
  bool cold = false;
  bool json = false;
};

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void drop_from_page_cache(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return;
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

void run_bench_load(const BenchLoadOptions& o) {
  std::error_code ec;
  if (o.path.empty()) usage_fail("bench load '': an empty path; give a checkpoint file or folder");
  if (!std::filesystem::exists(o.path, ec)) fail("{}: no such file or folder", o.path);
  if (o.cold) {
    if (std::filesystem::is_directory(o.path, ec)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(o.path))
        if (e.is_regular_file()) drop_from_page_cache(e.path().string());
    } else {
      drop_from_page_cache(o.path);
    }
  }
  const double t0 = now_s();
  const Checkpoint ck = Checkpoint::open(o.path);
  const double t1 = now_s();
  // Every tensor as stored (zero-copy when contiguous), one byte read per 4 KiB page and the last.
  uint64_t bytes = 0, sum = 0;
  for (const auto& n : ck.names()) {
    const TensorBytes b = ck.bytes(n);
    for (size_t i = 0; i < b.bytes.size(); i += 4096) sum += b.bytes[i];
    if (!b.bytes.empty()) sum += b.bytes.back();
    bytes += b.bytes.size();
  }
  const double t2 = now_s();
  volatile uint64_t sink = sum;
  (void)sink;
  const double gib = bytes / 1073741824.0;
  const std::string format = ck.files().empty() ? "" : ck.files()[0]->format();
  if (o.json) {
    std::printf("{\"path\": \"%s\", \"format\": \"%s\", \"tensors\": %zu, \"gib\": %.3f, \"open_ms\": %.2f, "
                "\"read_s\": %.3f, \"gib_per_s\": %.3f, \"cold\": %s, \"commit\": \"%s\"}\n",
                o.path.c_str(), format.c_str(), ck.names().size(), gib, (t1 - t0) * 1e3, t2 - t1, gib / (t2 - t1),
                o.cold ? "true" : "false", JENGA_GIT_COMMIT);
    return;
  }
  std::printf("| file | format | tensors | GiB | open ms | read s | GiB/s | cache | commit |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  std::printf("| %s | %s | %zu | %.3f | %.2f | %.3f | %.2f | %s | %s |\n", o.path.c_str(), format.c_str(),
              ck.names().size(), gib, (t1 - t0) * 1e3, t2 - t1, gib / (t2 - t1), o.cold ? "cold" : "warm",
              JENGA_GIT_COMMIT);
}

}  // namespace

void register_bench_load(CLI::App& bench) {
  auto o = std::make_shared<BenchLoadOptions>();
  auto* c = bench.add_subcommand("load", "Open a checkpoint and read every tensor (safetensors vs .pt/.pth)");
  c->add_option("path", o->path, "A checkpoint file or folder")->required();
  c->add_flag("--cold", o->cold, "Drop the files from the page cache first (measures the disk)");
  c->add_flag("--json", o->json, "One JSON object instead of a markdown table");
  c->callback([o] { run_bench_load(*o); });
}

}  // namespace jenga::cli
