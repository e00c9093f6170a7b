// The `jenga` command line: generate, inspect, convert, bench, debug.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/commands.h"
#include "core/crash_report.h"
#include "core/error.h"
#include "core/error_report.h"
#include "core/interrupt.h"
#include "core/log.h"
#include "jenga/version.h"

int main(int argc, char** argv) {
  // First: a Ctrl-C from here on gets its message and exit code (before main, the libraries'
  // own start-up, nothing of ours exists yet to clean up).
  jenga::install_interrupt_handler();
  CLI::App app{"jenga: fast text- and image-to-video diffusion (Wan2.1, HunyuanVideo, AccVideo, HunyuanVideo-I2V) with Jenga (AttenCarve + ProRes)"};
  app.set_version_flag("--version", std::string("jenga ") + JENGA_VERSION_STRING + " (commit " +
                                        JENGA_GIT_COMMIT + ")");
  app.require_subcommand(1);
  app.fallthrough();
  std::string log_level = "info";
  bool verbose = false;
  app.add_option("--log-level", log_level, "debug|info|warn|error|off")->capture_default_str();
  app.add_flag("-v,--verbose", verbose, "Same as --log-level debug");
  app.parse_complete_callback([&] {
    jenga::log::set_level(verbose ? jenga::log::Level::Debug : jenga::log::parse_level(log_level));
  });

  jenga::cli::register_generate(app);
  jenga::cli::register_inspect(app);
  jenga::cli::register_convert(app);
  jenga::cli::register_bench(app);
  jenga::cli::register_debug(app);

  jenga::install_crash_handler();
  // Every error is one line starting with "error:" (core/error_report.h words it).
  auto say = [](const std::string& msg) {
    std::string one = msg;
    for (char& ch : one)
      if (ch == '\n' || ch == '\r') ch = ' ';
    std::fflush(stdout);  // what was printed before comes first; the error is the last line
    std::fprintf(stderr, "error: %s\n", one.c_str());
  };
  try {
    app.parse(argc, argv);
    jenga::check_interrupt();  // a signal that came in the last moments still gets its exit code
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // A stray value is most often one value too many for a flag (--p-remain-rates 0.3 0.3).
    const char* hint = dynamic_cast<const CLI::ExtrasError*>(&e) ? "; a flag given more values than it takes?" : "";
    std::string what = e.what();
    // CLI11's "--prompt: At Most 1 required but received 2": a flag given twice.
    if (const auto at = what.find(": At Most 1 required but received "); at != std::string::npos)
      what = what.substr(0, at) + " is given " + what.substr(at + 34) + " times; give it once";
    say(what + hint + " (see 'jenga --help' and 'jenga <command> --help')");
    return 2;
  } catch (...) {
    // The same report the C API gives (core/error_report.h): usage 2, runtime 1, a signal 128 + n.
    const jenga::ErrorReport r = jenga::report_current_exception();
    if (r.kind == jenga::ErrorReport::Kind::Interrupted) std::fputc('\n', stderr);
    say(r.message);
    return r.exit_code();
  }
  return 0;
}
