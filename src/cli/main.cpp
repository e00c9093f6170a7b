// The `jenga` command line: generate, inspect, convert, bench, debug.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/commands.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "core/log.h"
#include "jenga/version.h"

int main(int argc, char** argv) {
  CLI::App app{"jenga: fast text/image-to-video diffusion with Jenga (AttenCarve + ProRes)"};
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

  jenga::install_interrupt_handler();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::fprintf(stderr, "error: %s (see 'jenga --help')\n", e.what());
    return 2;
  } catch (const jenga::Interrupted& e) {
    std::fprintf(stderr, "\nerror: %s\n", e.what());
    return 130;
  } catch (const jenga::UsageError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const jenga::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "error: out of host memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
