#include "models/hunyuan/llama_tokenizer.h"

#include <filesystem>

#include "core/error.h"
#include "models/hunyuan/tokenizer_files.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace jenga::hunyuan {

namespace {

std::string str_or(const json& j, const char* key, const std::string& dflt) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : dflt;
}
bool bool_or(const json& j, const char* key, bool dflt) {
  return j.is_object() && j.contains(key) && j[key].is_boolean() ? j[key].get<bool>() : dflt;
}

// Pre-tokenizer: Split(Regex, Isolated) pieces followed by ByteLevel(use_regex=false); a lone
// ByteLevel(use_regex=true) means GPT-2's own split regex.
void read_pre_tokenizer(const json& pt, const std::string& file, std::vector<text::RegexSplitter>& splits) {
  static const std::string kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
  std::vector<json> parts;
  if (pt.is_object() && str_or(pt, "type", "") == "Sequence" && pt.contains("pretokenizers"))
    for (const auto& p : pt["pretokenizers"]) parts.push_back(p);
  else if (!pt.is_null())
    parts.push_back(pt);
  bool byte_level = false;
  for (const auto& p : parts) {
    const std::string type = str_or(p, "type", "");
    if (type == "Split") {
      const auto& pat = p.contains("pattern") ? p["pattern"] : json();
      if (!pat.is_object() || !pat.contains("Regex") || !pat["Regex"].is_string())
        fail("{}: Split pre-tokenizer without a Regex pattern is not supported", file);
      if (str_or(p, "behavior", "") != "Isolated" || bool_or(p, "invert", false))
        fail("{}: Split pre-tokenizer behaviour '{}' is not supported (only Isolated)", file, str_or(p, "behavior", "?"));
      splits.emplace_back(pat["Regex"].get<std::string>(), false, file);
    } else if (type == "ByteLevel") {
      if (bool_or(p, "add_prefix_space", false)) fail("{}: ByteLevel add_prefix_space is not supported", file);
      if (bool_or(p, "use_regex", true)) splits.emplace_back(kGpt2, false, file);
      byte_level = true;
    } else {
      fail("{}: pre-tokenizer '{}' is not supported (expected the Llama-3 Split + ByteLevel)", file, type);
    }
  }
  if (!byte_level) fail("{}: not a byte-level BPE tokenizer (no ByteLevel pre-tokenizer)", file);
}

// The special tokens the post-processor puts before and after the single sequence $A.
void read_post_processor(const json& pp, const std::string& file, const text::BytePairEncoder& bpe,
                         const std::vector<text::AddedToken>& added, std::vector<int64_t>& prefix,
                         std::vector<int64_t>& suffix) {
  std::vector<json> parts;
  if (pp.is_object() && str_or(pp, "type", "") == "Sequence" && pp.contains("processors"))
    for (const auto& p : pp["processors"]) parts.push_back(p);
  else if (!pp.is_null())
    parts.push_back(pp);
  for (const auto& p : parts) {
    const std::string type = str_or(p, "type", "");
    if (type == "ByteLevel") continue;  // offsets only
    if (type != "TemplateProcessing") fail("{}: post-processor '{}' is not supported", file, type);
    bool after = false;
    for (const auto& item : p.value("single", json::array())) {
      if (item.contains("Sequence")) {
        after = true;
        continue;
      }
      if (!item.contains("SpecialToken")) fail("{}: unexpected item in the post-processor template", file);
      const std::string name = item["SpecialToken"].value("id", "");
      std::vector<int64_t> ids;
      const auto& sp = p.value("special_tokens", json::object());
      if (sp.contains(name) && sp[name].contains("ids")) {
        ids = sp[name]["ids"].get<std::vector<int64_t>>();
      } else {
        std::optional<int64_t> id;
        for (const auto& a : added)
          if (a.content == name) id = a.id;
        if (!id) id = bpe.id(name);
        if (!id) fail("{}: post-processor token '{}' has no id", file, name);
        ids = {*id};
      }
      (after ? suffix : prefix).insert((after ? suffix : prefix).end(), ids.begin(), ids.end());
    }
  }
}

}  // namespace

