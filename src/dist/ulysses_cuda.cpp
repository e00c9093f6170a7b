#include "dist/ulysses_cuda.h"

#include <cuda_runtime.h>

#include <algorithm>

#include "backend/cuda/cuda_check.h"
#include "core/error.h"

namespace jenga::dist {

UlyssesDevice::UlyssesDevice(Communicator& comm, int64_t tokens, int64_t heads, int64_t head_dim, int64_t joint_rows)
    : comm_(comm), split_(token_split(tokens, comm.size())), heads_(heads), head_dim_(head_dim), joint_rows_(joint_rows) {
  if (!comm.device_buffers())
    fail("sequence parallel on the GPU needs a device communicator (NCCL), not {}", comm.name());
  const int ranks = comm.size();
  if (heads % ranks != 0)
    fail("sequence parallel: the model's {} attention heads do not divide over {} processes; "
         "run a number of processes that divides {} (or --parallel prompts)",
         heads, ranks, heads);
  const int64_t n = local_tokens(), w = local_heads() * head_dim;
  stage_ = Tensor::empty(DType::BF16, Shape{std::max<int64_t>(1, ranks * std::max(n * 3, joint_rows) * w)}, Device::CUDA);
  const auto nn = static_cast<size_t>(n), uw = static_cast<size_t>(w);
  for (int p = 0; p < ranks; ++p) {
    const auto cp = static_cast<size_t>(split_.count[p]), op = static_cast<size_t>(split_.offset[p]);
    const auto pp = static_cast<size_t>(p);
    qkv_sc_.push_back(nn * 3 * uw), qkv_sd_.push_back(pp * nn * 3 * uw);
    qkv_rc_.push_back(cp * 3 * uw), qkv_rd_.push_back(op * 3 * uw);
    att_sc_.push_back(cp * uw), att_sd_.push_back(op * uw);
    att_rc_.push_back(nn * uw), att_rd_.push_back(pp * nn * uw);
  }
  gather_c_.resize(static_cast<size_t>(ranks));
  gather_d_.resize(static_cast<size_t>(ranks));
}

// Pack peer-major [peer][n][3][hp][hd] (peer p gets its heads of q, k and v), then exchange.
void UlyssesDevice::qkv_to_heads(const void* qkv, int64_t row_stride, void* out, void* stream) {
  const int64_t d = heads_ * head_dim_, w = local_heads() * head_dim_, n = local_tokens(), ranks = comm_.size();
  const auto s = static_cast<cudaStream_t>(stream);
  const auto* in = static_cast<const uint16_t*>(qkv);
  auto* st = static_cast<uint16_t*>(stage_.data());
  for (int64_t p = 0; p < ranks; ++p)
    for (int64_t j = 0; j < 3; ++j)
      JENGA_CUDA_CHECK(cudaMemcpy2DAsync(st + (p * n * 3 + j) * w, static_cast<size_t>(3 * w) * 2,
                                         in + j * d + p * w, static_cast<size_t>(row_stride) * 2,
                                         static_cast<size_t>(w) * 2, static_cast<size_t>(n),
                                         cudaMemcpyDeviceToDevice, s));
  comm_.all_to_all_v(st, qkv_sc_, qkv_sd_, out, qkv_rc_, qkv_rd_, DType::BF16);
}

// Exchange into peer-major [peer][n][hp][hd], then unpack each peer's heads into the rows.
void UlyssesDevice::heads_to_seq(const void* in, void* out, int64_t out_row_stride, void* stream) {
  const int64_t w = local_heads() * head_dim_, n = local_tokens(), ranks = comm_.size();
  const auto s = static_cast<cudaStream_t>(stream);
  auto* st = static_cast<uint16_t*>(stage_.data());
  comm_.all_to_all_v(in, att_sc_, att_sd_, st, att_rc_, att_rd_, DType::BF16);
  for (int64_t p = 0; p < ranks; ++p)
    JENGA_CUDA_CHECK(cudaMemcpy2DAsync(static_cast<uint16_t*>(out) + p * w, static_cast<size_t>(out_row_stride) * 2,
                                       st + p * n * w, static_cast<size_t>(w) * 2, static_cast<size_t>(w) * 2,
                                       static_cast<size_t>(n), cudaMemcpyDeviceToDevice, s));
}

void UlyssesDevice::gather_tokens(const void* in, void* out, int64_t width) {
  for (size_t p = 0; p < gather_c_.size(); ++p) {
    gather_c_[p] = static_cast<size_t>(split_.count[p] * width);
    gather_d_[p] = static_cast<size_t>(split_.offset[p] * width);
  }
  comm_.all_gather_v(in, out, gather_c_, gather_d_, DType::BF16);
}

// This rank's heads of q, k and v of each replicated row: three strided copies.
void UlyssesDevice::joint_qkv_to_heads(const void* qkv, int64_t row_stride, int64_t rows, void* out, void* stream) {
  if (rows == 0) return;
  const int64_t d = heads_ * head_dim_, w = local_heads() * head_dim_;
  const auto* in = static_cast<const uint16_t*>(qkv) + comm_.rank() * w;
  for (int64_t j = 0; j < 3; ++j)
    JENGA_CUDA_CHECK(cudaMemcpy2DAsync(static_cast<uint16_t*>(out) + j * w, static_cast<size_t>(3 * w) * 2, in + j * d,
                                       static_cast<size_t>(row_stride) * 2, static_cast<size_t>(w) * 2,
                                       static_cast<size_t>(rows), cudaMemcpyDeviceToDevice,
                                       static_cast<cudaStream_t>(stream)));
}

// Gather every rank's heads peer-major [peer][rows][hp][hd], then unpack each peer's heads into the rows.
void UlyssesDevice::gather_joint_heads(const void* in, void* out, int64_t out_row_stride, int64_t rows, void* stream) {
  if (rows > joint_rows_) fail("sequence parallel: {} joint rows; the exchange was sized for {}", rows, joint_rows_);
  if (rows == 0) return;
  const int64_t w = local_heads() * head_dim_, ranks = comm_.size();
  auto* st = static_cast<uint16_t*>(stage_.data());
  comm_.all_gather(in, st, static_cast<size_t>(rows * w), DType::BF16);
  for (int64_t p = 0; p < ranks; ++p)
    JENGA_CUDA_CHECK(cudaMemcpy2DAsync(static_cast<uint16_t*>(out) + p * w, static_cast<size_t>(out_row_stride) * 2,
                                       st + p * rows * w, static_cast<size_t>(w) * 2, static_cast<size_t>(w) * 2,
                                       static_cast<size_t>(rows), cudaMemcpyDeviceToDevice,
                                       static_cast<cudaStream_t>(stream)));
}

}  // namespace jenga::dist
