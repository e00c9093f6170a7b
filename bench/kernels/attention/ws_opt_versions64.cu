// Head dim 64: the warp-specialised kernel's variants 7 .. 13 (lab versions 10 .. 16).
#include "launch_ws_versions.cuh"
#include "lab.h"

namespace jenga::cuda::attn {

void lab_ws_opt64(const AttentionParams& p, const void* maps, int variant, void* stream) {
  launch_ws_opt<64>(p, *static_cast<const WsMaps*>(maps), variant, static_cast<cudaStream_t>(stream));
}

}  // namespace jenga::cuda::attn
