#pragma once
// make-tiny's whole folder of a family (its DiT's head dim 32, which the attention kernel lacks)
// through the CLI on the GPU: --device cuda runs it padded and dense, near the CPU run; a sparse
// preset (given by `sparse_args`) is refused in one line before the run, nothing written; --device auto
// keeps it on the CPU and says so. For the GPU tests of both DiTs.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "io/safetensors.h"
#include "tensor_compare.h"
#include "test_util.h"

namespace jenga::test {

inline void expect_tiny_folder_runs_padded(const std::string& family, const std::string& dense_args,
                                           const std::string& sparse_args) {
  TempDir dir;
  const std::string model = dir / "tiny";
  ASSERT_EQ(run_jenga("debug make-tiny --family " + family + " --seed 4 --out " + model).exit_code, 0);
  const std::string common = "generate --model " + model + " -p \"a corgi\" " + dense_args + " -q ";
  auto g = run_jenga(common + "--device cuda --latents-out " + (dir / "gpu.safetensors") + " -o " + (dir / "g.y4m"));
  ASSERT_EQ(g.exit_code, 0) << g.output;
  auto c = run_jenga(common + "--device cpu --latents-out " + (dir / "cpu.safetensors") + " -o " + (dir / "c.y4m"));
  ASSERT_EQ(c.exit_code, 0) << c.output;
  const double e = rel_l2(SafetensorsFile::open(dir / "gpu.safetensors")->load("latents").to_f32_vector(),
                          SafetensorsFile::open(dir / "cpu.safetensors")->load("latents").to_f32_vector());
  std::printf("make-tiny %s folder, head dim 32 padded: generate --device cuda vs cpu final latents rel L2 %.2e\n",
              family.c_str(), e);
  EXPECT_LT(e, 2e-2);
  auto t = run_jenga("generate --model " + model + " -p x " + sparse_args + " -q --device cuda -o " + (dir / "t.y4m"));
  EXPECT_EQ(t.exit_code, 2) << t.output;  // a usage error before any work, not a failure mid-run
  EXPECT_NE(t.output.find("runs padded to 64, dense only"), std::string::npos) << t.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "t.y4m"));
  auto a = run_jenga("generate --model " + model + " -p x " + dense_args + " -o " + (dir / "a.y4m"));
  ASSERT_EQ(a.exit_code, 0) << a.output;
  EXPECT_NE(a.output.find("head dim 32 (a test model): running on the CPU"), std::string::npos) << a.output;
}

}  // namespace jenga::test
