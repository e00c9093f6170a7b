// Head dim 128: the warp-specialised kernel's variants 7 .. 12 (launch_ws_opt.cuh).
#include "backend/cuda/attention/launch_ws_opt.cuh"

namespace jenga::cuda::attn {

template void launch_ws_opt<128>(const AttentionParams&, const WsMaps&, int, cudaStream_t);

}  // namespace jenga::cuda::attn
