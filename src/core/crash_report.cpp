#include "core/crash_report.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "core/temp_paths.h"

namespace jenga {

namespace {

void say(const char* s, size_t n) {
  if (write(STDERR_FILENO, s, n) < 0) _exit(127);
}

// snprintf is not formally async-signal-safe but does not allocate for these formats; the
// process is going down either way and the stack is worth the risk.
void on_crash(int sig) {
  remove_temp_paths_signal_safe();
  char line[512];
  int len = snprintf(line, sizeof line,
                     "\nerror: internal crash (signal %d, %s): this is a bug in jenga; please report it with the "
                     "command and the stack below (resolve a line with: addr2line -f -C -e FILE OFFSET)\n",
                     sig, strsignal(sig));
  say(line, static_cast<size_t>(len));
  void* frames[64];
  const int n = backtrace(frames, 64);
  for (int i = 0; i < n; ++i) {
    Dl_info info{};
    if (dladdr(frames[i], &info) && info.dli_fname) {
      const auto off = reinterpret_cast<uintptr_t>(frames[i]) - reinterpret_cast<uintptr_t>(info.dli_fbase);
      len = snprintf(line, sizeof line, "  #%d %s +0x%zx %s\n", i, info.dli_fname, static_cast<size_t>(off),
                     info.dli_sname ? info.dli_sname : "");
    } else {
      len = snprintf(line, sizeof line, "  #%d %p\n", i, frames[i]);
    }
    say(line, static_cast<size_t>(len > 0 && len < static_cast<int>(sizeof line) ? len : 0));
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

}  // namespace

bool crash_handler_supported() { return !kSanitized; }

void install_crash_handler() {
  if (kSanitized) return;
  void* warm[1];
  backtrace(warm, 1);  // loads libgcc's unwinder now, not inside the handler
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) signal(sig, on_crash);
}

}  // namespace jenga
