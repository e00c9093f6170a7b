// A model's JSON side file (config.json, preprocessor_config.json, ...) read for our one-line
// errors. Something at the path that is not a regular file (a folder, a FIFO: opening one
// blocks until a writer comes) is named, never opened and never taken as "no config" (that
// leads to a later error about shapes that hides the cause); a parse error is named by byte
// offset, without the JSON library's text.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace jenga {

// false when nothing is at `path`, true for a regular file; an Error for anything else there.
bool json_file_present(const std::string& path);

// The parsed file; an Error when it is missing, not a regular file or not valid JSON.
nlohmann::json read_json_file(const std::string& path);

// nullopt when nothing is at `path`; else read_json_file.
std::optional<nlohmann::json> read_json_if_present(const std::string& path);

}  // namespace jenga
