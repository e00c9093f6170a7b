#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "core/crash_report.h"
#include "core/temp_paths.h"

namespace {

// A crash names itself, prints a stack addr2line can resolve, removes the registered temp
// paths and still dies by its own signal.
TEST(CrashReport, SegfaultPrintsStackRemovesTempsAndKeepsTheSignal) {
  if (!jenga::crash_handler_supported()) GTEST_SKIP() << "AddressSanitizer reports crashes itself";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // Not per pid: the death test's child runs this body again and must name the same file.
  const auto dir = std::filesystem::temp_directory_path() / "jenga-crash-report-test";
  std::filesystem::create_directories(dir);
  const auto tmp = dir / "partial.mp4.tmp";
  std::ofstream(tmp) << "half";
  EXPECT_EXIT(
      {
        jenga::install_crash_handler();
        jenga::register_temp_path(tmp.string());
        std::raise(SIGSEGV);
      },
      testing::KilledBySignal(SIGSEGV), "internal crash \\(signal 11.*addr2line.*\n  #0 .* \\+0x[0-9a-f]+");
  EXPECT_FALSE(std::filesystem::exists(tmp)) << "the crash left its temp file";
  std::filesystem::remove_all(dir);
}

}  // namespace
