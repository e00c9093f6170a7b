#include "models/hunyuan/tokenizer_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "io/json_errors.h"
#include "io/utf8.h"
#include "models/wan/text_clean.h"

namespace fs = std::filesystem;

namespace jenga::hunyuan {

std::string read_tokenizer_file(const std::string& path) {
  std::error_code ec;
  const auto st = fs::status(path, ec);
  if (ec || !fs::exists(st)) fail("{}: no such file; pass the tokenizer folder of the model", path);
  if (!fs::is_regular_file(st)) fail("{}: is not a regular file; pass the tokenizer folder of the model", path);
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("{}: cannot be read", path);
  std::ostringstream s;
  s << f.rdbuf();
  if (!f && !f.eof()) fail("{}: read error", path);
  return s.str();
}

nlohmann::json read_tokenizer_json(const std::string& path) {
  const std::string text = read_tokenizer_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: is not valid JSON ({}); the file is damaged, download it again", path, json_error_brief(e));
  }
}

std::optional<std::string> configured_special_token(const std::string& dir, const std::string& key) {
  for (const char* name : {"tokenizer_config.json", "special_tokens_map.json"}) {
    const fs::path p = fs::path(dir) / name;
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) continue;
    const auto j = read_tokenizer_json(p.string());
    if (!j.is_object() || !j.contains(key)) continue;
    const auto& v = j[key];
    if (v.is_string()) return v.get<std::string>();
    if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  }
  return std::nullopt;
}

namespace {

TokenizerKind kind_here(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_regular_file(dir / "vocab.json", ec) && fs::is_regular_file(dir / "merges.txt", ec)) return TokenizerKind::Clip;
  if (!fs::is_regular_file(dir / "tokenizer.json", ec)) return TokenizerKind::None;
  const auto j = read_tokenizer_json((dir / "tokenizer.json").string());
  const auto& m = j.contains("model") ? j["model"] : nlohmann::json();
  if (m.is_object() && m.contains("end_of_word_suffix") && m["end_of_word_suffix"].is_string() &&
      m["end_of_word_suffix"].get<std::string>() == "</w>")
    return TokenizerKind::Clip;
  return TokenizerKind::Llama;
}

}  // namespace

TokenizerKind detect_tokenizer(const std::string& path) {
  std::error_code ec;
  const fs::path p(path);
  if (fs::is_regular_file(p, ec)) {
    if (p.filename() == "tokenizer.json") return kind_here(p.parent_path());
    if (p.filename() == "vocab.json" || p.filename() == "merges.txt") return TokenizerKind::Clip;
    return TokenizerKind::None;
  }
  if (!fs::is_directory(p, ec)) return TokenizerKind::None;
  return kind_here(p);
}

std::string valid_utf8(std::string_view text) {
  if (!utf8_invalid_at(text)) return std::string(text);
  return wan::u32_to_utf8(wan::utf8_to_u32(text));
}

}  // namespace jenga::hunyuan
