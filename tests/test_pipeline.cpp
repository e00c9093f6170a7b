#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <csignal>
#include <sys/wait.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include "test_util.h"

using jenga::test::run_jenga;
using jenga::test::TempDir;
namespace fs = std::filesystem;

// The whole text-to-video path on the built-in tiny model, through the CLI, on the CPU.
namespace {
std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
const char* kSmall = " --size 64x48 --frames 5 --steps 3 --device cpu -q";
}  // namespace

TEST(Pipeline, TinyModelWritesVideoAndSidecar) {
  TempDir dir;
  auto r = run_jenga("generate -p 'a corgi surfing' --seed 7 -o " + (dir / "a.y4m") + kSmall);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(fs::exists(dir / "a.y4m"));
  const std::string y4m = slurp(dir / "a.y4m");
  EXPECT_EQ(y4m.rfind("YUV4MPEG2 W64 H48 F16:1", 0), 0u);
  // 5 frames of 64x48 4:2:0 plus headers.
  EXPECT_EQ(y4m.size(), std::string("YUV4MPEG2 W64 H48 F16:1 Ip A1:1 C420jpeg\n").size() + 5 * (6 + 64 * 48 * 3 / 2));
  const auto side = nlohmann::json::parse(slurp(dir / "a.y4m.json"));
  EXPECT_EQ(side["forwards"], 6);
  EXPECT_EQ(side["settings"]["seed"], 7);
  EXPECT_EQ(side["model"]["builtin_tiny"], true);
  EXPECT_FALSE(fs::exists(dir / "a.partial.y4m"));

  // Same seed, same bytes; another seed, another video.
  ASSERT_EQ(run_jenga("generate -p 'a corgi surfing' --seed 7 -o " + (dir / "b.y4m") + kSmall).exit_code, 0);
  EXPECT_EQ(slurp(dir / "b.y4m"), y4m);
  ASSERT_EQ(run_jenga("generate -p 'a corgi surfing' --seed 8 -o " + (dir / "c.y4m") + kSmall).exit_code, 0);
  EXPECT_NE(slurp(dir / "c.y4m"), y4m);
}

// --offload on the CPU: accepted, a note, the same video; recorded in the sidecar's settings. The
// flag is on generate, debug denoise and bench dit, and generate's help says the text encoder
// is freed before the DiT loads.
TEST(Pipeline, OffloadFlagOnTheCpuIsANoteAndIsRecorded) {
  TempDir dir;
  const std::string args = " -p 'a corgi' --seed 3 --size 64x48 --frames 5 --steps 2 --device cpu -o ";
  auto a = run_jenga("generate -q" + args + (dir / "a.y4m"));
  ASSERT_EQ(a.exit_code, 0) << a.output;
  auto b = run_jenga("generate --offload" + args + (dir / "b.y4m"));
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_NE(b.output.find("--offload: the DiT runs on the CPU here"), std::string::npos) << b.output;
  EXPECT_EQ(slurp(dir / "a.y4m"), slurp(dir / "b.y4m"));
  const auto sa = nlohmann::json::parse(slurp(dir / "a.y4m.json")), sb = nlohmann::json::parse(slurp(dir / "b.y4m.json"));
  EXPECT_EQ(sa["settings"]["offload"], false);
  EXPECT_EQ(sb["settings"]["offload"], true);
  EXPECT_FALSE(sb["denoise"].contains("offload"));  // nothing was streamed
  const auto help = run_jenga("generate --help");
  EXPECT_NE(help.output.find("--offload"), std::string::npos);
  EXPECT_NE(help.output.find("freed before the DiT loads"), std::string::npos) << help.output;
  EXPECT_NE(run_jenga("debug denoise --help").output.find("--offload"), std::string::npos);
  EXPECT_NE(run_jenga("bench dit --help").output.find("--offload"), std::string::npos);
}

