// GoogleTest main for the tests that run under `mpirun -np N` (ctest launches them so): MPI
// starts through the communicator factory, every rank runs every test, and only rank 0
// prints the results.
#include <gtest/gtest.h>

#include "dist/communicator.h"

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  auto comm = jenga::dist::make_communicator();  // MPI_Init when launched with several ranks
  if (comm->rank() != 0) {
    auto& listeners = testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  return RUN_ALL_TESTS();
}
