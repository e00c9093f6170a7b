#pragma once
// jenga::Error carries a one-line message that names the problem and what to do about it.
// UsageError is a bad flag or argument (CLI exit code 2); Error is everything else (exit 1).
// CUDA translation units include only core/error_types.h (nvcc cannot compile fmt).
#include <fmt/format.h>

#include "core/error_types.h"

namespace jenga {

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
[[noreturn]] void usage_fail(fmt::format_string<Args...> f, Args&&... args) {
  throw UsageError(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace jenga

// Internal invariant check: a failure here is a bug in jenga, not bad user input.
#define JENGA_ASSERT(cond)                                                                    \
  do {                                                                                         \
    if (!(cond))                                                                               \
      throw ::jenga::Error(::fmt::format("internal error: {} failed at {}:{} (please report)", \
                                         #cond, __FILE__, __LINE__));                          \
  } while (0)
