#include "backend/cuda/offload_ring.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <string>
#include <vector>

#include "backend/cuda/cuda_check.h"
#include "core/error.h"
#include "core/tensor.h"

namespace jenga::cuda {

namespace {
// Pinned host memory (cudaHostAlloc), freed with cudaFreeHost.
struct PinnedBuffer {
  void* p = nullptr;
  size_t bytes = 0;
  PinnedBuffer(size_t n, const std::string& what, size_t index) : bytes(n) {
    if (cudaHostAlloc(&p, n, cudaHostAllocDefault) != cudaSuccess) {
      cudaGetLastError();
      p = nullptr;
      fail("--offload: cannot pin {} MiB of host memory for {} {} (host memory or the pinned-memory limit "
           "is exhausted); free host memory or run without --offload",
           n >> 20, what, index);
    }
  }
  PinnedBuffer(PinnedBuffer&& o) noexcept : p(o.p), bytes(o.bytes) { o.p = nullptr; }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(PinnedBuffer&&) = delete;
  ~PinnedBuffer() {
    if (p) cudaFreeHost(p);
  }
};
}  // namespace

struct OffloadRing::Impl {
  std::string what;
  std::vector<PinnedBuffer> host;  // one per block, in forward order
  size_t slot_bytes = 0;
  // The ring: slots[s] holds block b with b % ring == s; copied[s]: its copy arrived;
  // freed[s]: the forward has read it; start: the forward began. All made by finish().
  int ring = 0;
  std::vector<Tensor> slots;
  std::vector<cudaEvent_t> copied, freed;
  cudaEvent_t start = nullptr;
  cudaStream_t copy = nullptr;
  size_t count = 0;  // blocks the current forward streams

  ~Impl() {
    // In-flight copies read the pinned buffers: let them finish before those are freed.
    if (copy) cudaStreamSynchronize(copy);
    for (auto e : copied) cudaEventDestroy(e);
    for (auto e : freed) cudaEventDestroy(e);
    if (start) cudaEventDestroy(start);
    if (copy) cudaStreamDestroy(copy);
  }

  // Enqueues block b's copy into its slot on the copy stream (which already waits for the
  // slot's previous reader) and marks it arrived.
  void fetch(size_t b) {
    const size_t s = b % static_cast<size_t>(ring);
    JENGA_CUDA_CHECK(cudaMemcpyAsync(slots[s].data(), host[b].p, host[b].bytes, cudaMemcpyHostToDevice, copy));
    JENGA_CUDA_CHECK(cudaEventRecord(copied[s], copy));
  }
};

OffloadRing::OffloadRing(const char* what) : impl_(std::make_unique<Impl>()) { impl_->what = what; }
OffloadRing::~OffloadRing() = default;

void* OffloadRing::add_block(size_t bytes) {
  Impl& I = *impl_;
  if (I.ring) fail("internal error: OffloadRing::add_block after finish (please report)");
  I.host.emplace_back(bytes, I.what, I.host.size());
  I.slot_bytes = std::max(I.slot_bytes, bytes);
  return I.host.back().p;
}

void OffloadRing::finish(int ring) {
  Impl& I = *impl_;
  if (I.ring) fail("internal error: OffloadRing::finish called twice (please report)");
  if (ring < 1) fail("internal error: offload ring of {} buffers (please report)", ring);
  I.ring = static_cast<int>(std::min<size_t>(static_cast<size_t>(ring), I.host.size()));
  for (int i = 0; i < I.ring; ++i)
    I.slots.push_back(Tensor::empty(DType::U8, Shape{static_cast<int64_t>(I.slot_bytes)}, Device::CUDA));
  JENGA_CUDA_CHECK(cudaStreamCreateWithFlags(&I.copy, cudaStreamNonBlocking));
  I.copied.assign(static_cast<size_t>(I.ring), nullptr);
  I.freed.assign(static_cast<size_t>(I.ring), nullptr);
  for (int i = 0; i < I.ring; ++i) {
    JENGA_CUDA_CHECK(cudaEventCreateWithFlags(&I.copied[i], cudaEventDisableTiming));
    JENGA_CUDA_CHECK(cudaEventCreateWithFlags(&I.freed[i], cudaEventDisableTiming));
  }
  JENGA_CUDA_CHECK(cudaEventCreateWithFlags(&I.start, cudaEventDisableTiming));
}

size_t OffloadRing::blocks() const { return impl_->host.size(); }
int OffloadRing::ring() const { return impl_->ring; }
size_t OffloadRing::slot_bytes() const { return impl_->slot_bytes; }
size_t OffloadRing::device_bytes() const { return static_cast<size_t>(impl_->ring) * impl_->slot_bytes; }
size_t OffloadRing::block_bytes(size_t b) const { return impl_->host.at(b).bytes; }
size_t OffloadRing::host_bytes() const {
  size_t n = 0;
  for (const auto& h : impl_->host) n += h.bytes;
  return n;
}

void OffloadRing::begin(size_t count, void* stream) {
  Impl& I = *impl_;
  I.count = std::min(count, I.host.size());
  if (I.count == 0) return;
  JENGA_CUDA_CHECK(cudaEventRecord(I.start, static_cast<cudaStream_t>(stream)));
  JENGA_CUDA_CHECK(cudaStreamWaitEvent(I.copy, I.start, 0));
  for (size_t b = 0; b < std::min(static_cast<size_t>(I.ring), I.count); ++b) I.fetch(b);
}

const void* OffloadRing::acquire(size_t b, void* stream) {
  Impl& I = *impl_;
  const size_t s = b % static_cast<size_t>(I.ring);
  JENGA_CUDA_CHECK(cudaStreamWaitEvent(static_cast<cudaStream_t>(stream), I.copied[s], 0));
  return I.slots[s].data();
}

void OffloadRing::release(size_t b, void* stream) {
  Impl& I = *impl_;
  const auto ring = static_cast<size_t>(I.ring);
  if (b + ring >= I.count) return;
  JENGA_CUDA_CHECK(cudaEventRecord(I.freed[b % ring], static_cast<cudaStream_t>(stream)));
  JENGA_CUDA_CHECK(cudaStreamWaitEvent(I.copy, I.freed[b % ring], 0));
  I.fetch(b + ring);
}

}  // namespace jenga::cuda
