#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "core/error.h"

namespace jenga::log {
namespace {
std::atomic<Level> g_level{Level::Info};
std::mutex g_mutex;
}  // namespace

void set_level(Level l) { g_level.store(l); }
Level level() { return g_level.load(std::memory_order_relaxed); }

Level parse_level(std::string_view name) {
  if (name == "debug") return Level::Debug;
  if (name == "info") return Level::Info;
  if (name == "warn") return Level::Warn;
  if (name == "error") return Level::Error;
  if (name == "off") return Level::Off;
  usage_fail("unknown log level '{}': use debug, info, warn, error or off", name);
}

void write(Level l, std::string_view msg) {
  static constexpr const char* kTag[] = {"debug", "info", "warn", "error", ""};
  std::lock_guard lock(g_mutex);
  std::fprintf(stderr, "%s: %.*s\n", kTag[static_cast<int>(l)], static_cast<int>(msg.size()),
               msg.data());
}

}  // namespace jenga::log
