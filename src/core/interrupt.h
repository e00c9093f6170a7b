#pragma once
// Ctrl-C, SIGTERM, SIGHUP and SIGPIPE as an orderly stop: the first signal only raises a flag that long loops
// poll (between DiT blocks, in the VAE's frame loops, between weights while loading), throwing
// Interrupted so RAII removes temp files and nothing half-written stays; a second one removes
// the registered temp paths (core/temp_paths.h) and ends the process at once. Exit codes follow
// the shell's convention: 128 + the signal (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP, 141 for SIGPIPE).
#include "core/error_types.h"

namespace jenga {

class Interrupted : public Error {
 public:
  explicit Interrupted(int signal);
  int signal() const { return signal_; }
  int exit_code() const { return 128 + signal_; }

 private:
  int signal_;
};

void install_interrupt_handler();
bool interrupted();
int interrupt_signal();  // the first signal received, 0 if none
// Throws Interrupted when a signal came in.
void check_interrupt();

}  // namespace jenga
