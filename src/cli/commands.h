#pragma once
// Each subcommand registers its flags and callback on the root app.
#include <CLI/CLI.hpp>

namespace jenga::cli {

void register_generate(CLI::App& app);
void register_inspect(CLI::App& app);
void register_bench(CLI::App& app);
void register_debug(CLI::App& app);
// encode-text, vae-decode, vae-encode, tokenize (Wan text encoder and VAE).
void register_debug_t5vae(CLI::App& debug);

// "WxH" -> {W, H}; throws UsageError naming the flag.
std::pair<int, int> parse_size(const std::string& flag, const std::string& value);

}  // namespace jenga::cli
