#pragma once
// Progress of a generation: a bar with step time and ETA on a terminal, plain lines otherwise,
// JSON lines for programs, or nothing. Called between steps, never inside GPU work.
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace jenga {

class Progress {
 public:
  enum class Mode { Auto, Bar, Lines, Json, Quiet };  // Auto: Bar on a TTY, else Lines
  using Clock = std::function<double()>;               // seconds, monotonic

  explicit Progress(Mode mode, FILE* out = stderr, Clock clock = {});

  // step_cost (optional, `total` entries): the expected relative cost of each step, so the ETA
  // weighs the steps left (a ProRes stage at more tokens, reused steps) instead of counting them.
  void begin(const std::string& stage, int total, std::vector<double> step_cost = {});
  // `done` steps of the stage have finished.
  void update(int done);
  void end();
  // A one-off note (model loaded, output written): its own line in every mode but Quiet/Json,
  // a {"event": ...} object in Json.
  void note(const std::string& text);

  // Also told every event (the C API's callbacks): begin/update as (stage, done, total, nullptr),
  // a note as ("", 0, 0, &text). It may throw to stop the run (cancellation): the callers call
  // Progress between steps, never inside device work.
  using Listener = std::function<void(const std::string& stage, int done, int total, const std::string* note)>;
  void set_listener(Listener l) { listener_ = std::move(l); }

  Mode mode() const { return mode_; }
  double eta_seconds() const;

  static std::string format_duration(double seconds);  // "1:05", "12:00:03", "3.2s"

 private:
  void render(bool final);
  Mode mode_;
  FILE* out_;
  Clock clock_;
  Listener listener_;
  std::string stage_;
  int total_ = 0, done_ = 0;
  double start_ = 0, last_ = 0, first_step_ = -1;
  std::vector<double> cost_;  // per step, or empty
};

}  // namespace jenga
