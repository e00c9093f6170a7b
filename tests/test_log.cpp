#include <gtest/gtest.h>

#include "core/error.h"
#include "core/log.h"

using namespace jenga;

TEST(Log, LevelsParseAndFilter) {
  EXPECT_EQ(log::parse_level("debug"), log::Level::Debug);
  EXPECT_EQ(log::parse_level("off"), log::Level::Off);
  EXPECT_THROW(log::parse_level("loud"), UsageError);
  const auto old = log::level();
  log::set_level(log::Level::Warn);
  testing::internal::CaptureStderr();
  log::info("hidden {}", 1);
  log::warn("shown {}", 2);
  const std::string out = testing::internal::GetCapturedStderr();
  log::set_level(old);
  EXPECT_EQ(out, "warn: shown 2\n");
}

TEST(Errors, FailFormatsOneLine) {
  try {
    fail("file {} has {} tensors", "a.safetensors", 3);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "file a.safetensors has 3 tensors");
  }
  EXPECT_THROW(usage_fail("bad flag {}", "--x"), UsageError);
}
