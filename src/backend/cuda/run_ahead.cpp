#include "backend/cuda/run_ahead.h"

#include <cuda_runtime.h>

#include <vector>

#include "backend/cuda/cuda_check.h"
#include "core/error.h"
#include "core/interrupt.h"

namespace jenga::cuda {

struct RunAheadLimit::Impl {
  std::vector<cudaEvent_t> events;  // ring: events[n % depth] is mark n
  long long marks = 0;
};

RunAheadLimit::RunAheadLimit(int depth) : impl_(std::make_unique<Impl>()) {
  if (depth < 1) fail("RunAheadLimit: depth {} must be >= 1", depth);
  impl_->events.resize(static_cast<size_t>(depth), nullptr);
  // Blocking sync: the waiting host thread sleeps instead of spinning a core.
  for (auto& e : impl_->events) JENGA_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming | cudaEventBlockingSync));
}

RunAheadLimit::~RunAheadLimit() {
  for (auto e : impl_->events)
    if (e) cudaEventDestroy(e);
}

int RunAheadLimit::depth() const { return static_cast<int>(impl_->events.size()); }

void RunAheadLimit::mark(void* stream) {
  const auto s = static_cast<cudaStream_t>(stream);
  cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
  JENGA_CUDA_CHECK(cudaStreamIsCapturing(s, &capturing));
  if (capturing != cudaStreamCaptureStatusNone) return;
  Impl& I = *impl_;
  cudaEvent_t& e = I.events[static_cast<size_t>(I.marks % static_cast<long long>(I.events.size()))];
  if (I.marks >= static_cast<long long>(I.events.size())) JENGA_CUDA_CHECK(cudaEventSynchronize(e));
  JENGA_CUDA_CHECK(cudaEventRecord(e, s));
  ++I.marks;
  check_interrupt();
}

}  // namespace jenga::cuda
