#include "backend/cuda/event_profile.h"

#include <cuda_runtime.h>

#include "backend/cuda/cuda_check.h"

namespace jenga::cuda {

struct EventProfile::Impl {
  std::vector<std::string> kinds;
  std::vector<double> ms;
  std::vector<std::pair<int, std::pair<cudaEvent_t, cudaEvent_t>>> spans;
  std::vector<cudaEvent_t> free_events;
  std::vector<cudaEvent_t> open;  // begin()'s events (spans may nest)
  cudaEvent_t event() {
    if (free_events.empty()) {
      cudaEvent_t e;
      JENGA_CUDA_CHECK(cudaEventCreate(&e));
      return e;
    }
    cudaEvent_t e = free_events.back();
    free_events.pop_back();
    return e;
  }
};

EventProfile::EventProfile(std::vector<std::string> kinds) : impl_(std::make_unique<Impl>()) {
  impl_->ms.assign(kinds.size(), 0.0);
  impl_->kinds = std::move(kinds);
}

EventProfile::~EventProfile() {
  for (auto& [k, e] : impl_->spans) cudaEventDestroy(e.first), cudaEventDestroy(e.second);
  for (auto e : impl_->free_events) cudaEventDestroy(e);
}

void EventProfile::begin(void* stream) {
  auto& d = *impl_;
  d.open.push_back(d.event());
  JENGA_CUDA_CHECK(cudaEventRecord(d.open.back(), static_cast<cudaStream_t>(stream)));
}

void EventProfile::end(int k, void* stream) {
  auto& d = *impl_;
  cudaEvent_t b = d.event();
  JENGA_CUDA_CHECK(cudaEventRecord(b, static_cast<cudaStream_t>(stream)));
  d.spans.push_back({k, {d.open.back(), b}});
  d.open.pop_back();
}

void EventProfile::collect() {
  auto& d = *impl_;
  if (d.spans.empty()) return;
  JENGA_CUDA_CHECK(cudaDeviceSynchronize());
  for (auto& [k, e] : d.spans) {
    float m = 0;
    JENGA_CUDA_CHECK(cudaEventElapsedTime(&m, e.first, e.second));
    d.ms[static_cast<size_t>(k)] += m;
    d.free_events.push_back(e.first), d.free_events.push_back(e.second);
  }
  d.spans.clear();
}

std::vector<std::pair<std::string, double>> EventProfile::totals() {
  collect();
  std::vector<std::pair<std::string, double>> out;
  for (size_t i = 0; i < impl_->kinds.size(); ++i) out.emplace_back(impl_->kinds[i], impl_->ms[i]);
  return out;
}

void EventProfile::reset() {
  collect();
  impl_->ms.assign(impl_->kinds.size(), 0.0);
}

}  // namespace jenga::cuda
