#pragma once
// The Wan2.1 DiT forward on the CPU in f32 (the reference backend), with the Jenga plug-in
// points: a token order applied once after patch embedding and undone before the head, and a
// per-layer provider of the self-attention block-sparse layout. A CUDA forward sits beside this
// file and shares WanDit (config + weights) and the hook types (models/dit_hooks.h).
#include <cstdint>

#include "core/tensor.h"
#include "models/dit_hooks.h"
#include "models/wan/wan_dit.h"

namespace jenga::wan {

// The hook types are model-neutral (models/dit_hooks.h); these names stay for existing callers.
using jenga::DitForwardHooks;

// The timestep path: e [dim] (modulates the head) and e0 [6 * dim] (the blocks), in f32.
void wan_time_embedding_cpu(const WanDit& model, double t, float* e, float* e0);

// Throws jenga::Error naming the problem when x or context do not fit the model:
// x: [in_dim, F, H, W] f32 with F, H, W divisible by the patch size; context: [L, text_dim] f32,
// 1 <= L <= text_len; t finite.
void check_dit_inputs(const WanConfig& c, const Tensor& x, double t, const Tensor& context);

// One denoiser evaluation. x: [in_dim, F, H, W] latents; t: timestep (0..1000 scale); context:
// [L, text_dim] text embeddings, zero-padded to text_len as the official model does.
// Returns [out_dim, F, H, W] f32.
Tensor wan_forward_cpu(const WanDit& model, const Tensor& x, double t, const Tensor& context,
                       const DitForwardHooks& hooks = {});

}  // namespace jenga::wan
