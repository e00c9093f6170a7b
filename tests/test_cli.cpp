#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "io/safetensors.h"
#include "test_util.h"

using jenga::test::run_jenga;
using jenga::test::TempDir;

TEST(Cli, VersionAndHelp) {
  auto v = run_jenga("--version");
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_NE(v.output.find("jenga 0."), std::string::npos) << v.output;
  // The commit is the checkout's at build time (it was the configure-time one, behind after
  // every commit); -dirty when tracked files differ.
  if (FILE* git = popen("git -C " JENGA_SOURCE_DIR " rev-parse --short HEAD 2>/dev/null", "r")) {
    char buf[64] = {};
    const bool got = fgets(buf, sizeof buf, git) != nullptr;
    const int rc = pclose(git);
    if (got && rc == 0) {
      std::string head(buf);
      while (!head.empty() && (head.back() == '\n' || head.back() == '\r')) head.pop_back();
      EXPECT_NE(v.output.find("(commit " + head), std::string::npos) << v.output << " vs HEAD " << head;
    }
  }
  for (const char* sub : {"", "generate", "inspect", "bench", "debug", "debug make-tiny", "bench attention"}) {
    auto h = run_jenga(std::string(sub) + " --help");
    EXPECT_EQ(h.exit_code, 0) << sub << ": " << h.output;
    EXPECT_NE(h.output.find("Usage"), std::string::npos) << sub;
  }
}

TEST(Cli, UsageErrorsExitTwo) {
  for (const char* args : {"", "--no-such-flag", "inspect", "inspect a b c", "generate --frames",
                           "generate --preset warp", "generate --steps abc", "frobnicate",
                           "generate --frames 80", "generate --size 833x480", "generate --size big",
                           "generate --steps 0", "--log-level loud inspect x",
                           "debug make-tiny --out /tmp/x --dtype i64", "debug make-tiny"}) {
    auto r = run_jenga(args);
    EXPECT_EQ(r.exit_code, 2) << "'" << args << "': " << r.output;
    EXPECT_NE(r.output.find("error"), std::string::npos) << args << ": " << r.output;
  }
}

TEST(Cli, MakeTinyThenInspect) {
  TempDir dir;
  const std::string out = dir / "tiny";
  auto m = run_jenga("debug make-tiny --family wan --out " + out + " --seed 3");
  ASSERT_EQ(m.exit_code, 0) << m.output;
  EXPECT_TRUE(std::filesystem::exists(out + "/config.json"));
  auto i = run_jenga("inspect " + out);
  ASSERT_EQ(i.exit_code, 0) << i.output;
  EXPECT_NE(i.output.find("blocks.1.cross_attn.norm_k.weight"), std::string::npos);
  EXPECT_NE(i.output.find("wan2.1-t2v-dit custom (official layout)"), std::string::npos) << i.output;
  EXPECT_NE(i.output.find("4 heads"), std::string::npos) << i.output;
  auto j = run_jenga("inspect --json --summary " + out);
  ASSERT_EQ(j.exit_code, 0) << j.output;
  EXPECT_NE(j.output.find("\"family\": \"wan2.1-t2v-dit\""), std::string::npos) << j.output;
  EXPECT_NE(j.output.find("\"missing\": []"), std::string::npos) << j.output;
}

TEST(Cli, InspectBadInputIsOneLineError) {
  TempDir dir;
  {
    std::ofstream f(dir / "junk.safetensors", std::ios::binary);
    f << "this is not a safetensors file at all";
  }
  auto r = run_jenga("inspect " + (dir / "junk.safetensors"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
  EXPECT_NE(r.output.find("junk.safetensors"), std::string::npos);
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  auto missing = run_jenga("inspect " + (dir / "nope"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("no such file"), std::string::npos) << missing.output;
}

TEST(Cli, InspectReportsMissingAndUnexpectedTensors) {
  TempDir dir;
  ASSERT_EQ(run_jenga("debug make-tiny --out " + (dir / "m")).exit_code, 0);
  const std::string file = dir / "m/diffusion_pytorch_model.safetensors";
  {
    // Rewrite the checkpoint without one official tensor and with one foreign tensor.
    auto f = jenga::SafetensorsFile::open(file);
    jenga::SafetensorsWriter w;
    for (const auto& t : f->header().tensors)
      if (t.name != "blocks.1.ffn.0.bias") w.add(t.name, f->load(t.name));
    w.add("extra.weight", jenga::Tensor::from_f32(std::vector<float>{1}, jenga::Shape{1}));
    f.reset();
    w.write(file);
  }
  // The DiT cannot load: the folder is not usable, and inspect says so by its exit code too.
  auto r = run_jenga("inspect --summary " + (dir / "m"));
  ASSERT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("not a usable model"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("- blocks.1.ffn.0.bias"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("+ extra.weight"), std::string::npos) << r.output;
}

// `bench vae|text-encoder --model hunyuan`: flags of one model given to the other are usage errors;
// without a GPU (or CUDA build) the HunyuanVideo benches end in one `error:` line.
TEST(Cli, BenchHunyuanFlagsAndNoGpu) {
  for (const char* args : {"bench vae --weights x", "bench text-encoder --llm x", "bench text-encoder --valid 3"}) {
    auto r = run_jenga(args);
    EXPECT_EQ(r.exit_code, 2) << "'" << args << "': " << r.output;
    EXPECT_NE(r.output.find("are for --model hunyuan"), std::string::npos) << args << ": " << r.output;
  }
  for (const char* args : {"bench text-encoder --model hunyuan", "bench vae --model hunyuan --frames 4"}) {
    auto r = run_jenga(args);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << args << ": " << r.output;
    EXPECT_EQ(r.output.find('\n'), r.output.size() - 1) << args << ": " << r.output;
  }
}
