#pragma once
// Each subcommand registers its flags and callback on the root app.
#include <CLI/CLI.hpp>

#include "pipeline/denoise.h"

namespace jenga::cli {

void register_generate(CLI::App& app);
// The official Jenga Wan flags (--sa-drop-rates, --p-remain-rates, --res-rate-list,
// --teacache-thresh), shared by generate and debug denoise.
void add_jenga_flags(CLI::App& command, JengaOverrides& overrides);
// --attention dense|jenga|svg and the official Sparse VideoGen flags (--svg-sparsity,
// --first-times-fp, --first-layers-fp, --num-sampled-rows, --sample-mse-max-row).
void add_attention_flags(CLI::App& command, std::string& attention, SvgOverrides& svg);
// The Sparse VideoGen settings alone (--svg-sparsity, --first-times-fp, ...), part of the above.
void add_svg_flags(CLI::App& command, SvgOverrides& svg);
void register_inspect(CLI::App& app);
// 1536 -> "1.50 KiB": sizes in messages (inspect, convert).
std::string human_bytes(uint64_t bytes);
// A CLI11 check refusing '' (an unset shell variable would otherwise mean "not given").
const CLI::Validator& non_empty();
// `jenga convert IN OUT` (cmd_convert.cpp): a safetensors copy of any checkpoint jenga reads.
void register_convert(CLI::App& app);
void register_bench(CLI::App& app);
void register_debug(CLI::App& app);
// `jenga bench dit` (bench_dit.cpp), registered by register_bench.
void register_bench_dit(CLI::App& bench);
// `jenga bench vae` (bench_vae.cpp), registered by register_bench.
void register_bench_vae(CLI::App& bench);
// `jenga bench load` (bench_load.cpp): checkpoint open + read speed, registered by register_bench.
void register_bench_load(CLI::App& bench);
// `jenga bench text-encoder` (bench_text_encoder.cpp), registered by register_bench.
void register_bench_text_encoder(CLI::App& bench);
// `jenga bench denoise` (bench_denoise.cpp): a whole preset loop, random weights, on the GPU.
void register_bench_denoise(CLI::App& bench);
// `jenga debug dit-forward` (cmd_debug_dit.cpp), registered by register_debug.
void register_debug_dit(CLI::App& debug);
// `jenga debug denoise` (cmd_debug_denoise.cpp).
void register_debug_denoise(CLI::App& debug);
// `jenga debug curve|neighbors|carve-mask|schedule` (cmd_debug_jenga.cpp).
void register_debug_jenga(CLI::App& debug);
// encode-text, vae-decode, vae-encode, tokenize (Wan text encoder and VAE).
void register_debug_t5vae(CLI::App& debug);
// `jenga debug svg-classify` (cmd_debug_svg.cpp): Sparse VideoGen head classification and layout.
void register_debug_svg(CLI::App& debug);
// `jenga debug image-prep | encode-image` (cmd_debug_i2v.cpp): HunyuanVideo-I2V image input.
void register_debug_i2v(CLI::App& debug);

// "WxH" -> {W, H}; throws UsageError naming the flag.
std::pair<int, int> parse_size(const std::string& flag, const std::string& value);

}  // namespace jenga::cli
