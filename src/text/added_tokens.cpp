#include "text/added_tokens.h"

#include <algorithm>

namespace jenga::text {

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  std::erase_if(tokens_, [](const AddedToken& t) { return t.content.empty(); });
  std::stable_sort(tokens_.begin(), tokens_.end(),
                   [](const AddedToken& a, const AddedToken& b) { return a.content.size() > b.content.size(); });
}

namespace {
bool ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
}  // namespace

std::vector<TextPiece> AddedTokenMatcher::split(std::string_view text) const {
  std::vector<TextPiece> out;
  size_t plain = 0, i = 0;
  while (i < text.size()) {
    const AddedToken* hit = nullptr;
    for (const auto& t : tokens_)
      if (text.compare(i, t.content.size(), t.content) == 0) {
        hit = &t;  // longest first
        break;
      }
    if (!hit) {
      ++i;
      continue;
    }
    size_t b = i, e = i + hit->content.size();
    if (hit->lstrip)
      while (b > plain && ascii_space(text[b - 1])) --b;
    if (hit->rstrip)
      while (e < text.size() && ascii_space(text[e])) ++e;
    if (b > plain) out.push_back({text.substr(plain, b - plain), -1});
    out.push_back({text.substr(b, e - b), hit->id});
    plain = i = e;
  }
  if (plain < text.size()) out.push_back({text.substr(plain), -1});
  return out;
}

}  // namespace jenga::text