LlamaTokenizer LlamaTokenizer::open(const std::string& path) {
  std::error_code ec;
  const fs::path file = fs::is_directory(path, ec) ? fs::path(path) / "tokenizer.json" : fs::path(path);
  if (fs::is_directory(path, ec) && !fs::exists(file, ec))
    fail("{}: has no tokenizer.json; pass the LLM tokenizer folder (the official text_encoder/ or diffusers tokenizer/)", path);
  const std::string fname = file.string();
  const json j = read_tokenizer_json(fname);
  if (!j.is_object() || !j.contains("model")) fail("{}: is not a HF tokenizers file (no \"model\")", fname);
  const json& m = j["model"];
  if (str_or(m, "type", "BPE") != "BPE") fail("{}: model type '{}' is not BPE", fname, str_or(m, "type", ""));
  if (bool_or(m, "byte_fallback", false)) fail("{}: BPE byte_fallback is not supported", fname);
  if (!str_or(m, "continuing_subword_prefix", "").empty()) fail("{}: BPE continuing_subword_prefix is not supported", fname);
  if (j.contains("normalizer") && !j["normalizer"].is_null())
    fail("{}: normalizer '{}' is not supported (Llama-3 has none)", fname, str_or(j["normalizer"], "type", "?"));
  if (!m.contains("vocab") || !m["vocab"].is_object() || !m.contains("merges") || !m["merges"].is_array())
    fail("{}: BPE model has no vocab/merges", fname);

  LlamaTokenizer t;
  t.path_ = fname;
  std::unordered_map<std::string, int64_t> vocab;
  vocab.reserve(m["vocab"].size());
  for (const auto& [k, v] : m["vocab"].items()) {
    if (!v.is_number_integer()) fail("{}: vocab entry '{}' is not an integer id", fname, k);
    vocab.emplace(k, v.get<int64_t>());
  }
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(m["merges"].size());
  for (const auto& e : m["merges"]) {
    if (e.is_string()) {  // "a b" (tokenizers < 0.20)
      const std::string s = e.get<std::string>();
      const size_t sp = s.find(' ', 1);
      if (sp == std::string::npos) fail("{}: merge '{}' is not two tokens", fname, s);
      merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {  // ["a", "b"]
      merges.emplace_back(e[0].get<std::string>(), e[1].get<std::string>());
    } else {
      fail("{}: a merge is neither \"a b\" nor [\"a\", \"b\"]", fname);
    }
  }
  t.bpe_ = text::BytePairEncoder(std::move(vocab), merges, str_or(m, "end_of_word_suffix", ""),
                                 bool_or(m, "ignore_merges", false), fname);
  if (m.contains("unk_token") && m["unk_token"].is_string()) t.bpe_.set_unk(t.bpe_.id(m["unk_token"].get<std::string>()));

  std::vector<text::AddedToken> added;
  for (const auto& a : j.value("added_tokens", json::array())) {
    if (bool_or(a, "single_word", false))
      fail("{}: added token '{}' is single_word, which is not supported", fname, str_or(a, "content", ""));
    added.push_back({str_or(a, "content", ""), a.value("id", int64_t{-1}), bool_or(a, "lstrip", false),
                     bool_or(a, "rstrip", false)});
    if (added.back().id < 0) fail("{}: added token '{}' has no id", fname, added.back().content);
  }
  read_pre_tokenizer(j.contains("pre_tokenizer") ? j["pre_tokenizer"] : json(), fname, t.splits_);
  read_post_processor(j.contains("post_processor") ? j["post_processor"] : json(), fname, t.bpe_, added, t.prefix_,
                      t.suffix_);
  t.added_ = text::AddedTokenMatcher(added);

  const std::string dir = file.parent_path().string();
  // transformers' LlamaTokenizerFast rebuilds the post-processor from add_bos_token (default
  // on) and add_eos_token (default off) of tokenizer_config.json, replacing the file's.
  if (const fs::path cfg = fs::path(dir) / "tokenizer_config.json"; fs::is_regular_file(cfg, ec)) {
    const json c = read_tokenizer_json(cfg.string());
    const std::string cls = str_or(c, "tokenizer_class", "");
    if (cls == "LlamaTokenizer" || cls == "LlamaTokenizerFast") {
      const auto id_of = [&](const char* key) {
        const auto tok = configured_special_token(dir, key);
        const auto id = tok ? t.token_id(*tok) : std::nullopt;
        if (!id) fail("{}: {} is not set or not in the vocabulary, and {} needs it", cfg.string(), key, cls);
        return *id;
      };
      t.added_ = text::AddedTokenMatcher(added);  // token_id() looks here
      t.prefix_.clear(), t.suffix_.clear();
      if (bool_or(c, "add_bos_token", true)) t.prefix_.push_back(id_of("bos_token"));
      if (bool_or(c, "add_eos_token", false)) t.suffix_.push_back(id_of("eos_token"));
    }
  }
  if (const auto pad = configured_special_token(dir, "pad_token")) {
    const auto id = t.token_id(*pad);
    if (!id) fail("{}: pad token '{}' of tokenizer_config.json is not in the vocabulary", fname, *pad);
    t.pad_ = *id;
  }
  return t;
}

std::optional<int64_t> LlamaTokenizer::token_id(const std::string& token) const {
  for (const auto& a : added_.tokens())
    if (a.content == token) return a.id;
  return bpe_.id(token);
}

std::vector<int64_t> LlamaTokenizer::encode_plain(std::string_view raw) const {
  const std::string text = valid_utf8(raw);
  std::vector<int64_t> ids;
  for (const auto& piece : added_.split(text)) {
    if (piece.id >= 0) {
      ids.push_back(piece.id);
      continue;
    }
    std::vector<std::string_view> words{piece.text};
    for (const auto& s : splits_) {
      std::vector<std::string_view> next;
      for (auto w : words)
        for (auto p : s.split(w)) next.push_back(p);
      words.swap(next);
    }
    for (auto w : words) bpe_.encode(w, ids);
  }
  return ids;
}

TokenizedText LlamaTokenizer::encode(std::string_view text, int64_t max_length) const {
  const int64_t specials = static_cast<int64_t>(prefix_.size() + suffix_.size());
  if (max_length < specials)
    usage_fail("max_length {} is shorter than the tokenizer's {} special tokens", max_length, specials);
  auto body = encode_plain(text);
  TokenizedText out;
  if (static_cast<int64_t>(body.size()) > max_length - specials) {
    out.dropped = static_cast<int64_t>(body.size()) - (max_length - specials);
    body.resize(static_cast<size_t>(max_length - specials));
  }
  out.ids = prefix_;
  out.ids.insert(out.ids.end(), body.begin(), body.end());
  out.ids.insert(out.ids.end(), suffix_.begin(), suffix_.end());
  out.mask.assign(out.ids.size(), 1);
  if (static_cast<int64_t>(out.ids.size()) < max_length) {
    if (pad_ < 0)
      fail("{}: the tokenizer has no pad token (tokenizer_config.json pad_token), which padding to {} tokens needs", path_,
           max_length);
    out.ids.resize(static_cast<size_t>(max_length), pad_);
    out.mask.resize(static_cast<size_t>(max_length), 0);
  }
  return out;
}

}  // namespace jenga::hunyuan
