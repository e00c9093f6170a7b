#pragma once
// The exception types alone, with no fmt dependency (safe to include from .cu files).
#include <stdexcept>
#include <string>

namespace jenga {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

class UsageError : public Error {
 public:
  explicit UsageError(const std::string& msg) : Error(msg) {}
};

}  // namespace jenga
