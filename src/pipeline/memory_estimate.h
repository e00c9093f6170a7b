#pragma once
// How much memory a Wan2.1 text-to-video run needs, estimated before any work from the size,
// frames and the DiT's shape, so a run that cannot fit is refused in one line instead of being
// killed by the kernel after minutes. A floor, not a bound: it counts what the run must hold at
// once (weights, the DiT's per-forward activations, the VAE decoder's largest frame buffers and
// caches, the decoded video), not allocator slack.
#include <algorithm>
#include <cstdint>
#include <string>

namespace jenga {

struct MemoryNeed {
  int64_t width = 0, height = 0, frames = 0;
  int64_t dit_params = 0, dim = 0, ffn_dim = 0;  // the DiT's shape (from its header)
  int bytes_per_weight = 4;                      // f32 on the CPU, bf16 on CUDA
  bool cuda = false, offload = false;
};

struct MemoryEstimate {
  double weights = 0, activations = 0, vae_decode = 0, video = 0;  // bytes
  // On the GPU the phases come one after another: the DiT is freed before the VAE decodes
  // (pipeline/generate.cpp) and the frames live in host memory, so the need is the larger phase.
  // On the CPU the DiT's weights stay for the decode: everything at once.
  bool phased = false;
  double total() const {
    return phased ? std::max(weights + activations, vae_decode) : weights + activations + vae_decode + video;
  }
  std::string describe() const;  // "~3.1 GiB (weights 2.2, activations 0.4, VAE decode 0.3, video 0.2)"
};

MemoryEstimate estimate_wan_t2v_memory(const MemoryNeed& need);

// Bytes free now: MemAvailable from /proc/meminfo (0 when unknown: no refusal).
uint64_t available_host_bytes();

// On the GPU without --offload: true when the run does not fit resident but does with the DiT's
// blocks streamed from pinned host memory, and the host has room for that pinned copy of the
// weights; the caller then streams them (a 24 GB card runs HunyuanVideo 13B at 720p) instead of
// refusing. available 0 = unknown: false.
bool should_stream_dit(const MemoryNeed& need, uint64_t gpu_available, uint64_t host_available);

// Throws Error "... needs ~X GiB but only Y GiB is free; ... would fit" when it cannot fit.
// available = 0: unknown, nothing is refused. `where` names the memory ("host memory", "GPU memory").
void require_memory_fits(const MemoryNeed& need, uint64_t available, const std::string& where);

}  // namespace jenga
