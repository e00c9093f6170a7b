// MPI on the host. Counts go to MPI as int: a collective larger than 2^31 elements per peer
// fails with a clear message (such runs belong on NCCL).
#include "dist/mpi_communicator.h"

#include <climits>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.h"

#if JENGA_HAVE_MPI
// The C API only: OpenMPI's deprecated C++ bindings would need libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace jenga::dist {

#if !JENGA_HAVE_MPI

bool mpi_available() { return false; }
std::unique_ptr<Communicator> make_mpi_communicator() {
  fail("this build has no MPI (install libopenmpi-dev and rebuild with -DJENGA_WITH_MPI=ON)");
}

#else

namespace {

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  fail("MPI {} failed: {}", what, std::string(msg, static_cast<size_t>(len)));
}

MPI_Datatype mpi_type(DType t) {
  switch (t) {
    case DType::F32: return MPI_FLOAT;
    case DType::BF16:
    case DType::F16: return MPI_UINT16_T;
    case DType::I64: return MPI_INT64_T;
    case DType::I32: return MPI_INT32_T;
    case DType::U8:
    case DType::F8E4M3:
    case DType::F8E5M2: return MPI_UINT8_T;
  }
  fail("MPI: unsupported dtype");
}

int as_int(size_t n, const char* what) {
  if (n > static_cast<size_t>(INT_MAX))
    fail("MPI {}: {} elements exceed the 2^31 MPI count limit (use the NCCL communicator)", what, n);
  return static_cast<int>(n);
}

std::vector<int> ints(std::span<const size_t> v, const char* what) {
  std::vector<int> out;
  out.reserve(v.size());
  for (size_t x : v) out.push_back(as_int(x, what));
  return out;
}

void finalize_at_exit() {
  int done = 0;
  MPI_Finalized(&done);
  if (!done) MPI_Finalize();
}

void init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
      int provided = 0;
      check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "init");
      // Errors come back as codes: we turn them into jenga::Error with the MPI text.
      MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
      std::atexit(finalize_at_exit);
    }
  });
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    init_once();
    check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "comm_size");
    MPI_Comm node;
    check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node), "comm_split_type");
    check(MPI_Comm_rank(node, &local_rank_), "comm_rank (node)");
    MPI_Comm_free(&node);
  }
  std::string_view name() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }

  void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "barrier"); }
  [[noreturn]] void abort(int exit_code) override {
    MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::exit(exit_code);
  }
  void broadcast(void* buf, size_t count, DType dtype, int root) override {
    check(MPI_Bcast(buf, as_int(count, "broadcast"), mpi_type(dtype), root, MPI_COMM_WORLD), "broadcast");
  }
  void all_gather(const void* send, void* recv, size_t count, DType dtype) override {
    const int n = as_int(count, "all_gather");
    check(MPI_Allgather(send, n, mpi_type(dtype), recv, n, mpi_type(dtype), MPI_COMM_WORLD), "all_gather");
  }
  void all_gather_v(const void* send, void* recv, std::span<const size_t> counts, std::span<const size_t> displs,
                    DType dtype) override {
    check_sizes(counts.size(), displs.size(), "all_gather_v");
    const auto c = ints(counts, "all_gather_v"), d = ints(displs, "all_gather_v");
    check(MPI_Allgatherv(send, c[static_cast<size_t>(rank_)], mpi_type(dtype), recv, c.data(), d.data(), mpi_type(dtype),
                         MPI_COMM_WORLD),
          "all_gather_v");
  }
  void all_to_all(const void* send, void* recv, size_t count, DType dtype) override {
    const int n = as_int(count, "all_to_all");
    check(MPI_Alltoall(send, n, mpi_type(dtype), recv, n, mpi_type(dtype), MPI_COMM_WORLD), "all_to_all");
  }
  void all_to_all_v(const void* send, std::span<const size_t> sc, std::span<const size_t> sd, void* recv,
                    std::span<const size_t> rc, std::span<const size_t> rd, DType dtype) override {
    check_sizes(sc.size(), sd.size(), "all_to_all_v");
    check_sizes(rc.size(), rd.size(), "all_to_all_v");
    const auto a = ints(sc, "all_to_all_v"), b = ints(sd, "all_to_all_v");
    const auto c = ints(rc, "all_to_all_v"), d = ints(rd, "all_to_all_v");
    check(MPI_Alltoallv(send, a.data(), b.data(), mpi_type(dtype), recv, c.data(), d.data(), mpi_type(dtype),
                        MPI_COMM_WORLD),
          "all_to_all_v");
  }

 private:
  void check_sizes(size_t a, size_t b, const char* what) const {
    if (a != static_cast<size_t>(size_) || b != static_cast<size_t>(size_))
      fail("MPI {}: {} counts and {} displacements for {} ranks", what, a, b, size_);
  }
  int rank_ = 0, size_ = 1, local_rank_ = 0;
};

}  // namespace

bool mpi_available() { return true; }
std::unique_ptr<Communicator> make_mpi_communicator() { return std::make_unique<MpiCommunicator>(); }

#endif

}  // namespace jenga::dist
