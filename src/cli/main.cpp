// The `jenga` command line: generate, inspect, convert, bench, debug.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <typeinfo>

#include "cli/commands.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "core/log.h"
#include "jenga/version.h"

int main(int argc, char** argv) {
  CLI::App app{"jenga: fast text-to-video diffusion with Jenga (AttenCarve + ProRes); image-to-video is planned"};
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
  // Every error is one line starting with "error:"; library exception text (JSON, filesystem,
  // CLI internals) is mapped to what happened, never shown raw.
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
    say(std::string(e.what()) + " (see 'jenga --help')");
    return 2;
  } catch (const jenga::Interrupted& e) {
    std::fputc('\n', stderr);
    say(e.what());
    return e.exit_code();
  } catch (const jenga::UsageError& e) {
    say(e.what());
    return 2;
  } catch (const jenga::Error& e) {
    say(e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    say("out of host memory; try a smaller --size, fewer --frames, or --offload on a GPU");
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    say(fmt::format("{}{}: {}", e.path1().string(), e.path2().empty() ? "" : " -> " + e.path2().string(),
                    e.code().message()));
    return 1;
  } catch (const nlohmann::json::exception&) {
    say("a JSON document could not be read or written (a config.json, index or sidecar is malformed, or a "
        "text holds invalid UTF-8); check the files named on the command line");
    return 1;
  } catch (const std::exception& e) {
    say(fmt::format("internal error ({}); please report it with the command line", typeid(e).name()));
    return 1;
  }
  return 0;
}
