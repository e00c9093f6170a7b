#pragma once
// `jenga bench attention` options and runner (src/cli/bench_attention.cpp).
#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace jenga::cli {

struct BenchAttentionOptions {
  std::string shape = "wan1.3b480";  // hunyuan720 | wan14b720 | wan1.3b480 | H,N,D
  double density = 1.0;              // fraction of key blocks each query block keeps; 1 = dense
  int batch = 1;
  int iters = 10, warmup = 3;
  int path = 0;                      // AttentionParams::path: 0 default, 1 mma.sync
  bool head_major = false;           // [B,H,N,D] instead of [B,N,H,D]
  bool json = false;
  // Also time the GPU mask builder on the same q/k: top_k = round(density * image blocks),
  // prob threshold mask_p, the last text_blocks blocks kept by every row.
  bool mask_build = false;
  float mask_p = 0.0f;
  int text_blocks = 0;
  int mask_method = 0;  // BlockMaskArgs::method (1 = the earlier chain)
  uint64_t seed = 0;
};

void run_bench_attention(const BenchAttentionOptions& o);
// Adds `attention` under `jenga bench`.
void register_bench_attention(CLI::App& bench);

}  // namespace jenga::cli
