// The streamed random-weight writers (models/random_checkpoint.h) and the full-size HunyuanVideo
// folder (`debug make-tiny --family hunyuan --size 13b`): the streamed file is what the in-memory
// writer would write, chunk boundaries and shards continue one Philox stream, the published
// spec's tensors add up to the release's sizes, and a reduced spec (sharded LLM, real
// vocabularies) runs through `generate` with our loaders — without writing 42 GB in CI.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/rng.h"
#include "io/safetensors.h"
#include "models/hunyuan/hunyuan_tiny_folder.h"
#include "models/hunyuan/hunyuan_vae.h"
#include "models/random_checkpoint.h"
#include "hunyuan_test_tokenizers.h"
#include "test_util.h"

namespace jenga {
namespace {
namespace fs = std::filesystem;

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// What tensor t must hold: its stream range scaled, rounded to dtype.
std::vector<float> expected_values(const RandomTensor& t, uint64_t seed, uint64_t offset, DType dtype) {
  int64_t n = 1;
  for (int64_t d : t.shape) n *= d;
  std::vector<float> v(static_cast<size_t>(n));
  fill_normal(v, seed, offset);
  for (float& x : v) x = t.init.shift + t.init.scale * x;
  return Tensor::from_f32(v, Shape(std::span<const int64_t>(t.shape)), dtype).to_f32_vector();
}

TEST(RandomCheckpoint, StreamedFileIsByteForByteTheInMemoryWritersFile) {
  test::TempDir dir;
  const TensorShapes shapes = {{"b.weight", {7, 5}}, {"a.bias", {3}}, {"c.norm.weight", {4}}, {"d", {2, 3, 2}}};
  const auto plan = random_tensor_plan(shapes, [](const std::string& n) -> std::optional<RandomInit> {
    if (n == "c.norm.weight") return RandomInit{0.1f, 1.0f};
    return std::nullopt;
  });
  EXPECT_FLOAT_EQ(plan[0].init.scale, 1.0f / std::sqrt(5.0f));  // 1/sqrt(fan_in)
  EXPECT_FLOAT_EQ(plan[1].init.scale, 0.02f);
  EXPECT_FLOAT_EQ(plan[2].init.shift, 1.0f);
  const std::map<std::string, std::string> meta = {{"format", "pt"}};
  const uint64_t end = write_random_safetensors(dir / "s.safetensors", plan, 11, 100, DType::BF16, meta);
  EXPECT_EQ(end, 100u + 35 + 3 + 4 + 12);
  SafetensorsWriter w;
  uint64_t offset = 100;
  for (const auto& t : plan) {
    const auto v = expected_values(t, 11, offset, DType::F32);
    offset += v.size();
    w.add(t.name, Tensor::from_f32(v, Shape(std::span<const int64_t>(t.shape)), DType::BF16));
  }
  w.set_metadata("format", "pt");
  w.write(dir / "m.safetensors");
  EXPECT_EQ(slurp(dir / "s.safetensors"), slurp(dir / "m.safetensors"));
}

// A tensor larger than the 2^24-value chunk, between small ones: the chunks join seamlessly.
TEST(RandomCheckpoint, StreamingAcrossChunksKeepsTheStream) {
  test::TempDir dir;
  const TensorShapes shapes = {{"x.bias", {5}}, {"big.weight", {(int64_t{1} << 24) + 3, 1}}, {"y.bias", {9}}};
  const auto plan = random_tensor_plan(shapes, nullptr);
  write_random_safetensors(dir / "f.safetensors", plan, 5, 1, DType::F16, {});
  const Checkpoint c = Checkpoint::open(dir / "f.safetensors");
  uint64_t offset = 1;
  for (const auto& t : plan) {
    const auto want = expected_values(t, 5, offset, DType::F16);
    offset += want.size();
    const auto got = c.load(t.name, DType::F32).to_f32_vector();
    ASSERT_EQ(got.size(), want.size()) << t.name;
    size_t bad = 0;
    for (size_t i = 0; i < got.size(); ++i) bad += got[i] != want[i];
    EXPECT_EQ(bad, 0u) << t.name;
  }
}

TEST(RandomCheckpoint, ShardsSplitByBytesWithAnIndexAndOneStream) {
  test::TempDir dir;
  TensorShapes shapes;
  for (int i = 0; i < 7; ++i) shapes.push_back({"model.l" + std::to_string(i) + ".weight", {16 * (i + 1), 8}});
  const auto plan = random_tensor_plan(shapes, nullptr);
  write_random_sharded(dir.path().string(), plan, 9, DType::F16, 3, {});
  const auto index = nlohmann::json::parse(slurp(dir / "model.safetensors.index.json"));
  std::set<std::string> files;
  for (const auto& [name, file] : index["weight_map"].items()) files.insert(file.get<std::string>());
  EXPECT_EQ(files, (std::set<std::string>{"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                                          "model-00003-of-00003.safetensors"}));
  EXPECT_EQ(index["metadata"]["total_size"], 2 * 8 * 16 * (1 + 2 + 3 + 4 + 5 + 6 + 7));
  const Checkpoint c = Checkpoint::open(dir.path().string());  // the folder, as the text encoder loader opens it
  uint64_t offset = 0;
  for (const auto& t : plan) {
    const auto want = expected_values(t, 9, offset, DType::F16);
    offset += want.size();
    ASSERT_TRUE(c.contains(t.name)) << t.name;
    EXPECT_EQ(c.load(t.name, DType::F32).to_f32_vector(), want) << t.name;
  }
}

double numel_sum(const TensorShapes& t) {
  double n = 0;
  for (const auto& [name, shape] : t) {
    double k = 1;
    for (int64_t d : shape) k *= static_cast<double>(d);
    n += k;
  }
  return n;
}

// The published spec, listed without writing it: every file where the release has it, the
// release's tensor names and sizes.
// A failed write takes back what it created (a full disk halfway through 42 GB must not leave
// tens of GB behind) and leaves alone what was there.
TEST(HunyuanRandomFolder, FailureRemovesWhatItCreated) {
  test::TempDir dir;
  const fs::path root = dir / "ckpts";
  fs::create_directories(root);
  std::ofstream(root / "text_encoder_2") << "a file where a folder belongs";
  EXPECT_THROW(hunyuan::write_tiny_hunyuan_folder(root.string(), 0, DType::F32), Error);
  EXPECT_FALSE(fs::exists(root / "hunyuan-video-t2v-720p"));
  EXPECT_FALSE(fs::exists(root / "text_encoder"));
  EXPECT_TRUE(fs::is_regular_file(root / "text_encoder_2"));
  // A new folder goes as a whole; a good run keeps everything.
  const fs::path fresh = dir / "fresh";
  hunyuan::write_tiny_hunyuan_folder(fresh.string(), 0, DType::F32);
  EXPECT_TRUE(fs::exists(fresh / "hunyuan-video-t2v-720p" / "transformers"));
  EXPECT_TRUE(fs::exists(fresh / "text_encoder_2" / "model.safetensors"));
}

TEST(HunyuanRandomFolder, PublishedSpecHasTheReleasesShapes) {
  using namespace hunyuan;
  const auto spec = HunyuanFolderSpec::published();
  const auto w = hunyuan_folder_weights(spec, 0, 0);
  ASSERT_EQ(w.size(), 4u);
  EXPECT_EQ(w[0].path, "hunyuan-video-t2v-720p/transformers/diffusion_pytorch_model.safetensors");
  EXPECT_EQ(w[0].dtype, DType::BF16);
  EXPECT_EQ(w[0].tensors, official_tensors(HunyuanConfig::t2v_720p()));
  EXPECT_NEAR(numel_sum(w[0].tensors) / 1e9, 12.82, 0.01);  // HunyuanVideo 13B: 12.82 B parameters
  EXPECT_EQ(numel_sum(w[0].tensors), static_cast<double>(spec.dit.parameter_count()));
  EXPECT_EQ(w[1].dtype, DType::F32);  // vae/pytorch_model.pt is f32, 986 MB
  EXPECT_NEAR(numel_sum(w[1].tensors) * 4 / 1e6, 986, 5);
  EXPECT_EQ(w[1].tensors, hunyuan_vae_tensors(HunyuanVaeConfig{}));
  // llava-llama-3-8b's LM: Llama-3-8B (8,030,261,248 with vocab 128256) + 64 rows in the
  // embedding and the LM head; 4 fp16 shards.
  EXPECT_EQ(w[2].path, "text_encoder/");
  EXPECT_EQ(w[2].dtype, DType::F16);
  EXPECT_EQ(numel_sum(w[2].tensors), 8030261248.0 + 2 * 64 * 4096);
  EXPECT_EQ(numel_sum(w[2].tensors), spec.llm.parameter_count());
  EXPECT_EQ(spec.llm_shards, 4);
  EXPECT_EQ(w[2].tensors.front(), (std::pair<std::string, std::vector<int64_t>>{"model.embed_tokens.weight", {128320, 4096}}));
  EXPECT_EQ(w[2].tensors.back(), (std::pair<std::string, std::vector<int64_t>>{"lm_head.weight", {128320, 4096}}));
  EXPECT_EQ(w[2].config["num_key_value_heads"], 8);
  EXPECT_EQ(w[2].config["intermediate_size"], 14336);
  // CLIPTextModel of openai/clip-vit-large-patch14: 123,060,480 parameters.
  EXPECT_EQ(numel_sum(w[3].tensors), 123060480.0);
  EXPECT_EQ(numel_sum(w[3].tensors), spec.clip.parameter_count());
  EXPECT_EQ(w[3].config["bos_token_id"], 49406);
  double bytes = 0;
  for (const auto& f : w) bytes += numel_sum(f.tensors) * static_cast<double>(dtype_size(f.dtype));
  EXPECT_NEAR(bytes / 1e9, 42.9, 0.2);
}

// The published spec's every feature (sharded LLM with its LM head, real vocabularies,
// published vocab sizes, per-component dtypes) at a size the CPU runs: generate loads every
// component of it through the folder resolver and our loaders.
TEST(HunyuanRandomFolder, ReducedSpecRunsThroughGenerate) {
  JENGA_REQUIRE_TEST_TOKENIZER(tokenizers, "");
  using namespace hunyuan;
  test::TempDir dir;
  auto spec = HunyuanFolderSpec::published();
  const auto tiny = HunyuanFolderSpec::tiny(DType::F32);
  spec.dit = tiny.dit, spec.vae = tiny.vae;
  spec.llm.hidden = tiny.dit.text_dim, spec.llm.layers = 3, spec.llm.heads = 2, spec.llm.kv_heads = 1;
  spec.llm.head_dim = spec.llm.hidden / 2, spec.llm.ffn = 64;
  spec.clip.hidden = tiny.dit.text_dim_2, spec.clip.layers = 2, spec.clip.heads = 2, spec.clip.ffn = 64;
  spec.llm_shards = 3;
  spec.tokenizers = tokenizers;
  const std::string model = dir / "ckpts";
  const auto info = write_random_hunyuan_folder(model, spec, 3);
  EXPECT_EQ(info.template_tokens, 95);
  for (const char* f : {"text_encoder/model-00003-of-00003.safetensors", "text_encoder/model.safetensors.index.json",
                        "text_encoder/config.json", "text_encoder/tokenizer.json", "text_encoder_2/vocab.json",
                        "text_encoder_2/model.safetensors", "hunyuan-video-t2v-720p/vae/config.json"})
    EXPECT_TRUE(fs::exists(fs::path(model) / f)) << f;
  const Checkpoint dit = Checkpoint::open(model + "/hunyuan-video-t2v-720p/transformers");
  EXPECT_EQ(dit.info("img_in.proj.weight").dtype, DType::BF16);
  const Checkpoint llm = Checkpoint::open(model + "/text_encoder");
  EXPECT_EQ(llm.info("model.embed_tokens.weight").dtype, DType::F16);
  EXPECT_EQ(llm.info("model.embed_tokens.weight").shape[0], 128320);
  const std::string out = dir / "cat.y4m";
  auto g = test::run_jenga("generate --model " + model + " -p \"a cat walks on the grass\" --size 32x32 --frames 5 "
                           "--steps 2 -q -o " + out);
  ASSERT_EQ(g.exit_code, 0) << g.output;
  const auto j = nlohmann::json::parse(slurp(out + ".json"));
  EXPECT_EQ(j["model"]["folder_layout"], "official ckpts");
  // The phases are disjoint parts of the total (model open to video written).
  double phases = 0;
  for (const char* phase : {"load", "vae_load", "text", "denoise", "vae_decode", "write_video"}) {
    ASSERT_TRUE(j["timings_s"].contains(phase)) << phase;
    phases += j["timings_s"][phase].get<double>();
  }
  EXPECT_GE(j["timings_s"]["total"].get<double>(), phases);
}

}  // namespace
}  // namespace jenga
