#include <gtest/gtest.h>

#include "core/crash_report.h"

int main(int argc, char** argv) {
  jenga::install_crash_handler();  // a crash on the GPU machine prints its stack
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
