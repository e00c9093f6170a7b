// `jenga generate` under `mpirun -np 2` on the built-in tiny model (2 heads, CPU) against the
// one-process run: the final latents (debug dump) within max abs 1e-5, dense and a Jenga
// preset, sequence and prompts parallel. Skips when the build has no MPI.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <cstdlib>
#include <iterator>

#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "test_util.h"

using jenga::test::run_jenga;
using jenga::test::TempDir;
namespace fs = std::filesystem;

namespace {

#ifdef JENGA_MPIRUN
// Single-threaded BLAS on both sides: a threaded GEMM splits rows by thread count and changes
// f32 rounding by itself (1e-5 on these latents).
const std::string kOneThread = "OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 ";
jenga::test::RunResult run_mpi(int np, const std::string& args) {
  // OpenMPI leaks at init/finalize (LSan cannot name its dlopen'ed components): sanitizer
  // builds keep address checks, not leak checks, for MPI processes. No CMA shared-memory
  // copies: containers often forbid process_vm_readv.
  return jenga::test::run_jenga_with_prefix(kOneThread +
                                                "ASAN_OPTIONS=detect_leaks=0 OMPI_MCA_btl_vader_single_copy_mechanism=none " +
                                                JENGA_MPIRUN + " -np " +
                                                std::to_string(np) + " ",
                                            args);
}
jenga::test::RunResult run_one(const std::string& args) { return jenga::test::run_jenga_with_prefix(kOneThread, args); }
#endif

double max_abs_latents(const std::string& a, const std::string& b) {
  const auto fa = jenga::SafetensorsFile::open(a), fb = jenga::SafetensorsFile::open(b);
  const jenga::Tensor x = fa->load("latents", jenga::DType::F32), y = fb->load("latents", jenga::DType::F32);
  if (x.shape().str() != y.shape().str()) return INFINITY;
  double m = 0;
  for (int64_t i = 0; i < x.numel(); ++i)
    m = std::max(m, static_cast<double>(std::fabs(x.data_as<float>()[i] - y.data_as<float>()[i])));
  return m;
}

nlohmann::json sidecar(const std::string& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

#ifdef JENGA_MPIRUN
// `common` (a generate command line) in one process and under `mpirun -np 2`: the final latents
// within max abs 1e-5, the same forwards, the sidecars (one process, two ranks) in `sides`.
void compare_one_and_two(const TempDir& dir, const std::string& name, const std::string& common,
                         nlohmann::json sides[2]) {
  const std::string one = dir / (name + "_1"), two = dir / (name + "_2");
  auto r1 = run_one(common + " -o " + one + ".y4m --latents-out " + one + ".safetensors");
  ASSERT_EQ(r1.exit_code, 0) << r1.output;
  auto r2 = run_mpi(2, common + " -o " + two + ".y4m --latents-out " + two + ".safetensors");
  ASSERT_EQ(r2.exit_code, 0) << r2.output;
  EXPECT_LE(max_abs_latents(one + ".safetensors", two + ".safetensors"), 1e-5) << name;
  sides[0] = sidecar(one + ".y4m.json"), sides[1] = sidecar(two + ".y4m.json");
  EXPECT_EQ(sides[1]["settings"]["parallel"]["world_size"], 2) << name;
  EXPECT_EQ(sides[1]["settings"]["parallel"]["mode"], "sequence") << name;
  EXPECT_EQ(sides[1]["settings"]["parallel"]["communicator"], "mpi") << name;
  EXPECT_EQ(sides[1]["forwards"], sides[0]["forwards"]) << name;
}
#endif

}  // namespace

TEST(DistGenerate, TwoRanksEqualOneProcess) {
#ifndef JENGA_MPIRUN
  GTEST_SKIP() << "this build has no MPI";
#else
  TempDir dir;
  struct Case {
    std::string name, args;
  };
  // 128x128x5: 2 x 8 x 8 = 128 tokens, shards of 96 and 32 (48-token aligned); base: a
  // 72-token first stage (48 + 24), AttenCarve, TeaCache; 48x48x1: 9 tokens, rank 1 gets none.
  for (const Case& k : {Case{"dense", " --size 128x128 --frames 5 --steps 3"},
                        Case{"base", " --size 128x128 --frames 5 --steps 12 --preset base"},
                        Case{"tiny", " --size 48x48 --frames 1 --steps 2"}}) {
    nlohmann::json sides[2];
    compare_one_and_two(dir, k.name, "generate -p 'a corgi surfing' --seed 3 --device cpu -q" + k.args, sides);
    if (HasFatalFailure()) return;
  }
#endif
}

// HunyuanVideo (the tiny folder `debug make-tiny --family hunyuan` writes: 2 heads): image
// tokens split over the ranks in curve order, text tokens (padded) replicated. dense: 128
// tokens (96 + 32); turbo: 1152 then 2048 tokens, the fixed step-reuse list, AttenCarve with
// the text blocks and the text amplifier.
TEST(DistGenerate, HunyuanTwoRanksEqualOneProcess) {
#ifndef JENGA_MPIRUN
  GTEST_SKIP() << "this build has no MPI";
#else
  TempDir dir;
  const std::string model = dir / "ckpts";
  auto m = run_one("debug make-tiny --family hunyuan --seed 3 --out " + model);
  ASSERT_EQ(m.exit_code, 0) << m.output;
  struct Case {
    std::string name, args;
  };
  for (const Case& k : {Case{"dense", " --size 128x128 --frames 5 --steps 3"},
                        Case{"turbo", " --size 256x256 --frames 29 --steps 8 --preset turbo"}}) {
    nlohmann::json sides[2];
    compare_one_and_two(dir, k.name, "generate --model " + model + " -p 'a corgi surfing' --seed 3 --device cpu -q" + k.args,
                        sides);
    if (HasFatalFailure()) return;
    if (k.name == "turbo") {
      const double d1 = sides[0]["denoise"]["sparse_block_density"].get<double>();
      EXPECT_GT(d1, 0.0);
      EXPECT_LT(d1, 1.0);
      EXPECT_NEAR(sides[1]["denoise"]["sparse_block_density"].get<double>(), d1, 1e-6);
    }
  }
#endif
}

TEST(DistGenerate, PromptsFileSplitsWholePromptsOverRanks) {
#ifndef JENGA_MPIRUN
  GTEST_SKIP() << "this build has no MPI";
#else
  TempDir dir;
  {
    std::ofstream f(dir / "prompts.txt");
    f << "a corgi surfing\n\n  \na red kite\r\nwaves at night\n";
  }
  const std::string common = " --size 64x48 --frames 5 --steps 2 --seed 4 --device cpu -q";
  auto r = run_mpi(2, "generate --parallel prompts --prompts " + (dir / "prompts.txt") + common + " -o " +
                          (dir / "b.y4m") + " --latents-out " + (dir / "b.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const char* prompts[] = {"a corgi surfing", "a red kite", "waves at night"};
  for (int i = 0; i < 3; ++i) {
    const std::string tag = "_000" + std::to_string(i + 1);
    ASSERT_TRUE(fs::exists(dir / ("b" + tag + ".y4m"))) << r.output;
    const auto side = sidecar(dir / ("b" + tag + ".y4m.json"));
    EXPECT_EQ(side["settings"]["prompt"], prompts[i]);
    EXPECT_EQ(side["settings"]["parallel"]["mode"], "prompts");
    EXPECT_EQ(side["settings"]["parallel"]["rank"], i % 2);  // job i on rank i % 2
    auto one = run_one(std::string("generate -p '") + prompts[i] + "'" + common + " -o " + (dir / ("a" + tag + ".y4m")) +
                         " --latents-out " + (dir / ("a" + tag + ".safetensors")));
    ASSERT_EQ(one.exit_code, 0) << one.output;
    EXPECT_LE(max_abs_latents(dir / ("a" + tag + ".safetensors"), dir / ("b" + tag + ".safetensors")), 1e-5) << i;
  }
  EXPECT_FALSE(fs::exists(dir / "b_0004.y4m"));
#endif
}

TEST(DistGenerate, HeadsThatDoNotDivideFailWithOneLine) {
#ifndef JENGA_MPIRUN
  GTEST_SKIP() << "this build has no MPI";
#else
  TempDir dir;
  // The built-in tiny model has 2 heads: 3 ranks cannot share them.
  auto r = run_mpi(3, "generate -p x --size 64x48 --frames 5 --steps 2 --device cpu -q -o " + (dir / "x.y4m"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("2 attention heads do not divide over 3 processes"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "x.y4m"));
  // Sparse VideoGen's per-head attention needs every head in one process.
  r = run_mpi(2, "generate -p x --size 64x48 --frames 5 --steps 2 --attention svg --device cpu -q -o " + (dir / "s.y4m"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("needs every head on one process"), std::string::npos) << r.output;
#endif
}

TEST(DistGenerate, PromptsFileErrors) {
  TempDir dir;
  { std::ofstream f(dir / "empty.txt"); f << "\n   \n"; }
  for (const std::string& args : {"--prompts " + (dir / "empty.txt"), "--prompts " + (dir / "missing.txt"),
                                  "-p x --prompts " + (dir / "empty.txt"), std::string("-p x --parallel pipes")}) {
    auto r = run_jenga("generate --size 64x48 --frames 5 --steps 2 -q -o " + (dir / "o.y4m") + " " + args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.output;
    EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << args << ": " << r.output;
  }
}

// One process: a prompts file runs every prompt with the weights loaded once; each video equals
// the one its prompt gives alone.
TEST(DistGenerate, PromptsFileInOneProcess) {
  if (getenv("OMPI_COMM_WORLD_SIZE")) GTEST_SKIP() << "launched by mpirun";
  TempDir dir;
  {
    std::ofstream f(dir / "p.txt");
    f << "a corgi surfing\nwaves at night\n";
  }
  const std::string common = " --size 64x48 --frames 5 --steps 2 --seed 4 --device cpu -q";
  auto r = run_jenga("generate --prompts " + (dir / "p.txt") + common + " -o " + (dir / "v.y4m"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(fs::exists(dir / "v_0001.y4m"));
  ASSERT_TRUE(fs::exists(dir / "v_0002.y4m"));
  EXPECT_FALSE(fs::exists(dir / "v.y4m"));
  EXPECT_EQ(sidecar(dir / "v_0002.y4m.json")["settings"]["prompt"], "waves at night");
  EXPECT_EQ(sidecar(dir / "v_0002.y4m.json")["settings"]["parallel"]["mode"], "none");
  ASSERT_EQ(run_jenga("generate -p 'waves at night'" + common + " -o " + (dir / "w.y4m")).exit_code, 0);
  std::ifstream a(dir / "v_0002.y4m", std::ios::binary), b(dir / "w.y4m", std::ios::binary);
  const std::string va{std::istreambuf_iterator<char>(a), {}}, vb{std::istreambuf_iterator<char>(b), {}};
  EXPECT_EQ(va, vb);
}
