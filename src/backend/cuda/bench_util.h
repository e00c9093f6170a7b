#pragma once
// Small GPU helpers for benchmarks and tests: device-side random fill and event timing.
// Plain C++ (no CUDA headers).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace jenga::cuda {

// dst[i] = bf16(stddev * N(0,1)) from Philox(seed, i): fills GBs without a host copy.
void fill_normal_bf16(uint16_t* dst, size_t n, uint64_t seed, float stddev = 1.0f, void* stream = nullptr);

// Times GPU work on one stream with a pair of CUDA events.
class GpuTimer {
 public:
  GpuTimer();
  ~GpuTimer();
  GpuTimer(const GpuTimer&) = delete;
  GpuTimer& operator=(const GpuTimer&) = delete;
  void start(void* stream = nullptr);
  // Records the stop event, waits for it and returns the elapsed milliseconds.
  float stop_ms(void* stream = nullptr);

 private:
  void* start_ = nullptr;
  void* stop_ = nullptr;
};

// `warmup` untimed runs of f, a device sync, then `iters` runs each timed with GpuTimer on the
// default stream; returns the times in milliseconds, sorted (median = [size / 2]).
std::vector<float> time_sorted_ms(int warmup, int iters, const std::function<void()>& f);

}  // namespace jenga::cuda