// bench denoise names a wrong flag before it looks for a GPU (so the answer is the same with or without one).
TEST(Pipeline, BenchDenoiseChecksFlagsBeforeTheGpu) {
#if !JENGA_HAVE_CUDA
  GTEST_SKIP() << "a build without CUDA has no bench denoise (it says it needs a CUDA build)";
#endif
  for (const std::string& args : {std::string("--config hunyuan-i2v --preset turbo"),
                                  std::string("--config hunyuan --preset base --size 848x480 --frames 33"),
                                  std::string("--config hunyuan --preset nope")}) {
    auto r = run_jenga("bench denoise " + args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.output;
    EXPECT_EQ(r.output.find("no CUDA device"), std::string::npos) << args << ": " << r.output;
    EXPECT_NE(r.output.find("--preset"), std::string::npos) << args << ": " << r.output;
  }
}

TEST(Pipeline, BadRequestsFailBeforeWork) {
  TempDir dir;
  for (const std::string& args : {std::string("--frames 80"), std::string("--size 65x48"), std::string("--steps 0"),
                                  std::string("-o /nonexistent-dir/x.y4m"), std::string("-o x.avi"),
                                  std::string("--model ") + (dir / "missing")}) {
    auto r = run_jenga("generate -p x --size 64x48 --frames 5 --steps 2 -q " + args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.output;
    EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << args << ": " << r.output;
  }
  // 0 given is no default; values far outside any official one; /proc (access() says yes to root
  // there, a probe file says no). Each names its flag.
  for (const auto& [args, flag] : std::vector<std::pair<std::string, std::string>>{
           {"--size 64x48 --steps 2 --frames 0", "--frames 0"},
           {"-W 0 -H 48 --frames 5 --steps 2", "--width 0"},
           {"--size 64x48 --frames 5 --steps 2 -o ''", "-o ''"},
           {"--size 64x48 --frames 5 --steps 2 --cfg-scale 1e39", "--cfg-scale"},
           {"--size 64x48 --frames 5 --steps 2 --shift 1e30", "--shift"},
           {"--size 64x48 --frames 5 --steps 2 --shift 1e-30", "--shift"},
           {"--size 64x48 --frames 5 --steps 2 --embedded-cfg-scale 1e38", "--embedded-cfg-scale"},
           {"--size 64x48 --frames 5 --steps 2 -o /proc/x.y4m", "not writable"},
           {"--size 64x48 --frames 5 --steps 2 --prompts " + (dir / "none.txt"), "no such file"}}) {
    auto r = run_jenga("generate -q " + std::string(args.find("--prompts") == std::string::npos ? "-p x " : "") + args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.output;
    EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << args << ": " << r.output;
    EXPECT_NE(r.output.find(flag), std::string::npos) << args << ": " << r.output;
  }
  // A model folder without the VAE says which file is missing.
  fs::create_directories(dir / "m");
  ASSERT_EQ(run_jenga("debug make-tiny --out " + (dir / "m")).exit_code, 0);
  fs::remove(dir / "m/Wan2.1_VAE.safetensors");
  auto r = run_jenga("generate -p x --size 64x48 --frames 5 --steps 2 -q --model " + (dir / "m") + " -o " + (dir / "o.y4m"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("Wan2.1_VAE"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "o.y4m"));
}

// A --prompts file saved by a Windows editor (BOM, CRLF) gives the prompts as typed; a NUL byte
// is named (it cut the prompt short); a batch into "dir/" numbers folders dir_0001/, and a bad
// -o format is named as the user wrote it.
TEST(Pipeline, PromptFilesFromOtherEditors) {
  TempDir dir;
  {
    std::ofstream(dir / "win.txt", std::ios::binary) << "\xEF\xBB\xBF" "first\r\n\r\nsecond\r\n";
    std::ofstream(dir / "nul.txt", std::ios::binary) << std::string("one\0two\nthree\n", 14);
  }
  const std::string common = "generate -q --device cpu --size 64x48 --frames 5 --steps 1 --prompts ";
  auto r = run_jenga(common + (dir / "win.txt") + " -o " + (dir / "v.y4m"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(std::ifstream(dir / "v_0001.y4m.json"))["settings"]["prompt"], "first");
  EXPECT_EQ(nlohmann::json::parse(std::ifstream(dir / "v_0002.y4m.json"))["settings"]["prompt"], "second");
  auto nul = run_jenga(common + (dir / "nul.txt") + " -o " + (dir / "n.y4m"));
  EXPECT_EQ(nul.exit_code, 2) << nul.output;
  EXPECT_NE(nul.output.find("line 1 holds a NUL byte"), std::string::npos) << nul.output;
  auto avi = run_jenga(common + (dir / "win.txt") + " -o " + (dir / "x.avi"));
  EXPECT_EQ(avi.exit_code, 2) << avi.output;
  EXPECT_NE(avi.output.find("x.avi"), std::string::npos) << avi.output;
  EXPECT_EQ(avi.output.find("x_0001"), std::string::npos) << avi.output;
  // A prompt past the text encoder's 512 tokens is cut as the official code cuts it, and said.
  std::string long_prompt;
  for (int i = 0; i < 600; ++i) long_prompt += "a cat ";
  auto cut = run_jenga("generate --device cpu --size 64x48 --frames 5 --steps 1 -p '" + long_prompt + "' -o " +
                       (dir / "long.y4m"));
  ASSERT_EQ(cut.exit_code, 0) << cut.output;
  EXPECT_NE(cut.output.find("512-token limit were cut"), std::string::npos) << cut.output;
  auto short_prompt = run_jenga("generate --device cpu --size 64x48 --frames 5 --steps 1 -p 'a cat' -o " + (dir / "s.y4m"));
  EXPECT_EQ(short_prompt.output.find("token limit"), std::string::npos) << short_prompt.output;
  EXPECT_EQ(short_prompt.output.find("no prompt"), std::string::npos) << short_prompt.output;
  // No -p at all runs (an unconditional video) and says so: more often a forgotten flag.
  auto no_prompt = run_jenga("generate --device cpu --size 64x48 --frames 5 --steps 1 -o " + (dir / "np.y4m"));
  ASSERT_EQ(no_prompt.exit_code, 0) << no_prompt.output;
  EXPECT_NE(no_prompt.output.find("no prompt (-p"), std::string::npos) << no_prompt.output;
  auto folder = run_jenga(common + (dir / "win.txt") + " -o " + (dir / "frames/"));
  ASSERT_EQ(folder.exit_code, 0) << folder.output;
  EXPECT_TRUE(fs::is_directory(dir / "frames_0001")) << folder.output;
  EXPECT_TRUE(fs::is_directory(dir / "frames_0002")) << folder.output;
}

// Ctrl-C in the middle of denoising: exit code 130, a clear message, and no output file, partial
// file or sidecar left behind.
TEST(Pipeline, InterruptLeavesNothingBehind) {
  TempDir dir;
  const std::string out = dir / "run.log";
  const std::string cmd = std::string(JENGA_BIN) + " generate -p cat --size 64x48 --frames 5 --steps 1000 --device cpu -o " +
                          (dir / "v.y4m") + " --json-progress > " + out + " 2>&1";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until denoising has started (a progress line), then interrupt.
  for (int i = 0; i < 600 && slurp(out).find("\"denoise\"") == std::string::npos; ++i) usleep(50 * 1000);
  ASSERT_EQ(kill(pid, SIGINT), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << slurp(out);
  EXPECT_EQ(WEXITSTATUS(status), 130) << slurp(out);
  EXPECT_NE(slurp(out).find("interrupted"), std::string::npos) << slurp(out);
  for (const auto& e : fs::directory_iterator(dir.path())) EXPECT_EQ(e.path().filename(), "run.log");
}
