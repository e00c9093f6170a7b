#include "core/error_report.h"

#include <filesystem>
#include <new>
#include <typeinfo>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error_types.h"
#include "core/interrupt.h"

namespace jenga {

ErrorReport report_current_exception() {
  using Kind = ErrorReport::Kind;
  ErrorReport r;
  try {
    throw;
  } catch (const Interrupted& e) {
    r = {Kind::Interrupted, e.what(), e.signal()};
  } catch (const UsageError& e) {
    r = {Kind::Usage, e.what()};
  } catch (const Error& e) {
    r = {Kind::Runtime, e.what()};
  } catch (const std::bad_alloc&) {
    r = {Kind::Runtime, "out of host memory; try a smaller --size, fewer --frames, or --offload on a GPU"};
  } catch (const std::filesystem::filesystem_error& e) {
    r = {Kind::Runtime, fmt::format("{}{}: {}", e.path1().string(), e.path2().empty() ? "" : " -> " + e.path2().string(),
                                    e.code().message())};
  } catch (const nlohmann::json::exception&) {
    r = {Kind::Runtime,
         "a JSON document could not be read or written (a config.json, index or sidecar is malformed, or a text holds "
         "invalid UTF-8); check the files named on the command line"};
  } catch (const std::exception& e) {
    r = {Kind::Runtime, fmt::format("internal error ({}); please report it with the command line", typeid(e).name())};
  } catch (...) {
    r = {Kind::Runtime, "internal error (an unknown exception); please report it with the command line"};
  }
  for (char& ch : r.message)
    if (ch == '\n' || ch == '\r') ch = ' ';
  return r;
}

}  // namespace jenga
