// `jenga bench`: reproducible benchmarks. attention: bench_attention.cpp, dit: bench_dit.cpp,
// vae: bench_vae.cpp;
// text-encoder: bench_text_encoder.cpp; load: bench_load.cpp;
// denoise: bench_denoise.cpp (a preset's whole loop, random weights; bench/gpu_pipeline.sh times Wan's).
#include "cli/bench_attention.h"
#include "cli/commands.h"
#include "core/error.h"

namespace jenga::cli {

void register_bench(CLI::App& app) {
  auto* b = app.add_subcommand("bench", "Benchmarks (one row per configuration, --json for machines)");
  b->require_subcommand(1);
  register_bench_attention(*b);
  register_bench_dit(*b);
  register_bench_vae(*b);
  register_bench_text_encoder(*b);
  register_bench_load(*b);
  register_bench_denoise(*b);
}

}  // namespace jenga::cli
