#pragma once
// The NCCL communicator: device buffers, every collective enqueued on `stream` (a
// cudaStream_t), no host synchronisation. Bootstrap through the host communicator: rank 0
// makes the ncclUniqueId and broadcasts it. The device must already be current (one process
// per GPU: the caller picks it from the local rank). Built only with JENGA_HAVE_NCCL.
#include <memory>

#include "dist/communicator.h"

namespace jenga::dist {

bool nccl_available();
// host: the MPI (or single) communicator of the same processes; stream: cudaStream_t, may be
// changed later with set_nccl_stream.
std::unique_ptr<Communicator> make_nccl_communicator(Communicator& host, void* stream);
void set_nccl_stream(Communicator& nccl, void* stream);

}  // namespace jenga::dist
