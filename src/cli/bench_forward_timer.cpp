#include "cli/bench_forward_timer.h"

#if JENGA_HAVE_CUDA
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "core/error.h"

namespace jenga::cli {

ForwardTimes time_forwards(const std::function<void()>& forward, cudaStream_t stream, int warmup, int iters, bool graph) {
  for (int i = 0; i < std::max(warmup, 1); ++i) forward();
  JENGA_CUDA_CHECK(cudaStreamSynchronize(stream));
  cudaGraphExec_t exec = nullptr;
  if (graph) {
    cudaGraph_t g;
    JENGA_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
    forward();
    JENGA_CUDA_CHECK(cudaStreamEndCapture(stream, &g));
    JENGA_CUDA_CHECK(cudaGraphInstantiate(&exec, g, 0));
    JENGA_CUDA_CHECK(cudaGraphDestroy(g));
    JENGA_CUDA_CHECK(cudaGraphLaunch(exec, stream));
  }
  cudaEvent_t e0, e1;
  JENGA_CUDA_CHECK(cudaEventCreate(&e0));
  JENGA_CUDA_CHECK(cudaEventCreate(&e1));
  std::vector<float> ms;
  for (int i = 0; i < iters; ++i) {
    JENGA_CUDA_CHECK(cudaEventRecord(e0, stream));
    if (exec)
      JENGA_CUDA_CHECK(cudaGraphLaunch(exec, stream));
    else
      forward();
    JENGA_CUDA_CHECK(cudaEventRecord(e1, stream));
    JENGA_CUDA_CHECK(cudaEventSynchronize(e1));
    float m = 0;
    JENGA_CUDA_CHECK(cudaEventElapsedTime(&m, e0, e1));
    ms.push_back(m);
  }
  if (exec) cudaGraphExecDestroy(exec);
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.front(), ms.back()};
}

void require_finite_output(const Tensor& out) {
  std::vector<float> host(static_cast<size_t>(std::min<int64_t>(out.numel(), 1 << 20)));
  cuda::copy_to_host(host.data(), out.data(), host.size() * 4);
  for (float v : host)
    if (!std::isfinite(v)) fail("the DiT forward produced a non-finite value; the benchmark is void");
}

}  // namespace jenga::cli
#endif
