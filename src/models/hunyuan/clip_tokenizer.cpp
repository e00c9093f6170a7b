#include "models/hunyuan/clip_tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <unordered_set>

#include "core/error.h"
#include "models/hunyuan/tokenizer_files.h"
#include "models/wan/text_clean.h"
#include "text/unicode_text.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace jenga::hunyuan {

namespace {

// CLIPTokenizer reads merges.txt lines [1, 49152 - 256 - 2 + 1): at most 48,894 merges.
constexpr size_t kMaxMerges = 49152 - 256 - 2;
const char* const kSplit = R"(<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+)";

bool is_whitespace(char32_t c) {
  return c == U' ' || c == U'\t' || c == U'\n' || c == U'\r' || text::unicode_category(c) == "Zs";
}
bool is_control(char32_t c) {
  if (c == U'\t' || c == U'\n' || c == U'\r') return false;
  return text::unicode_category(c)[0] == 'C';
}
bool is_cjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// Python's str.split() with no argument.
std::vector<std::u32string> split_ws(const std::u32string& s) {
  std::vector<std::u32string> out;
  std::u32string cur;
  for (char32_t c : s) {
    if (text::python_isspace(c)) {
      if (!cur.empty()) out.push_back(std::move(cur)), cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::vector<std::pair<std::string, std::string>> parse_merges_txt(const std::string& file) {
  const std::string all = read_tokenizer_file(file);
  // Python: read().strip().split("\n")[1 : 48895], each line .split() into a pair.
  size_t b = 0, e = all.size();
  while (b < e && text::python_isspace(static_cast<unsigned char>(all[b]))) ++b;
  while (e > b && text::python_isspace(static_cast<unsigned char>(all[e - 1]))) --e;
  // An empty file (not even the "#version" line) would tokenize every word into single bytes,
  // silently. (A header alone is a vocabulary without merges: make-tiny writes one.)
  if (b == e) fail("{}: is empty (merges.txt starts with a '#version' line); download it again", file);
  std::vector<std::pair<std::string, std::string>> merges;
  size_t pos = b, line = 0;
  while (pos <= e && merges.size() < kMaxMerges) {
    size_t nl = all.find('\n', pos);
    if (nl == std::string::npos || nl > e) nl = e;
    if (line++ > 0) {
      std::vector<std::string> parts;
      std::string cur;
      for (size_t i = pos; i < nl; ++i) {
        const char c = all[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
          if (!cur.empty()) parts.push_back(std::move(cur)), cur.clear();
        } else {
          cur.push_back(c);
        }
      }
      if (!cur.empty()) parts.push_back(std::move(cur));
      if (parts.size() != 2) fail("{}: line {} is not a merge of two tokens", file, line);
      merges.emplace_back(parts[0], parts[1]);
    }
    if (nl >= e) break;
    pos = nl + 1;
  }
  return merges;
}

// CLIP's vocab.json is the 256 byte symbols, the same with "</w>", one token per merge and the
// special tokens. A token that is none of these (no merge makes it) means merges.txt is cut
// short or belongs to another vocabulary: every word would then tokenize differently, silently.
void check_vocab_matches_merges(const std::unordered_map<std::string, int64_t>& vocab,
                                const std::vector<std::pair<std::string, std::string>>& merges,
                                const std::vector<std::string>& specials, const std::string& merges_file) {
  std::unordered_set<std::string> made;
  made.reserve(merges.size() * 2);
  for (const auto& [a, b] : merges) made.insert(a + b);
  const auto one_symbol = [](std::string_view t) {
    if (t.ends_with("</w>")) t.remove_suffix(4);
    return !t.empty() && wan::utf8_to_u32(std::string(t)).size() == 1;
  };
  size_t unmade = 0;
  std::string example;
  for (const auto& [tok, id] : vocab) {
    if (one_symbol(tok) || made.count(tok) || std::find(specials.begin(), specials.end(), tok) != specials.end())
      continue;
    if (unmade++ == 0 || tok < example) example = tok;
  }
  if (unmade > 0)
    fail("{}: has {} merges, but the vocabulary holds {} tokens no merge makes (e.g. '{}'): the file is cut short or "
         "from another tokenizer; download the CLIP tokenizer files again", merges_file, merges.size(), unmade, example);
}

}  // namespace

std::string ClipTokenizer::clean(std::string_view raw) {
  const std::u32string in = wan::utf8_to_u32(valid_utf8(raw));
  std::u32string s;
  s.reserve(in.size());
  for (char32_t c : in) {
    if (c == 0 || c == 0xFFFD || is_control(c)) continue;
    if (is_whitespace(c)) {
      s.push_back(U' ');
    } else if (is_cjk(c)) {
      s += U' ';
      s.push_back(c);
      s += U' ';
    } else {
      s.push_back(c);
    }
  }
  std::u32string joined;
  for (const auto& tok : split_ws(text::nfc(s))) {
    if (!joined.empty()) joined.push_back(U' ');
    joined += text::python_lower(tok);
  }
  std::u32string out;
  for (const auto& tok : split_ws(joined)) {
    if (!out.empty()) out.push_back(U' ');
    out += tok;
  }
  return wan::u32_to_utf8(out);
}

ClipTokenizer ClipTokenizer::open(const std::string& path) {
  std::error_code ec;
  fs::path dir(path);
  if (fs::is_regular_file(dir, ec)) dir = dir.parent_path();
  if (!fs::is_directory(dir, ec)) fail("{}: no such folder; pass the CLIP tokenizer folder (text_encoder_2/ or tokenizer_2/)", path);
  ClipTokenizer t;
  t.path_ = dir.string();
  std::unordered_map<std::string, int64_t> vocab;
  std::vector<std::pair<std::string, std::string>> merges;
  std::string merges_file;  // what the vocabulary check names
  if (fs::is_regular_file(dir / "vocab.json", ec) || fs::is_regular_file(dir / "merges.txt", ec)) {
    merges_file = (dir / "merges.txt").string();
    const json v = read_tokenizer_json((dir / "vocab.json").string());
    if (!v.is_object()) fail("{}: is not a token -> id object", (dir / "vocab.json").string());
    for (const auto& [k, id] : v.items()) {
      if (!id.is_number_integer()) fail("{}: entry '{}' is not an integer id", (dir / "vocab.json").string(), k);
      vocab.emplace(k, id.get<int64_t>());
    }
    merges = parse_merges_txt((dir / "merges.txt").string());
  } else if (fs::is_regular_file(dir / "tokenizer.json", ec)) {
    const std::string file = (dir / "tokenizer.json").string();
    merges_file = file;
    const json j = read_tokenizer_json(file);
    const json& m = j.contains("model") ? j["model"] : json();
    if (!m.is_object() || !m.contains("vocab") || !m.contains("merges")) fail("{}: has no BPE vocab/merges", file);
    for (const auto& [k, id] : m["vocab"].items()) vocab.emplace(k, id.get<int64_t>());
    for (const auto& e : m["merges"]) {
      if (merges.size() == kMaxMerges) break;
      if (e.is_array() && e.size() == 2) {
        merges.emplace_back(e[0].get<std::string>(), e[1].get<std::string>());
      } else {
        const std::string s = e.get<std::string>();
        const size_t sp = s.find(' ', 1);
        if (sp == std::string::npos) fail("{}: merge '{}' is not two tokens", file, s);
        merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
      }
    }
  } else {
    fail("{}: has no vocab.json + merges.txt (nor tokenizer.json); pass the CLIP tokenizer folder (text_encoder_2/ or "
         "tokenizer_2/)", path);
  }
  const auto special = [&](const char* key, const char* dflt) {
    const std::string tok = configured_special_token(t.path_, key).value_or(dflt);
    const auto it = vocab.find(tok);
    if (it == vocab.end())
      fail("{}: {} '{}' is not in the vocabulary: {}", t.path_, key, tok,
           tok.rfind("<|begin_of_text|>", 0) == 0 || vocab.count("<|begin_of_text|>")
               ? "this is the Llama-3 tokenizer (the LLM's), not CLIP-L's; give --text-encoder-2 / --tokenizer-2 the "
                 "CLIP-L folder (text_encoder_2/)"
               : "not a CLIP tokenizer; give --tokenizer-2 the CLIP-L folder (text_encoder_2/)");
    return std::pair<std::string, int64_t>(tok, it->second);
  };
  const auto bos = special("bos_token", "<|startoftext|>"), eos = special("eos_token", "<|endoftext|>"),
             pad = special("pad_token", "<|endoftext|>"), unk = special("unk_token", "<|endoftext|>");
  if (merges.size() < kMaxMerges)  // past 48,894 CLIPTokenizer reads no more merges: extra tokens are its
    check_vocab_matches_merges(vocab, merges, {bos.first, eos.first, pad.first, unk.first}, merges_file);
  t.bos_ = bos.second, t.eos_ = eos.second, t.pad_ = pad.second;
  std::vector<text::AddedToken> added;
  for (const auto& p : {bos, eos, pad, unk}) added.push_back({p.first, p.second, false, false});
  t.added_ = text::AddedTokenMatcher(added);
  t.split_ = text::RegexSplitter(kSplit, true, t.path_);
  t.bpe_ = text::BytePairEncoder(std::move(vocab), merges, "</w>", false, t.path_);
  t.bpe_.set_unk(unk.second);
  return t;
}

std::vector<int64_t> ClipTokenizer::encode_plain(std::string_view raw) const {
  const std::string text = valid_utf8(raw);
  std::vector<int64_t> ids;
  for (const auto& piece : added_.split(text)) {
    if (piece.id >= 0) {
      ids.push_back(piece.id);
      continue;
    }
    const std::string cleaned = clean(piece.text);
    for (auto w : split_.find_all(cleaned)) {
      // CLIPTokenizer's BPE cache returns these two as themselves (reached by lower-casing).
      if (w == "<|startoftext|>" || w == "<|endoftext|>")
        if (const auto id = bpe_.id(std::string(w))) {
          ids.push_back(*id);
          continue;
        }
      bpe_.encode(w, ids);
    }
  }
  return ids;
}

TokenizedText ClipTokenizer::encode(std::string_view text, int64_t max_length) const {
  if (max_length < 2) usage_fail("max_length {}: CLIP needs at least 2 tokens (start and end)", max_length);
  auto body = encode_plain(text);
  if (static_cast<int64_t>(body.size()) > max_length - 2) body.resize(static_cast<size_t>(max_length - 2));
  TokenizedText out;
  out.ids.push_back(bos_);
  out.ids.insert(out.ids.end(), body.begin(), body.end());
  out.ids.push_back(eos_);
  out.mask.assign(out.ids.size(), 1);
  out.ids.resize(static_cast<size_t>(max_length), pad_);
  out.mask.resize(static_cast<size_t>(max_length), 0);
  return out;
}

}  // namespace jenga::hunyuan
