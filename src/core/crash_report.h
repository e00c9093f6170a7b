#pragma once
// A crash (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) is a bug: instead of dying silently with
// "Segmentation fault", the process removes its registered temp paths (core/temp_paths.h, so no
// partial output stays), prints one "error: internal crash" line and the stack as
// "FILE +OFFSET [symbol]" lines that `addr2line -f -C -e FILE OFFSET` resolves (the GPU machine
// has no debugger), then dies by the same signal (exit status 128 + n).
// Not installed under AddressSanitizer, whose own report is better.

namespace jenga {

void install_crash_handler();
// False under AddressSanitizer (install_crash_handler() then does nothing).
bool crash_handler_supported();

}  // namespace jenga
