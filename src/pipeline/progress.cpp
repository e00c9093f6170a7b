#include "pipeline/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <nlohmann/json.hpp>

namespace jenga {

Progress::Progress(Mode mode, FILE* out, Clock clock) : mode_(mode), out_(out), clock_(std::move(clock)) {
  if (!clock_) {
    clock_ = [] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    };
  }
  if (mode_ == Mode::Auto) mode_ = ::isatty(::fileno(out_)) ? Mode::Bar : Mode::Lines;
}

std::string Progress::format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  if (s < 10) {
    char b[16];
    std::snprintf(b, sizeof b, "%.1fs", s);
    return b;
  }
  const long t = std::lround(s);
  char b[32];
  if (t >= 3600)
    std::snprintf(b, sizeof b, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  else
    std::snprintf(b, sizeof b, "%ld:%02ld", t / 60, t % 60);
  return b;
}

void Progress::begin(const std::string& stage, int total, std::vector<double> step_cost) {
  stage_ = stage;
  total_ = std::max(total, 0);
  cost_ = std::move(step_cost);
  if (static_cast<int>(cost_.size()) != total_ ||
      std::any_of(cost_.begin(), cost_.end(), [](double c) { return !(c > 0) || !std::isfinite(c); }))
    cost_.clear();  // unusable: count steps
  done_ = 0;
  start_ = last_ = clock_();
  first_step_ = -1;
  render(false);
  if (listener_) listener_(stage_, 0, total_, nullptr);
}

double Progress::eta_seconds() const {
  if (done_ <= 0 || total_ <= done_) return 0;
  // The first step carries warm-up (plans, caches): average the later ones when there are some.
  const double elapsed = last_ - start_;
  if (!cost_.empty()) {
    // Seconds per unit of expected cost, from the steps after the first when there are some.
    const auto at = [&](int i) { return cost_.begin() + i; };
    const double seen = done_ > 1 ? std::accumulate(at(1), at(done_), 0.0) : cost_[0];
    const double rate = (done_ > 1 ? elapsed - first_step_ : elapsed) / seen;
    return rate * std::accumulate(at(done_), cost_.end(), 0.0);
  }
  const double per = done_ > 1 ? (elapsed - first_step_) / (done_ - 1) : elapsed;
  return per * (total_ - done_);
}

void Progress::update(int done) {
  const double now = clock_();
  if (done_ == 0 && done > 0) first_step_ = (now - start_) / done;
  done_ = std::clamp(done, 0, total_);
  last_ = now;
  render(done_ == total_);
  if (listener_) listener_(stage_, done_, total_, nullptr);
}

void Progress::end() {
  if (mode_ == Mode::Bar) std::fputc('\n', out_);
  std::fflush(out_);
}

void Progress::note(const std::string& text) {
  if (listener_) listener_("", 0, 0, &text);
  if (mode_ == Mode::Quiet) return;
  if (mode_ == Mode::Json) {
    std::fprintf(out_, "%s\n", nlohmann::json{{"event", text}}.dump().c_str());
  } else {
    std::fprintf(out_, "%s\n", text.c_str());
  }
  std::fflush(out_);
}

void Progress::render(bool final) {
  const double elapsed = last_ - start_;
  const double per = done_ > 0 ? elapsed / done_ : 0;
  switch (mode_) {
    case Mode::Quiet:
    case Mode::Auto:
      return;
    case Mode::Json:
      std::fprintf(out_, "%s\n",
                   nlohmann::json{{"stage", stage_}, {"step", done_}, {"total", total_}, {"elapsed_s", elapsed},
                                  {"s_per_step", per}, {"eta_s", eta_seconds()}}
                       .dump()
                       .c_str());
      break;
    case Mode::Lines:
      if (done_ == 0) return;  // a line per finished step
      std::fprintf(out_, "%s %d/%d  %.2f s/step  elapsed %s  eta %s\n", stage_.c_str(), done_, total_, per,
                   format_duration(elapsed).c_str(), format_duration(eta_seconds()).c_str());
      break;
    case Mode::Bar: {
      const int width = 30;
      const int fill = total_ ? done_ * width / total_ : width;
      std::string bar(static_cast<size_t>(fill), '#');
      bar.resize(width, '.');
      std::fprintf(out_, "\r%s [%s] %d/%d  %.2f s/step  %s  eta %s  ", stage_.c_str(), bar.c_str(), done_, total_,
                   per, format_duration(elapsed).c_str(),
                   final ? "0.0s" : done_ == 0 ? "?" : format_duration(eta_seconds()).c_str());  // unknown before a step
      break;
    }
  }
  std::fflush(out_);
}

}  // namespace jenga
