#include "dist/ulysses.h"

#include <algorithm>

#include "core/error.h"

namespace jenga::dist {

Ulysses::Ulysses(Communicator& comm, int64_t tokens, int64_t heads, int64_t head_dim)
    : comm_(comm), split_(token_split(tokens, comm.size())), heads_(heads), head_dim_(head_dim) {
  const int n = comm.size();
  if (heads % n != 0)
    fail("sequence parallel: the model's {} attention heads do not divide over {} processes; "
         "run a number of processes that divides {} (or --parallel prompts)",
         heads, n, heads);
  const int64_t hp = heads / n, row = hp * head_dim;
  // Per peer p: its shard of the sequence for our heads (what we receive in seq_to_heads),
  // and our shard for its heads (what we send).
  for (int p = 0; p < n; ++p) {
    shard_counts_.push_back(static_cast<size_t>(split_.count[p] * row));
    shard_displs_.push_back(static_cast<size_t>(split_.offset[p] * row));
    local_counts_.push_back(static_cast<size_t>(local_tokens() * row));
    local_displs_.push_back(static_cast<size_t>(p * local_tokens() * row));
  }
  pack_.resize(static_cast<size_t>(local_tokens() * heads * head_dim));
}

void Ulysses::seq_to_heads(const float* in, float* out) {
  const int n = comm_.size();
  const int64_t nl = local_tokens(), hp = local_heads(), d = head_dim_;
  // Pack peer-major: [peer][token][its heads][d].
  for (int p = 0; p < n; ++p)
    for (int64_t i = 0; i < nl; ++i)
      std::copy_n(in + (i * heads_ + p * hp) * d, hp * d, pack_.data() + ((p * nl + i) * hp) * d);
  comm_.all_to_all_v(pack_.data(), local_counts_, local_displs_, out, shard_counts_, shard_displs_, DType::F32);
}

void Ulysses::heads_to_seq(const float* in, float* out) {
  const int n = comm_.size();
  const int64_t nl = local_tokens(), hp = local_heads(), d = head_dim_;
  comm_.all_to_all_v(in, shard_counts_, shard_displs_, pack_.data(), local_counts_, local_displs_, DType::F32);
  for (int p = 0; p < n; ++p)
    for (int64_t i = 0; i < nl; ++i)
      std::copy_n(pack_.data() + ((p * nl + i) * hp) * d, hp * d, out + (i * heads_ + p * hp) * d);
}

void Ulysses::gather_tokens(const float* in, float* out, int64_t width) {
  std::vector<size_t> counts, displs;
  for (int p = 0; p < comm_.size(); ++p) {
    counts.push_back(static_cast<size_t>(split_.count[p] * width));
    displs.push_back(static_cast<size_t>(split_.offset[p] * width));
  }
  comm_.all_gather_v(in, out, counts, displs, DType::F32);
}

void Ulysses::take_heads(const float* in, float* out, int64_t rows) const {
  const int64_t hp = local_heads(), d = head_dim_, h0 = comm_.rank() * hp;
  for (int64_t i = 0; i < rows; ++i) std::copy_n(in + (i * heads_ + h0) * d, hp * d, out + i * hp * d);
}

void Ulysses::gather_heads(const float* in, float* out, int64_t rows) {
  const int n = comm_.size();
  const int64_t hp = local_heads(), d = head_dim_;
  std::vector<float> every(static_cast<size_t>(n * rows * hp * d));  // [rank][row][its heads][d]
  comm_.all_gather(in, every.data(), static_cast<size_t>(rows * hp * d), DType::F32);
  for (int p = 0; p < n; ++p)
    for (int64_t i = 0; i < rows; ++i)
      std::copy_n(every.data() + ((p * rows + i) * hp) * d, hp * d, out + (i * heads_ + p * hp) * d);
}

}  // namespace jenga::dist
