#pragma once
// Reading the files of a published tokenizer folder (tokenizer.json, vocab.json, merges.txt,
// tokenizer_config.json, special_tokens_map.json) for the HunyuanVideo tokenizers.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace jenga::hunyuan {

// The whole of a regular file; a missing file, a folder or a FIFO is a one-line Error.
std::string read_tokenizer_file(const std::string& path);
nlohmann::json read_tokenizer_json(const std::string& path);

// A special token's text ("pad_token", "bos_token", ...) from tokenizer_config.json, else
// special_tokens_map.json, in `dir`; a string or an {"content": ...} object.
std::optional<std::string> configured_special_token(const std::string& dir, const std::string& key);

// Which tokenizer a folder (or file) holds: a folder with vocab.json + merges.txt, or a
// tokenizer.json whose BPE has the "</w>" word suffix, is CLIP; another tokenizer.json is
// Llama; None when `path` holds neither.
enum class TokenizerKind { None, Llama, Clip };
TokenizerKind detect_tokenizer(const std::string& path);

// Invalid UTF-8 bytes become U+FFFD.
std::string valid_utf8(std::string_view text);

}  // namespace jenga::hunyuan
