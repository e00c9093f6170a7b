#pragma once
// GPU time per kind of work, from CUDA events recorded around launch groups on one stream
// (the VAEs' JENGA_VAE_PROFILE=1 and `jenga bench vae --breakdown`). Off: no event is recorded,
// the work runs as is. Plain C++ header (no CUDA types): streams as void*.
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace jenga::cuda {

class EventProfile {
 public:
  explicit EventProfile(std::vector<std::string> kinds);
  ~EventProfile();
  EventProfile(const EventProfile&) = delete;
  EventProfile& operator=(const EventProfile&) = delete;

  bool on = false;
  // Runs f; when on, its launches on `stream` count towards kind k.
  template <class F>
  void run(int k, void* stream, F&& f) {
    if (!on) return f();
    begin(stream);
    f();
    end(k, stream);
  }
  // Waits for the device, adds the recorded spans to the totals and frees their events.
  void collect();
  // Milliseconds per kind since the last reset (collects first).
  std::vector<std::pair<std::string, double>> totals();
  void reset();

 private:
  void begin(void* stream);
  void end(int k, void* stream);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace jenga::cuda
