#include "core/interrupt.h"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <string>

#include "core/temp_paths.h"

namespace jenga {

namespace {
std::atomic<int> g_signal{0};

const char* signal_text(int sig) {
  // "in progress": with --prompts the videos finished before the signal are kept.
  return sig == SIGINT ? "interrupted by SIGINT (Ctrl-C); the output in progress was not written"
         : sig == SIGTERM ? "terminated by SIGTERM; the output in progress was not written"
         : sig == SIGHUP  ? "stopped by SIGHUP (the terminal closed; run under nohup or tmux to keep going); the "
                            "output in progress was not written"
         : sig == SIGPIPE ? "stopped by SIGPIPE (the reader of the output stream went away); the output in progress "
                            "was not written"
                          : "stopped by a signal; the output in progress was not written";
}

extern "C" void on_signal(int sig) {
  int expected = 0;
  if (!g_signal.compare_exchange_strong(expected, sig)) {
    // Second signal: clean up what can be, then stop now.
    remove_temp_paths_signal_safe();
    const char msg[] = "\nerror: second signal: stopped at once (temp files removed)\n";
    (void)!::write(2, msg, sizeof msg - 1);
    ::_exit(128 + sig);
  }
}
}  // namespace

Interrupted::Interrupted(int signal) : Error(signal_text(signal)), signal_(signal) {}

void install_interrupt_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocking read returns EINTR
  // A closed terminal (HUP) and a closed pipe on stdout/stderr (`jenga ... | head`: PIPE) would
  // otherwise end the process at once, leaving temp files and the built-in model's folder.
  for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) sigaction(sig, &sa, nullptr);
}

bool interrupted() { return g_signal.load(std::memory_order_relaxed) != 0; }
int interrupt_signal() { return g_signal.load(std::memory_order_relaxed); }

void check_interrupt() {
  if (const int s = interrupt_signal()) throw Interrupted(s);
}

}  // namespace jenga
