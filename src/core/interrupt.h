#pragma once
// Ctrl-C as an orderly stop: the first SIGINT/SIGTERM only raises a flag that long loops poll
// between steps (throwing Interrupted, so RAII removes temp files and nothing half-written
// stays); a second one kills the process at once.
#include "core/error_types.h"

namespace jenga {

class Interrupted : public Error {
 public:
  Interrupted() : Error("interrupted (Ctrl-C); no output was written") {}
};

void install_interrupt_handler();
bool interrupted();
// Throws Interrupted when a signal came in.
void check_interrupt();

}  // namespace jenga
