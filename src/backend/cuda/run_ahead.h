#pragma once
// Bounds how far the host runs ahead of the GPU on a stream, counted in marks (a DiT forward
// marks after enqueuing each block), so Ctrl-C / SIGTERM, a host flag polled at each mark, is
// honoured within a few blocks' GPU time rather than after everything already queued (up to a
// whole step: 18 s for HunyuanVideo at 720p). At each mark the host waits for the mark `depth`
// back, never for the queue to empty: depth - 1 blocks stay queued, so the GPU does not idle as
// long as the host enqueues a block faster than the GPU runs depth - 1 of them. While the stream
// is being captured into a CUDA graph it does nothing (the graph's launch is bounded by the loop).
// Events are made once here; a mark allocates nothing and logs nothing. Plain C++ header.
#include <memory>

namespace jenga::cuda {

class RunAheadLimit {
 public:
  explicit RunAheadLimit(int depth = 4);
  ~RunAheadLimit();
  RunAheadLimit(const RunAheadLimit&) = delete;
  RunAheadLimit& operator=(const RunAheadLimit&) = delete;

  // After enqueuing one unit of work on `stream`: waits (yielding the CPU) until the work before
  // the mark `depth` back has run, records this mark, then throws Interrupted if a signal came in.
  void mark(void* stream);
  int depth() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace jenga::cuda
