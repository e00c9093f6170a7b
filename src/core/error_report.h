#pragma once
// What the exception in flight means to a user, as one line and how the run ends: the CLI's
// main and the C API (src/api) say the same thing for the same failure. Library exception text
// (JSON, filesystem, CLI internals) is mapped to what happened, never shown raw.
#include <string>

namespace jenga {

struct ErrorReport {
  enum class Kind { Usage, Runtime, Interrupted };
  Kind kind = Kind::Runtime;
  std::string message;  // one line, no "error: " prefix
  int signal = 0;       // Interrupted: the signal (SIGINT, SIGTERM)
  // The shell's convention: usage 2, runtime 1, a signal 128 + its number.
  int exit_code() const { return kind == Kind::Usage ? 2 : kind == Kind::Interrupted ? 128 + signal : 1; }
};

// Call inside a catch block only (it rethrows the exception in flight to look at it).
ErrorReport report_current_exception();

}  // namespace jenga
