// Every published Wan2.1 layout, as downloaded, through `generate --model` and `inspect`: the
// official 1.3B folder (single DiT file + converted VAE/umT5 beside the .pth), the 14B shards with
// their index, a DiT under another name (key detection), diffusers and ComfyUI. The files are
// the tiny model `debug make-tiny` writes, moved into each layout.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "test_util.h"

using jenga::test::run_jenga;
using jenga::test::TempDir;
namespace fs = std::filesystem;

namespace {
const char* kRun = " -p 'a corgi' --size 32x32 --frames 1 --steps 1 --device cpu -q";

// make-tiny's folder: the published 1.3B names.
void make_tiny(const std::string& dir) {
  auto r = run_jenga("debug make-tiny --family wan --out " + dir + " --seed 5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// The DiT as two shards and the published index (14B layout).
void shard_dit(const std::string& dir) {
  const std::string single = dir + "/diffusion_pytorch_model.safetensors";
  auto f = jenga::SafetensorsFile::open(single);
  jenga::SafetensorsWriter a, b;
  nlohmann::json map = nlohmann::json::object();
  const auto& ts = f->header().tensors;
  for (size_t i = 0; i < ts.size(); ++i) {
    const bool first = i < ts.size() / 2;
    (first ? a : b).add(ts[i].name, f->load(ts[i].name));
    map[ts[i].name] = first ? "diffusion_pytorch_model-00001-of-00002.safetensors"
                            : "diffusion_pytorch_model-00002-of-00002.safetensors";
  }
  f.reset();
  a.write(dir + "/diffusion_pytorch_model-00001-of-00002.safetensors");
  b.write(dir + "/diffusion_pytorch_model-00002-of-00002.safetensors");
  write_text(dir + "/diffusion_pytorch_model.safetensors.index.json",
             nlohmann::json{{"metadata", {{"total_size", 0}}}, {"weight_map", map}}.dump());
  fs::remove(single);
}

void expect_generates(const std::string& model_args, const std::string& out) {
  auto r = run_jenga("generate " + model_args + kRun + " -o " + out);
  EXPECT_EQ(r.exit_code, 0) << model_args << ": " << r.output;
  EXPECT_TRUE(fs::exists(out)) << model_args;
}
}  // namespace

TEST(ModelLayouts, OfficialSingleFileWithConvertedFilesBesideThePth) {
  TempDir d;
  const std::string m = d / "Wan2.1-T2V-1.3B";
  make_tiny(m);
  // The .pth files as published stay beside the converted ones: the .safetensors are taken.
  write_text(m + "/Wan2.1_VAE.pth", std::string("PK\x03\x04", 4) + "not read");
  write_text(m + "/models_t5_umt5-xxl-enc-bf16.pth", std::string("PK\x03\x04", 4) + "not read");
  expect_generates("--model " + m, d / "a.y4m");
  auto i = run_jenga("inspect --summary " + m);
  EXPECT_EQ(i.exit_code, 0) << i.output;
  EXPECT_NE(i.output.find("usable:       yes"), std::string::npos) << i.output;
  EXPECT_NE(i.output.find("Wan2.1_VAE.safetensors: wan2.1-vae"), std::string::npos) << i.output;
  // A DiT file given alone finds the rest beside it.
  expect_generates("--model " + m + "/diffusion_pytorch_model.safetensors", d / "b.y4m");
}

// .pth files load natively (tests/test_torch_checkpoint.cpp loads a tiny umT5 .pth); a corrupt one
// is named in one line and nothing is written.
TEST(ModelLayouts, CorruptPthIsNamedAndNothingIsWritten) {
  TempDir d;
  const std::string m = d / "m";
  make_tiny(m);
  fs::remove(m + "/Wan2.1_VAE.safetensors");
  write_text(m + "/Wan2.1_VAE.pth", std::string("PK\x03\x04", 4) + "not read");
  auto r = run_jenga("generate --model " + m + kRun + " -o " + (d / "a.y4m"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
  EXPECT_NE(r.output.find("Wan2.1_VAE.pth: not a valid PyTorch zip checkpoint"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(d / "a.y4m"));
}

TEST(ModelLayouts, ShardedDitWithIndex) {
  TempDir d;
  const std::string m = d / "Wan2.1-T2V-14B";
  make_tiny(m);
  shard_dit(m);
  expect_generates("--model " + m, d / "a.y4m");
  auto i = run_jenga("inspect --json --summary " + m);
  ASSERT_EQ(i.exit_code, 0) << i.output;
  const auto j = nlohmann::json::parse(i.output);
  EXPECT_EQ(j["files"].size(), 2u) << i.output;  // the DiT's shards only, no VAE or umT5
  EXPECT_EQ(j["usable"], true);
  EXPECT_NE(j["components"]["dit"]["path"].get<std::string>().find(".index.json"), std::string::npos);
}

TEST(ModelLayouts, DitUnderAnotherNameIsFoundByItsTensors) {
  TempDir d;
  const std::string m = d / "m";
  make_tiny(m);
  fs::rename(m + "/diffusion_pytorch_model.safetensors", m + "/wan2.1_t2v_tiny_fp32.safetensors");
  fs::rename(m + "/Wan2.1_VAE.safetensors", m + "/wan_2.1_vae.safetensors");
  expect_generates("--model " + m, d / "a.y4m");
}

TEST(ModelLayouts, DiffusersFolder) {
  TempDir d;
  const std::string src = d / "src", m = d / "Wan2.1-T2V-1.3B-Diffusers";
  make_tiny(src);
  for (const char* sub : {"transformer", "vae", "text_encoder", "tokenizer", "scheduler"}) fs::create_directories(m + "/" + sub);
  write_text(m + "/model_index.json", R"({"_class_name": "WanPipeline"})");
  fs::rename(src + "/diffusion_pytorch_model.safetensors", m + "/transformer/diffusion_pytorch_model.safetensors");
  fs::rename(src + "/config.json", m + "/transformer/config.json");
  fs::rename(src + "/Wan2.1_VAE.safetensors", m + "/vae/diffusion_pytorch_model.safetensors");
  fs::rename(src + "/models_t5_umt5-xxl-enc-bf16.safetensors", m + "/text_encoder/model.safetensors");
  fs::rename(src + "/google/umt5-xxl/spiece.model", m + "/tokenizer/spiece.model");
  expect_generates("--model " + m, d / "a.y4m");
  auto i = run_jenga("inspect --summary " + m);
  EXPECT_EQ(i.exit_code, 0) << i.output;
  EXPECT_NE(i.output.find("diffusers layout"), std::string::npos) << i.output;
}

TEST(ModelLayouts, ComfyUiModelsFolderAndSingleFile) {
  TempDir d;
  const std::string src = d / "src", m = d / "models";
  make_tiny(src);
  for (const char* sub : {"diffusion_models", "vae", "text_encoders"}) fs::create_directories(m + "/" + sub);
  fs::rename(src + "/diffusion_pytorch_model.safetensors", m + "/diffusion_models/wan2.1_t2v_tiny.safetensors");
  fs::rename(src + "/Wan2.1_VAE.safetensors", m + "/vae/wan_2.1_vae.safetensors");
  fs::rename(src + "/models_t5_umt5-xxl-enc-bf16.safetensors", m + "/text_encoders/umt5_xxl_tiny.safetensors");
  const std::string tok = " --tokenizer " + src + "/google/umt5-xxl";
  // No tokenizer in ComfyUI: the error says which flag gives it.
  auto r = run_jenga("generate --model " + m + kRun + " -o " + (d / "x.y4m"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("missing tokenizer"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--tokenizer"), std::string::npos) << r.output;
  expect_generates("--model " + m + tok, d / "a.y4m");
  expect_generates("--model " + m + "/diffusion_models/wan2.1_t2v_tiny.safetensors" + tok, d / "b.y4m");
  // Components one by one, as ComfyUI users pass them.
  expect_generates("--diffusion-model " + m + "/diffusion_models/wan2.1_t2v_tiny.safetensors --vae " + m +
                       "/vae/wan_2.1_vae.safetensors --t5xxl " + m + "/text_encoders/umt5_xxl_tiny.safetensors" + tok,
                   d / "c.y4m");
}

TEST(ModelLayouts, InspectNamesEachMissingComponentAndFails) {
  TempDir d;
  const std::string m = d / "m";
  make_tiny(m);
  fs::remove(m + "/models_t5_umt5-xxl-enc-bf16.safetensors");
  fs::remove_all(m + "/google");
  auto i = run_jenga("inspect --summary " + m);
  EXPECT_EQ(i.exit_code, 1) << i.output;
  EXPECT_NE(i.output.find("text encoder: missing (expected at"), std::string::npos) << i.output;
  EXPECT_NE(i.output.find("models_t5_umt5-xxl-enc-bf16.pth"), std::string::npos) << i.output;
  EXPECT_NE(i.output.find("tokenizer:    missing"), std::string::npos) << i.output;
  EXPECT_NE(i.output.find("error: "), std::string::npos) << i.output;
  // The DiT alone (make-tiny --dit-only) is still inspected as a checkpoint... and is no model.
  const std::string dit = d / "dit";
  ASSERT_EQ(run_jenga("debug make-tiny --dit-only --out " + dit).exit_code, 0);
  EXPECT_FALSE(fs::exists(dit + "/Wan2.1_VAE.safetensors"));
}

TEST(ModelLayouts, FifoAsWeightsIsRefusedAtOnce) {
  TempDir d;
  const std::string m = d / "m";
  make_tiny(m);
  fs::remove(m + "/Wan2.1_VAE.safetensors");
  ASSERT_EQ(mkfifo((m + "/Wan2.1_VAE.safetensors").c_str(), 0600), 0);
  auto r = run_jenga("generate --model " + m + kRun + " -o " + (d / "a.y4m"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("FIFO"), std::string::npos) << r.output;
  auto i = run_jenga("inspect " + m + "/Wan2.1_VAE.safetensors");
  EXPECT_EQ(i.exit_code, 1) << i.output;
  EXPECT_NE(i.output.find("FIFO"), std::string::npos) << i.output;
  ASSERT_EQ(mkfifo((d / "fifo.safetensors").c_str(), 0600), 0);
  auto g = run_jenga("generate --model " + (d / "fifo.safetensors") + kRun + " -o " + (d / "b.y4m"));
  EXPECT_EQ(g.exit_code, 1) << g.output;
  EXPECT_NE(g.output.find("FIFO"), std::string::npos) << g.output;
}
