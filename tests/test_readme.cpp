// The docs run as written: the README's CPU commands (the ```sh block after
// "<!-- readme-test: cpu -->") and every row of docs/ERRORS.md's table (after
// "<!-- errors-table -->"), so neither can drift from the binary.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "test_util.h"

using jenga::test::run_jenga_with_prefix;
using jenga::test::TempDir;
namespace fs = std::filesystem;

namespace {
const std::string kRepo = std::string(JENGA_TEST_DATA) + "/../..";

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  std::string l;
  while (std::getline(in, l)) out.push_back(l);
  return out;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
}

// Runs `cmd` (a shell line) in `cwd`; stdout and stderr together.
jenga::test::RunResult sh(const std::string& cwd, const std::string& cmd) {
  jenga::test::RunResult r;
  FILE* p = popen(("cd '" + cwd + "' && " + cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string last_line(const std::string& out) {
  std::string s = out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  const size_t nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}
}  // namespace

TEST(Readme, CpuCommandsRunAsWritten) {
  const auto lines = lines_of(kRepo + "/README.md");
  std::vector<std::string> cmds;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find("<!-- readme-test: cpu -->") == std::string::npos) continue;
    size_t j = i + 1;
    while (j < lines.size() && lines[j].rfind("```", 0) != 0) ++j;
    std::string cur;
    for (++j; j < lines.size() && lines[j].rfind("```", 0) != 0; ++j) {
      std::string l = lines[j];
      if (l.empty() || l[0] == '#') continue;
      const bool cont = !l.empty() && l.back() == '\\';
      if (cont) l.pop_back();
      cur += l;
      if (!cont) cmds.push_back(cur), cur.clear();
    }
  }
  ASSERT_GE(cmds.size(), 4u) << "no <!-- readme-test: cpu --> block in README.md";
  TempDir dir;
  const bool mp4 = jenga::test::run_jenga("generate --help").output.find("not in this build") == std::string::npos;
  for (std::string c : cmds) {
    const std::string as_written = c;
    replace_all(c, "build/bin/jenga", JENGA_BIN);
    replace_all(c, "/tmp/tiny-wan", dir / "tiny-wan");
    if (!mp4) replace_all(c, ".mp4", ".y4m");  // a build without libav or ffmpeg
    auto r = sh(dir.path().string(), c);
    EXPECT_EQ(r.exit_code, 0) << as_written << "\n" << r.output;
  }
  EXPECT_TRUE(fs::exists(dir / (mp4 ? "tiny.mp4.json" : "tiny.y4m.json")));
}

