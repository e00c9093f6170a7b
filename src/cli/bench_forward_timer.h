// The timing loop that `bench dit` shares between models: warm-up, optional CUDA-graph replay,
// the median of N event-timed forwards, and a finiteness check of the output.
#pragma once
#if JENGA_HAVE_CUDA
#include <functional>

#include <cuda_runtime.h>

#include "core/tensor.h"

namespace jenga::cli {

struct ForwardTimes {
  double median_ms, min_ms, max_ms;
};

// `iters` forwards timed with CUDA events on `stream`, after `warmup` of them (at least one: the
// first call builds the GEMM plans); with `graph`, one forward is captured and the timed ones
// replay it.
ForwardTimes time_forwards(const std::function<void()>& forward, cudaStream_t stream, int warmup, int iters, bool graph);

// Fails when the first 2^20 values of a device f32 output hold a NaN or inf: that forward is no benchmark.
void require_finite_output(const Tensor& out);

}  // namespace jenga::cli
#endif
