#include "models/wan/html_entities.h"

#include <algorithm>
#include <iterator>

namespace jenga::wan {
namespace {

struct Html5Entity {
  std::u32string_view name, value;
  bool legacy;
};
struct FtfyUpperEntity {
  std::u32string_view name, value;
};

#include "models/wan/html_entities_table.inc"

// The generator writes both tables sorted by name (code-point order), so lookups bisect.
template <typename Table>
auto find(const Table& table, std::u32string_view name) {
  auto it = std::lower_bound(std::begin(table), std::end(table), name,
                             [](const auto& e, std::u32string_view n) { return e.name < n; });
  return it != std::end(table) && it->name == name ? it : nullptr;
}

}  // namespace

std::optional<HtmlEntity> html_entity(std::u32string_view name) {
  const auto* e = find(kHtml5Entities, name);
  if (!e) return std::nullopt;
  return HtmlEntity{std::u32string(e->value), e->legacy};
}

std::optional<std::u32string> ftfy_upper_entity(std::u32string_view name) {
  const auto* e = find(kFtfyUpperEntities, name);
  if (!e) return std::nullopt;
  return std::u32string(e->value);
}

}  // namespace jenga::wan