TEST(Readme, ErrorsTableIsWhatUsersSee) {
  TempDir dir;
  const std::string t = dir.path().string();
  // The fixtures the table names.
  auto jenga_ok = [](const std::string& args) { ASSERT_EQ(jenga::test::run_jenga(args).exit_code, 0) << args; };
  jenga_ok("debug make-tiny --out " + t + "/novae");
  fs::remove(t + "/novae/Wan2.1_VAE.safetensors");
  jenga_ok("debug make-tiny --family hunyuan --out " + t + "/hynovae");
  fs::remove_all(t + "/hynovae/hunyuan-video-t2v-720p/vae");
  jenga_ok("debug make-tiny --out " + t + "/pth");
  fs::remove(t + "/pth/Wan2.1_VAE.safetensors");
  std::ofstream(t + "/pth/Wan2.1_VAE.pth", std::ios::binary) << std::string("PK\x03\x04", 4) << "not read";
  jenga_ok("debug make-tiny --out " + t + "/badcfg");
  std::ofstream(t + "/badcfg/config.json") << "{\"dim\": ";
  jenga_ok("debug make-tiny --out " + t + "/dircfg");
  fs::remove(t + "/dircfg/config.json");
  fs::create_directory(t + "/dircfg/config.json");
  for (const char* d : {"x.y4m", "existing", "s.y4m.json"}) fs::create_directories(t + "/" + d);
  std::ofstream(t + "/file") << "a file";
  fs::copy_file(kRepo + "/tests/data/hunyuan_i2v/grey_50x50.png", t + "/image.png");
  ASSERT_EQ(mkfifo((t + "/fifo.safetensors").c_str(), 0600), 0);
  std::ofstream(t + "/bad_utf8.txt", std::ios::binary) << "fine\n\xff\xfe" << "bad\n";

  const auto lines = lines_of(kRepo + "/docs/ERRORS.md");
  size_t i = 0;
  while (i < lines.size() && lines[i].find("<!-- errors-table -->") == std::string::npos) ++i;
  ASSERT_LT(i, lines.size()) << "no <!-- errors-table --> in docs/ERRORS.md";
  int rows = 0;
  for (i += 3; i < lines.size() && lines[i].rfind("|", 0) == 0; ++i) {
    // | what | `jenga ARGS` | exit | `first words` |
    std::vector<std::string> cells;
    std::stringstream ss(lines[i].substr(1));
    std::string cell;
    while (std::getline(ss, cell, '|')) cells.push_back(cell);
    ASSERT_GE(cells.size(), 4u) << lines[i];
    auto code = [](std::string c) {
      const size_t a = c.find('`'), b = c.rfind('`');
      return a == std::string::npos || b <= a ? std::string() : c.substr(a + 1, b - a - 1);
    };
    std::string cmd = code(cells[1]), want = code(cells[3]);
    ASSERT_EQ(cmd.rfind("jenga ", 0), 0u) << lines[i];
    const int exit_code = std::stoi(cells[2]);
    replace_all(cmd, "{tmp}", t);
    replace_all(want, "{tmp}", t);
    auto r = run_jenga_with_prefix("timeout 60 ", cmd.substr(6));
    EXPECT_EQ(r.exit_code, exit_code) << cmd << "\n" << r.output;
    EXPECT_EQ(last_line(r.output).rfind(want, 0), 0u) << cmd << "\nwant: " << want << "\ngot:  " << r.output;
    // One error line, nothing written.
    size_t errors = 0;
    for (size_t p = 0; (p = r.output.find("error:", p)) != std::string::npos; ++p) ++errors;
    EXPECT_EQ(errors, 1u) << cmd << "\n" << r.output;
    EXPECT_FALSE(fs::exists(t + "/o.y4m")) << cmd;
    ++rows;
  }
  EXPECT_GE(rows, 15);
  // Nothing else appeared: no output, sidecar, .partial or hidden temp file.
  for (const auto& e : fs::directory_iterator(t)) {
    const std::string n = e.path().filename().string();
    EXPECT_TRUE(n == "novae" || n == "hynovae" || n == "pth" || n == "badcfg" || n == "dircfg" || n == "x.y4m" || n == "existing" || n == "s.y4m.json" || n == "file" || n == "image.png" ||
                n == "fifo.safetensors" || n == "bad_utf8.txt")
        << n;
  }
}

// Every `jenga generate` line of the README, the real-model ones included, takes its flags as
// written: with the model folders pointed at a path that does not exist, the first complaint
// must be that path (the flags parsed and passed the early checks), never a flag. (`--preset
// accvideo` was once refused by the CLI although the README named it.)
TEST(Readme, EveryGenerateLineTakesItsFlags) {
  const auto lines = lines_of(kRepo + "/README.md");
  std::vector<std::string> cmds;
  std::string cur;
  for (const std::string& raw : lines) {
    std::string l = raw;
    const size_t start = l.find_first_not_of(' ');
    if (cur.empty() && (start == std::string::npos || l.compare(start, 24, "build/bin/jenga generate") != 0)) continue;
    if (const size_t c = l.find("  #"); c != std::string::npos) l.resize(c);  // a trailing comment
    while (!l.empty() && l.back() == ' ') l.pop_back();
    const bool cont = !l.empty() && l.back() == '\\';
    if (cont) l.pop_back();
    cur += l.substr(cur.empty() ? start : 0) + " ";
    if (!cont) cmds.push_back(cur), cur.clear();
  }
  int with_model = 0;
  TempDir dir;
  for (std::string c : cmds) {
    if (c.find("~/models") == std::string::npos) continue;  // the tiny ones run in CpuCommandsRunAsWritten
    const std::string as_written = c;
    replace_all(c, "build/bin/jenga", JENGA_BIN);
    replace_all(c, "~/models", dir / "no-such-models");
    replace_all(c, "\"$P\"", "\"a cat\"");
    auto r = sh(dir.path().string(), c);
    EXPECT_NE(r.exit_code, 0) << as_written;
    EXPECT_NE(last_line(r.output).find("no-such-models"), std::string::npos) << as_written << "\n" << r.output;
    ++with_model;
  }
  EXPECT_GE(with_model, 10) << "the README's real-model generate lines were not found";
  EXPECT_TRUE(fs::is_empty(dir.path())) << "a refused command left files behind";
}
