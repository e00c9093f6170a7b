#pragma once
// Pinned-memory block streaming for a DiT forward (--offload): each block's weights live in one
// pinned host buffer; a ring of device buffers takes them in turn on a copy stream of the
// ring's own, ordered by CUDA events only, so the copy of block i+1 runs while block i computes
// and block i+ring's copy starts once block i has read its weights. Blocks may differ in size
// and kind (HunyuanVideo's double- and single-stream blocks): a slot holds the largest, and the
// model lays each block out in its buffer as it likes (the same layout it uses resident).
//
// A forward runs  begin(blocks, stream)  then, per block b in order:
//   mats = acquire(b, stream); ... enqueue every read of mats ...; release(b, stream); ...
// No allocation, no host sync, no logging in begin/acquire/release: a forward that uses them can
// be captured in a CUDA graph (the copy stream joins the capture through `begin`'s event, and
// every copy it makes is waited for by a later block, so a captured forward ends joined).
// Plain C++ header: streams are void*.
#include <cstddef>
#include <memory>

namespace jenga::cuda {

class OffloadRing {
 public:
  // `what` names the weights in the out-of-pinned-memory error ("DiT block").
  explicit OffloadRing(const char* what = "DiT block");
  ~OffloadRing();  // waits for in-flight copies before freeing the pinned buffers
  OffloadRing(const OffloadRing&) = delete;
  OffloadRing& operator=(const OffloadRing&) = delete;

  // Pins a host buffer of `bytes` for the next block (index = blocks() before the call) and
  // returns it for the caller to fill. Throws jenga::Error (one line, says to free host memory
  // or run without --offload) when the memory cannot be pinned.
  void* add_block(size_t bytes);
  // After the last add_block: a ring of min(ring, blocks()) device buffers of the largest
  // block's size, the copy stream and its events. Allocates.
  void finish(int ring = 2);

  size_t blocks() const;
  int ring() const;                // device buffers (0 before finish)
  size_t slot_bytes() const;       // one device buffer: the largest block
  size_t host_bytes() const;       // pinned bytes over all blocks
  size_t device_bytes() const;     // ring() * slot_bytes()
  size_t block_bytes(size_t b) const;

  // Starts the forward's streaming of blocks 0 .. count-1 (count <= blocks(); 0 = nothing):
  // the first ring() copies are enqueued behind everything already on `stream` (which includes
  // the previous forward's last reads of the ring).
  void begin(size_t count, void* stream);
  // Makes `stream` wait until block b has arrived; returns its device copy (valid until
  // release(b)).
  const void* acquire(size_t b, void* stream);
  // Every read of block b's device copy is enqueued on `stream`: its slot takes block
  // b + ring() (if that is below begin's count).
  void release(size_t b, void* stream);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace jenga::cuda
