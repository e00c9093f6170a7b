// NCCL over the host communicator's bootstrap. all_to_all(_v) and all_gather_v are grouped
// ncclSend/ncclRecv (NCCL has no v-collectives); equal all_gather is ncclAllGather.
#include "dist/nccl_communicator.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <string>

#include "core/error.h"

namespace jenga::dist {

namespace {

void check(ncclResult_t rc, const char* what) {
  if (rc != ncclSuccess) fail("NCCL {} failed: {}", what, ncclGetErrorString(rc));
}
void check_cuda(cudaError_t rc, const char* what) {
  if (rc != cudaSuccess) fail("CUDA {} failed: {}", what, cudaGetErrorString(rc));
}

ncclDataType_t nccl_type(DType t) {
  switch (t) {
    case DType::F32: return ncclFloat32;
    case DType::BF16: return ncclBfloat16;
    case DType::F16: return ncclFloat16;
    case DType::I64: return ncclInt64;
    case DType::I32: return ncclInt32;
    case DType::U8:
    case DType::F8E4M3:
    case DType::F8E5M2: return ncclUint8;
  }
  fail("NCCL: unsupported dtype");
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(Communicator& host, void* stream)
      : rank_(host.rank()), size_(host.size()), local_rank_(host.local_rank()), stream_(static_cast<cudaStream_t>(stream)) {
    ncclUniqueId id{};
    if (rank_ == 0) check(ncclGetUniqueId(&id), "get_unique_id");
    host.broadcast(&id, sizeof id, DType::U8, 0);
    check(ncclCommInitRank(&comm_, size_, id, rank_), "comm_init_rank");
    check_cuda(cudaMalloc(reinterpret_cast<void**>(&token_), sizeof(int)), "malloc");
  }
  ~NcclCommunicator() override {
    if (comm_) ncclCommDestroy(comm_);
    if (token_) cudaFree(token_);
  }
  std::string_view name() const override { return "nccl"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  bool device_buffers() const override { return true; }
  void set_stream(void* s) { stream_ = static_cast<cudaStream_t>(s); }

  // The only host wait: barrier is for set-up and tear-down, never inside a step.
  void barrier() override {
    check(ncclAllReduce(token_, token_, 1, ncclInt32, ncclSum, comm_, stream_), "barrier");
    check_cuda(cudaStreamSynchronize(stream_), "barrier sync");
  }
  void broadcast(void* buf, size_t count, DType dtype, int root) override {
    check(ncclBroadcast(buf, buf, count, nccl_type(dtype), root, comm_, stream_), "broadcast");
  }
  void all_gather(const void* send, void* recv, size_t count, DType dtype) override {
    check(ncclAllGather(send, recv, count, nccl_type(dtype), comm_, stream_), "all_gather");
  }
  void all_gather_v(const void* send, void* recv, std::span<const size_t> counts, std::span<const size_t> displs,
                    DType dtype) override {
    const size_t es = dtype_size(dtype);
    const ncclDataType_t t = nccl_type(dtype);
    check(ncclGroupStart(), "group_start");
    for (int r = 0; r < size_; ++r) {
      check(ncclSend(send, counts[static_cast<size_t>(rank_)], t, r, comm_, stream_), "send");
      check(ncclRecv(static_cast<char*>(recv) + displs[static_cast<size_t>(r)] * es, counts[static_cast<size_t>(r)], t,
                     r, comm_, stream_),
            "recv");
    }
    check(ncclGroupEnd(), "group_end");
  }
  void all_to_all(const void* send, void* recv, size_t count, DType dtype) override {
    const size_t es = dtype_size(dtype);
    const ncclDataType_t t = nccl_type(dtype);
    check(ncclGroupStart(), "group_start");
    for (int r = 0; r < size_; ++r) {
      check(ncclSend(static_cast<const char*>(send) + static_cast<size_t>(r) * count * es, count, t, r, comm_, stream_),
            "send");
      check(ncclRecv(static_cast<char*>(recv) + static_cast<size_t>(r) * count * es, count, t, r, comm_, stream_),
            "recv");
    }
    check(ncclGroupEnd(), "group_end");
  }
  void all_to_all_v(const void* send, std::span<const size_t> sc, std::span<const size_t> sd, void* recv,
                    std::span<const size_t> rc, std::span<const size_t> rd, DType dtype) override {
    const size_t es = dtype_size(dtype);
    const ncclDataType_t t = nccl_type(dtype);
    check(ncclGroupStart(), "group_start");
    for (int r = 0; r < size_; ++r) {
      const size_t i = static_cast<size_t>(r);
      if (sc[i]) check(ncclSend(static_cast<const char*>(send) + sd[i] * es, sc[i], t, r, comm_, stream_), "send");
      if (rc[i]) check(ncclRecv(static_cast<char*>(recv) + rd[i] * es, rc[i], t, r, comm_, stream_), "recv");
    }
    check(ncclGroupEnd(), "group_end");
  }

 private:
  int rank_, size_, local_rank_;
  cudaStream_t stream_;
  ncclComm_t comm_ = nullptr;
  int* token_ = nullptr;  // barrier's all-reduce operand
};

}  // namespace

bool nccl_available() { return true; }

std::unique_ptr<Communicator> make_nccl_communicator(Communicator& host, void* stream) {
  return std::make_unique<NcclCommunicator>(host, stream);
}

void set_nccl_stream(Communicator& nccl, void* stream) {
  auto* n = dynamic_cast<NcclCommunicator*>(&nccl);
  if (!n) fail("set_nccl_stream: {} is no NCCL communicator", nccl.name());
  n->set_stream(stream);
}

}  // namespace jenga::dist
