// cuda::RunAheadLimit: at each mark the host waits for the mark `depth` back, so it is never more
// than `depth` units ahead of the GPU (Ctrl-C within a few DiT blocks), and never drains the queue.
// The GPU work is a host function that sleeps on the stream (it holds the stream like a kernel).
// GPU only: skips without a CUDA device.
#include <gtest/gtest.h>
#include <cuda_runtime.h>

#include <chrono>
#include <thread>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/run_ahead.h"
#include "core/error.h"

using namespace jenga;

namespace {

constexpr int kSleepMs = 30;
void CUDART_CB sleep_on_stream(void*) { std::this_thread::sleep_for(std::chrono::milliseconds(kSleepMs)); }

TEST(CudaRunAhead, HostStaysAtMostDepthMarksAheadAndKeepsTheQueueFull) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  cuda::init();
  cudaStream_t s = nullptr;
  JENGA_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  constexpr int kDepth = 2, kUnits = 6;
  cuda::RunAheadLimit limit(kDepth);
  EXPECT_EQ(limit.depth(), kDepth);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kUnits; ++i) {
    JENGA_CUDA_CHECK(cudaLaunchHostFunc(s, sleep_on_stream, nullptr));
    limit.mark(s);
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  // The last mark (5) waited for mark 3, which follows 4 sleeps; without the limit the host
  // would be back at once.
  EXPECT_GE(ms, (kUnits - kDepth) * kSleepMs - 5) << "the host ran ahead of the stream";
  // Not a drain: the last kDepth units are still queued.
  EXPECT_EQ(cudaStreamQuery(s), cudaErrorNotReady) << "the limit emptied the queue";
  JENGA_CUDA_CHECK(cudaStreamSynchronize(s));
  JENGA_CUDA_CHECK(cudaStreamDestroy(s));
}

TEST(CudaRunAhead, DoesNothingWhileTheStreamIsCaptured) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  cuda::init();
  cudaStream_t s = nullptr;
  JENGA_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  cuda::RunAheadLimit limit(1);
  cudaGraph_t g = nullptr;
  JENGA_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
  for (int i = 0; i < 3; ++i) limit.mark(s);  // an event wait here would invalidate the capture
  JENGA_CUDA_CHECK(cudaStreamEndCapture(s, &g));
  ASSERT_NE(g, nullptr);
  JENGA_CUDA_CHECK(cudaGraphDestroy(g));
  JENGA_CUDA_CHECK(cudaStreamDestroy(s));
}

TEST(CudaRunAhead, RefusesADepthBelowOne) {
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device";
  EXPECT_THROW(cuda::RunAheadLimit(0), Error);
}

}  // namespace
