// Head dim 128: the warp-specialised kernel's variants 0 .. 6 (lab versions 3 .. 9) and the
// tensor maps of every variant (launch_ws_versions.cuh).
#include "launch_ws_versions.cuh"
#include "lab.h"

namespace jenga::cuda::attn {

void lab_ws_base128(const AttentionParams& p, const void* maps, int variant, void* stream) {
  launch_ws_base<128>(p, *static_cast<const WsMaps*>(maps), variant, static_cast<cudaStream_t>(stream));
}

bool lab_launch_ws128(const AttentionParams& p, int variant, void* stream) {
  WsMaps maps;
  if (!encode_ws_maps(p, maps)) return false;
  if (variant == 13 && (128 != 128 || !encode_map_fp8(&maps.q, p.q8, p, p.q_len, 64) ||
                        !encode_map_fp8(&maps.k, p.k8, p, p.k_len, 128)))
    return false;
  if (variant <= 6)
    lab_ws_base128(p, &maps, variant, stream);
  else
    lab_ws_opt128(p, &maps, variant, stream);
  return true;
}

}  // namespace jenga::cuda::attn
