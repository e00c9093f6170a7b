#pragma once
// A subset of the HTML5 named character references (see text_clean.h for what is covered).
#include <optional>
#include <string>
#include <string_view>

namespace jenga::wan {

struct HtmlEntity {
  std::u32string value;
  bool legacy = false;  // also recognised without the trailing ';' (Python's html5 table)
};

// `name` without '&' and ';'.
std::optional<HtmlEntity> html_entity(std::u32string_view name);

}  // namespace jenga::wan
