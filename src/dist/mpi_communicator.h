#pragma once
// The MPI communicator (host buffers). Built only with JENGA_HAVE_MPI; without it
// mpi_available() is false and make_mpi_communicator() throws.
#include <memory>

#include "dist/communicator.h"

namespace jenga::dist {

bool mpi_available();
// MPI_Init on first use (MPI_Finalize at exit), MPI_COMM_WORLD; local rank from
// MPI_Comm_split_type(SHARED). One MPI world per process: later calls share it.
std::unique_ptr<Communicator> make_mpi_communicator();

}  // namespace jenga::dist
