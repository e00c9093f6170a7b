#pragma once
// Sparse VideoGen self-attention on the CPU (f32 reference of the CUDA path): q, k, v in the
// DiT's [tokens, heads, head_dim] layout, out [tokens, heads * head_dim].
#include <cstdint>
#include <vector>

#include "backend/denoise_backend.h"

namespace jenga {

class SvgAttentionCpu {
 public:
  // Classifies heads on bf16-rounded q/k/v (what the GPU sees), then attends in f32 through
  // svg::plan_attention + svg::run_plan_cpu with the 128-tile layout. tokens: every row of the
  // self-attention (HunyuanVideo: video + text rows); branch: the guidance branch (its valid text).
  void run(const SvgStage& s, int branch, const float* q, const float* k, const float* v, float* out, int64_t tokens,
           int64_t heads, int64_t head_dim);
  double kept_blocks = 0, all_blocks = 0, temporal_heads = 0, heads_seen = 0;

 private:
  std::vector<float> q_, k_, v_, qr_, kr_, vr_, o_;
};

}  // namespace jenga
