// `jenga bench`: reproducible benchmarks. The kernels and models they time arrive with
// issues #5 (dit) and #8 (pipeline); each says so until then. attention: bench_attention.cpp.
#include "cli/bench_attention.h"
#include "cli/commands.h"
#include "core/error.h"

namespace jenga::cli {

void register_bench(CLI::App& app) {
  auto* b = app.add_subcommand("bench", "Benchmarks (one row per configuration, --json for machines)");
  b->require_subcommand(1);
  register_bench_attention(*b);
  for (const auto& [name, what, issue] :
       {std::tuple{"dit", "One DiT forward", 5},
        std::tuple{"pipeline", "A whole generation", 8}}) {
    auto* s = b->add_subcommand(name, what);
    const std::string n = name;
    const int i = issue;
    s->callback([n, i] { fail("'jenga bench {}' is not implemented in this build yet (issue #{})", n, i); });
  }
}

}  // namespace jenga::cli
