#include "core/interrupt.h"

#include <atomic>
#include <csignal>

namespace jenga {

namespace {
std::atomic<bool> g_flag{false};

extern "C" void on_signal(int sig) {
  if (g_flag.exchange(true)) {  // second signal: stop now
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
}
}  // namespace

void install_interrupt_handler() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

bool interrupted() { return g_flag.load(std::memory_order_relaxed); }

void check_interrupt() {
  if (interrupted()) throw Interrupted();
}

}  // namespace jenga
