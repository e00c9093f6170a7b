// One short, library-free description of why a JSON text was refused, for our one-line errors.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace jenga {

// "near byte N" for a syntax error; "a number is out of range" for one that does not fit a
// double or int64 (nlohmann throws out_of_range, not parse_error, for that). Callers catch
// nlohmann::json::exception, the base of both, so no malformed file escapes as a crash.
inline std::string json_error_brief(const nlohmann::json::exception& e) {
  if (const auto* p = dynamic_cast<const nlohmann::json::parse_error*>(&e))
    return "near byte " + std::to_string(p->byte);
  if (dynamic_cast<const nlohmann::json::out_of_range*>(&e)) return "a number is out of range";
  return "malformed";
}

}  // namespace jenga
