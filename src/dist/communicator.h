#pragma once
// Collective communication between the processes of one run (one process per GPU, or per CPU
// rank in tests). Three implementations: single process (trivial copies), MPI (host buffers,
// OpenMPI), NCCL (device buffers, enqueued on a CUDA stream, bootstrapped through MPI).
// Counts and displacements are in elements of `dtype` (f32 or bf16); a call is collective:
// every rank makes it, in the same order, with consistent counts.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "core/dtype.h"

namespace jenga::dist {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual std::string_view name() const = 0;  // single | mpi | nccl
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual int local_rank() const = 0;  // rank among the processes of this host (picks the GPU)
  // True when buffers are device pointers (the collectives are enqueued, not finished).
  virtual bool device_buffers() const { return false; }

  virtual void barrier() = 0;
  // Ends every process of the run with this exit status (after an error on one rank, whose
  // peers may be waiting in a collective). Single process: std::exit.
  [[noreturn]] virtual void abort(int exit_code);
  // buf: count elements; root's values everywhere.
  virtual void broadcast(void* buf, size_t count, DType dtype, int root) = 0;
  // recv: size() * count elements; rank r's `count` land at r * count.
  virtual void all_gather(const void* send, void* recv, size_t count, DType dtype) = 0;
  // Uneven: rank r contributes counts[r] elements, landing at displs[r] of recv.
  virtual void all_gather_v(const void* send, void* recv, std::span<const size_t> counts,
                            std::span<const size_t> displs, DType dtype) = 0;
  // send: size() chunks of `count`, chunk r goes to rank r; recv: chunk r came from rank r.
  virtual void all_to_all(const void* send, void* recv, size_t count, DType dtype) = 0;
  // Uneven: send_counts[r] elements from send + send_displs[r] go to rank r; recv_counts[r]
  // from rank r land at recv + recv_displs[r].
  virtual void all_to_all_v(const void* send, std::span<const size_t> send_counts,
                            std::span<const size_t> send_displs, void* recv,
                            std::span<const size_t> recv_counts, std::span<const size_t> recv_displs,
                            DType dtype) = 0;
};

// The trivial communicator of one process (rank 0 of 1, host buffers).
std::unique_ptr<Communicator> make_single_communicator();

// Launched under mpirun with more than one process (OMPI_COMM_WORLD_SIZE > 1, or
// PMI_SIZE / PMIX_SIZE): MPI (MPI_Init happens here); else single. Throws jenga::Error when
// launched with several processes by a build without MPI.
std::unique_ptr<Communicator> make_communicator();

// World size the launcher announced in the environment (1 when not launched by mpirun).
int launcher_world_size();
// True when started by mpirun / an MPI launcher (even with one process).
bool launched_by_mpi();

// Contiguous split of n items over `parts` ranks: the first n % parts ranks take one more.
struct Split {
  std::vector<int64_t> count, offset;  // [parts]
  int64_t total = 0;
};
Split split_even(int64_t n, int parts);
// Same, with every shard but the last a multiple of `align` items (whole units of `align`
// split evenly; a rank may get none when n is small).
Split split_aligned(int64_t n, int parts, int64_t align);

// Host helpers over the element-count API.
void broadcast_floats(Communicator& comm, std::vector<float>& v, int root);

}  // namespace jenga::dist
