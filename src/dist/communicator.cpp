#include "dist/communicator.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/error.h"
#include "dist/mpi_communicator.h"

namespace jenga::dist {

void Communicator::abort(int exit_code) { std::exit(exit_code); }

namespace {

class SingleCommunicator final : public Communicator {
 public:
  std::string_view name() const override { return "single"; }
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  void barrier() override {}
  void broadcast(void*, size_t, DType, int root) override { check_root(root); }
  void all_gather(const void* send, void* recv, size_t count, DType dtype) override {
    copy(send, recv, count, dtype);
  }
  void all_gather_v(const void* send, void* recv, std::span<const size_t> counts, std::span<const size_t> displs,
                    DType dtype) override {
    copy(send, static_cast<char*>(recv) + displs[0] * dtype_size(dtype), counts[0], dtype);
  }
  void all_to_all(const void* send, void* recv, size_t count, DType dtype) override { copy(send, recv, count, dtype); }
  void all_to_all_v(const void* send, std::span<const size_t> sc, std::span<const size_t> sd, void* recv,
                    std::span<const size_t> rc, std::span<const size_t> rd, DType dtype) override {
    if (sc[0] != rc[0]) fail("all_to_all_v: sends {} elements to itself but expects {}", sc[0], rc[0]);
    copy(static_cast<const char*>(send) + sd[0] * dtype_size(dtype),
         static_cast<char*>(recv) + rd[0] * dtype_size(dtype), sc[0], dtype);
  }

 private:
  static void check_root(int root) {
    if (root != 0) fail("broadcast: root {} but the world has one rank", root);
  }
  static void copy(const void* src, void* dst, size_t count, DType dtype) {
    if (src != dst && count) std::memmove(dst, src, count * dtype_size(dtype));
  }
};

int env_int(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : 0;
}

}  // namespace

std::unique_ptr<Communicator> make_single_communicator() { return std::make_unique<SingleCommunicator>(); }

int launcher_world_size() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE"})
    if (const int n = env_int(v); n > 0) return n;
  return 1;
}

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE"})
    if (env_int(v) > 0) return true;
  return false;
}

std::unique_ptr<Communicator> make_communicator() {
  const int n = launcher_world_size();
  if (n <= 1) return make_single_communicator();
  if (!mpi_available())
    fail("launched with {} processes, but this build has no MPI (install libopenmpi-dev and rebuild, or run one process)", n);
  return make_mpi_communicator();
}

Split split_even(int64_t n, int parts) {
  if (parts < 1) fail("split: {} parts", parts);
  Split s;
  s.total = n;
  s.count.resize(static_cast<size_t>(parts));
  s.offset.resize(static_cast<size_t>(parts));
  int64_t at = 0;
  for (int r = 0; r < parts; ++r) {
    s.count[r] = n / parts + (r < n % parts ? 1 : 0);
    s.offset[r] = at;
    at += s.count[r];
  }
  return s;
}

Split split_aligned(int64_t n, int parts, int64_t align) {
  if (align < 1) fail("split: alignment {}", align);
  const Split units = split_even((n + align - 1) / align, parts);
  Split s;
  s.total = n;
  for (int r = 0; r < parts; ++r) {
    const int64_t at = std::min(n, units.offset[r] * align);
    s.offset.push_back(at);
    s.count.push_back(std::min(n, (units.offset[r] + units.count[r]) * align) - at);
  }
  return s;
}

void broadcast_floats(Communicator& comm, std::vector<float>& v, int root) {
  int64_t n = static_cast<int64_t>(v.size());
  comm.broadcast(&n, 1, DType::I64, root);
  v.resize(static_cast<size_t>(n));
  comm.broadcast(v.data(), v.size(), DType::F32, root);
}

}  // namespace jenga::dist

#if !JENGA_HAVE_NCCL
#include "dist/nccl_communicator.h"

namespace jenga::dist {
// Builds without NCCL: the GPU path reports what is missing.
bool nccl_available() { return false; }
std::unique_ptr<Communicator> make_nccl_communicator(Communicator&, void*) {
  fail("this build has no NCCL (needs CUDA, MPI and libnccl; rebuild with them) for multi-GPU runs");
}
void set_nccl_stream(Communicator&, void*) { fail("this build has no NCCL"); }
}  // namespace jenga::dist
#endif
