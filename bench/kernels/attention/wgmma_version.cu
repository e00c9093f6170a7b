// Version 2: the wgmma kernel with cp.async double buffering (hopper_kernel.cuh), head dim 128.
#include "launch_hopper.cuh"
#include "lab.h"

namespace jenga::cuda::attn {

void lab_launch_wgmma(const AttentionParams& p, void* stream) { launch_hopper(p, static_cast<cudaStream_t>(stream)); }

}  // namespace jenga::cuda::attn
