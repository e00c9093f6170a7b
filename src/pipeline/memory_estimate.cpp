#include "pipeline/memory_estimate.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace jenga {
namespace {
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
}

std::string MemoryEstimate::describe() const {
  if (phased)
    return fmt::format("~{:.1f} GiB (weights {:.1f} + activations {:.1f} while denoising; VAE decode {:.1f} after)",
                       total() / kGiB, weights / kGiB, activations / kGiB, vae_decode / kGiB);
  return fmt::format("~{:.1f} GiB (weights {:.1f}, activations {:.1f}, VAE decode {:.1f}, video {:.1f})",
                     total() / kGiB, weights / kGiB, activations / kGiB, vae_decode / kGiB, video / kGiB);
}

MemoryEstimate estimate_wan_t2v_memory(const MemoryNeed& n) {
  MemoryEstimate e;
  // Doubles throughout: sizes such as 100000x100000 must not wrap.
  const double w = static_cast<double>(n.width), h = static_cast<double>(n.height), f = static_cast<double>(n.frames);
  const double lat_t = std::floor((f - 1) / 4) + 1, lat_h = h / 8, lat_w = w / 8;
  const double tokens = lat_t * (lat_h / 2) * (lat_w / 2);  // patch 1x2x2
  e.weights = static_cast<double>(n.dit_params) * n.bytes_per_weight;
  if (n.cuda && n.offload) e.weights *= 0.1;  // two blocks resident; the rest in host memory
  // Per forward: x, the residual, q, k, v, attention out (f32, [L, dim]) and the FFN hidden
  // [L, ffn]; twice for CFG (cond + uncond share the loop but hold their outputs); the latents
  // and solver history (16 channels, a few copies) are small beside them.
  const double act_bytes = n.cuda ? 2.0 : 4.0;
  e.activations = 2.0 * tokens * (6.0 * static_cast<double>(n.dim) + static_cast<double>(n.ffn_dim)) * act_bytes +
                  8.0 * 16.0 * lat_t * lat_h * lat_w * 4.0;
  // The VAE decoder works a latent frame at a time: its widest stage (96 channels at full size,
  // several live buffers and the causal caches of two frames) plus the [3, F, H, W] f32 output.
  e.vae_decode = 12.0 * 96.0 * h * w * 4.0 + 3.0 * f * h * w * 4.0;
  // The frames as 8-bit RGB, plus the encoder's copy (host memory).
  e.video = n.cuda ? 0.0 : 2.0 * 3.0 * f * h * w;
  e.phased = n.cuda;
  return e;
}

uint64_t available_host_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream s(line.substr(13));
    uint64_t kib = 0;
    s >> kib;
    return kib * 1024;
  }
  return 0;
}

bool should_stream_dit(const MemoryNeed& need, uint64_t gpu_available, uint64_t host_available) {
  if (!need.cuda || need.offload || gpu_available == 0 || host_available == 0) return false;
  const auto gpu = static_cast<double>(gpu_available);
  if (estimate_wan_t2v_memory(need).total() <= gpu) return false;  // fits resident
  MemoryNeed streamed = need;
  streamed.offload = true;
  const double pinned = static_cast<double>(need.dit_params) * need.bytes_per_weight;
  return estimate_wan_t2v_memory(streamed).total() <= gpu && pinned <= static_cast<double>(host_available);
}

void require_memory_fits(const MemoryNeed& need, uint64_t available, const std::string& where) {
  if (available == 0) return;
  const MemoryEstimate e = estimate_wan_t2v_memory(need);
  if (e.total() <= static_cast<double>(available)) return;
  // What would fit: fewer frames at this size, else a smaller size (halved until it fits).
  std::string suggestion;
  for (int64_t fr = need.frames - 4; fr >= 1; fr -= 4) {
    MemoryNeed m = need;
    m.frames = fr;
    if (estimate_wan_t2v_memory(m).total() <= static_cast<double>(available)) {
      suggestion = fmt::format("--frames {} fits at this size", fr);
      break;
    }
  }
  if (suggestion.empty()) {
    MemoryNeed m = need;
    while (m.width > 16 && m.height > 16 && estimate_wan_t2v_memory(m).total() > static_cast<double>(available)) {
      m.width = std::max<int64_t>(16, m.width / 2 / 16 * 16);
      m.height = std::max<int64_t>(16, m.height / 2 / 16 * 16);
    }
    if (estimate_wan_t2v_memory(m).total() <= static_cast<double>(available))
      suggestion = fmt::format("--size {}x{} fits with {} frames", m.width, m.height, need.frames);
    else
      suggestion = "the model's weights alone do not fit";
  }
  if (need.cuda && !need.offload) suggestion += "; --offload keeps the DiT's blocks in host memory";
  fail("{}x{}, {} frames needs {} but only {:.1f} GiB of {} is free; {}", need.width, need.height, need.frames,
       e.describe(), static_cast<double>(available) / kGiB, where, suggestion);
}

}  // namespace jenga
