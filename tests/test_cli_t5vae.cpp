// `jenga debug encode-text | vae-decode | vae-encode | tokenize` on the official goldens, and
// their one-line errors for bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "golden_compare.h"
#include "io/safetensors.h"
#include "models/wan/tokenizer.h"
#include "test_util.h"

using jenga::test::max_rel_error;
using jenga::test::run_jenga;
using jenga::test::TempDir;

namespace {
const std::string kData = std::string(JENGA_TEST_DATA);
const std::string kVae = kData + "/wan_vae/tiny_vae.safetensors";
const std::string kT5 = kData + "/wan_t5/tiny_t5.safetensors";

void expect_one_line_error(const jenga::test::RunResult& r, int code, const std::string& needle) {
  EXPECT_EQ(r.exit_code, code) << r.output;
  EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_NE(r.output.find(needle), std::string::npos) << r.output;
}
}  // namespace

TEST(CliT5Vae, EncodeTextMatchesOfficial) {
  TempDir dir;
  const std::string in = kData + "/wan_t5/encode_a.safetensors";
  auto r = run_jenga("debug encode-text --text-encoder " + kT5 + " --ids " + in + " --out " + (dir / "ctx.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto got = jenga::SafetensorsFile::open(dir / "ctx.safetensors")->load("context");
  auto want = jenga::SafetensorsFile::open(in)->load("context");
  ASSERT_EQ(got.shape(), want.shape());
  EXPECT_LE(max_rel_error(got.to_f32_vector(), want.to_f32_vector()), 1e-4);
}

TEST(CliT5Vae, VaeDecodeAndEncodeMatchOfficial) {
  TempDir dir;
  const std::string dec = kData + "/wan_vae/decode_b.safetensors";
  auto r = run_jenga("debug vae-decode --vae " + kVae + " --latents " + dec + " --out " + (dir / "f.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto got = jenga::SafetensorsFile::open(dir / "f.safetensors")->load("frames").to_f32_vector();
  auto want = jenga::SafetensorsFile::open(dec)->load("frames_raw").to_f32_vector();
  for (auto& x : want) x = std::clamp(x, -1.0f, 1.0f);
  EXPECT_LE(max_rel_error(got, want), 1e-4);

  const std::string enc = kData + "/wan_vae/encode_b.safetensors";
  r = run_jenga("debug vae-encode --vae " + kVae + " --frames " + enc + " --out " + (dir / "z.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_LE(max_rel_error(jenga::SafetensorsFile::open(dir / "z.safetensors")->load("latents").to_f32_vector(),
                          jenga::SafetensorsFile::open(enc)->load("latents").to_f32_vector()),
            1e-4);
}

// 6 frames (not 1 + 4k): the official encoder reads frame 0 and one chunk of 4, the last frame is
// not encoded (encode_c, tools/golden/wan_vae_golden.py); it was refused here.
TEST(CliT5Vae, VaeEncodeDropsFramesPastTheLastChunkAsOfficial) {
  TempDir dir;
  const std::string enc = kData + "/wan_vae/encode_c.safetensors";
  auto r = run_jenga("debug vae-encode --vae " + kVae + " --frames " + enc + " --out " + (dir / "z.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("the last 1 are dropped"), std::string::npos) << r.output;
  const auto got = jenga::SafetensorsFile::open(dir / "z.safetensors")->load("latents");
  const auto want = jenga::SafetensorsFile::open(enc)->load("latents");
  ASSERT_EQ(got.shape(), want.shape());  // [16, 2, 1, 2]
  EXPECT_LE(max_rel_error(got.to_f32_vector(), want.to_f32_vector()), 1e-4);
}

// A diffusers text_encoder/ whose config.json sets relative_attention_max_distance 64 (the official
// encoder fixes 128): transformers' UMT5EncoderModel output on 150 tokens (wan_t5_golden.py). It
// was computed with 128 (rel 0.5 off); an activation or epsilon other than umT5's is named.
TEST(CliT5Vae, DiffusersConfigMaxDistanceIsRead) {
  TempDir dir;
  const std::string folder = kData + "/wan_t5/hf_maxdist64", in = kData + "/wan_t5/hf_maxdist64_case.safetensors";
  auto r = run_jenga("debug encode-text --text-encoder " + folder + " --ids " + in + " --out " + (dir / "c.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_LE(max_rel_error(jenga::SafetensorsFile::open(dir / "c.safetensors")->load("context").to_f32_vector(),
                          jenga::SafetensorsFile::open(in)->load("context").to_f32_vector()),
            1e-4);
  const std::filesystem::path relu = dir / "relu";
  std::filesystem::create_directories(relu);
  std::filesystem::copy_file(folder + "/model.safetensors", relu / "model.safetensors");
  std::ifstream cfg_in(folder + "/config.json");
  auto cfg = nlohmann::json::parse(cfg_in);
  cfg["feed_forward_proj"] = "relu";
  std::ofstream(relu / "config.json") << cfg.dump();
  expect_one_line_error(
      run_jenga("debug encode-text --text-encoder " + relu.string() + " --ids " + in + " --out " + (dir / "d.safetensors")), 1,
      "'feed_forward_proj' \"relu\" is not supported");
  // A folder where config.json belongs is named (it was skipped: the max distance silently 128).
  const std::filesystem::path dircfg = dir / "dircfg";
  std::filesystem::create_directories(dircfg / "config.json");
  std::filesystem::copy_file(folder + "/model.safetensors", dircfg / "model.safetensors");
  expect_one_line_error(
      run_jenga("debug encode-text --text-encoder " + dircfg.string() + " --ids " + in + " --out " + (dir / "e.safetensors")),
      1, (dircfg / "config.json").string() + ": is a folder, not a JSON file");
}

TEST(CliT5Vae, TokenizePrintsJson) {
  if (!jenga::wan::UmT5Tokenizer::available()) GTEST_SKIP() << "built without SentencePiece";
  auto r = run_jenga("debug tokenize --tokenizer " + kData + "/wan_t5/tiny_spm.model --text 'Tom &amp; Jerry' --text-len 32");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  std::ifstream f(kData + "/wan_t5/tokenizer_golden.json");
  for (const auto& c : nlohmann::json::parse(f))
    if (c["text"] == "Tom &amp; Jerry" && c["text_len"] == 32) {
      EXPECT_EQ(j["ids"], c["ids"]);
      EXPECT_EQ(j["mask"], c["mask"]);
    }
  EXPECT_EQ(j["ids"].size(), 32u);
}

TEST(CliT5Vae, BadInputIsOneLineError) {
  TempDir dir;
  const std::string out = " --out " + (dir / "o.safetensors");
  const std::string ids = kData + "/wan_t5/encode_a.safetensors";
  const std::string lat = kData + "/wan_vae/decode_c.safetensors";
  // A checkpoint for the wrong role names the file and what was expected.
  expect_one_line_error(run_jenga("debug encode-text --text-encoder " + kVae + " --ids " + ids + out), 1,
                        "tiny_vae.safetensors is not a umT5 text encoder (it looks like a VAE)");
  expect_one_line_error(run_jenga("debug vae-decode --vae " + kT5 + " --latents " + lat + out), 1,
                        "tiny_t5.safetensors is a umT5 text encoder, not a Wan2.1 VAE");
  expect_one_line_error(run_jenga("debug vae-decode --vae " + (dir / "nope.safetensors") + " --latents " + lat + out), 1,
                        "no such file");
  expect_one_line_error(run_jenga("debug vae-decode --vae " + kVae + " --latents " + ids + out), 1,
                        "has no tensor named 'latents'");
  expect_one_line_error(run_jenga("debug encode-text --text-encoder " + kT5 + " --ids " + lat + out), 1,
                        "has no tensor named 'ids'");
  expect_one_line_error(run_jenga("debug vae-encode --vae " + kVae + " --frames " + lat + out + " --device cuda"), 1,
                        "not in this build yet");
  expect_one_line_error(run_jenga("debug vae-decode --vae " + kVae + " --latents " + lat + out + " --device tpu"), 2,
                        "--device");
  expect_one_line_error(run_jenga("debug encode-text --ids " + ids + out), 2, "--text-encoder");
  expect_one_line_error(run_jenga("debug tokenize --tokenizer " + (dir / "missing.model") + " --text hi"), 1,
                        "missing.model does not exist");
  expect_one_line_error(run_jenga("debug tokenize --tokenizer x --text hi --text-len 0"), 2, "--text-len");
  {  // a truncated PyTorch zip checkpoint (the published .pth format) is named as one
    std::ofstream f(dir / "Wan2.1_VAE.pth", std::ios::binary);
    f << "PK\x03\x04 archive/data.pkl";
  }
  expect_one_line_error(run_jenga("debug vae-decode --vae " + (dir / "Wan2.1_VAE.pth") + " --latents " + lat + out), 1,
                        "not a valid PyTorch zip checkpoint");
  expect_one_line_error(run_jenga("debug encode-text --text-encoder " + (dir / "Wan2.1_VAE.pth") + " --ids " + ids + out),
                        1, "Wan2.1_VAE.pth: not a valid PyTorch zip checkpoint");
  {  // latents with the wrong channel count
    jenga::SafetensorsWriter w;
    w.add("latents", jenga::Tensor::zeros(jenga::DType::F32, {4, 1, 2, 2}));
    w.write(dir / "bad.safetensors");
  }
  expect_one_line_error(run_jenga("debug vae-decode --vae " + kVae + " --latents " + (dir / "bad.safetensors") + out), 1,
                        "expected [16, T, H, W]");
  EXPECT_FALSE(std::filesystem::exists(dir / "o.safetensors"));
}

namespace {
// A safetensors file of raw tensors in any stored dtype (F64, BOOL, I32 ... from torch / numpy).
struct RawTensor {
  std::string name, dtype;
  std::vector<int64_t> shape;
  std::vector<double> v;
};
std::string write_raw(const std::string& path, const std::vector<RawTensor>& ts) {
  jenga::SafetensorsWriter w;
  for (const auto& t : ts) {
    auto bytes = std::make_shared<std::vector<uint8_t>>();
    for (double x : t.v) {
      auto put = [&](auto y) {
        const auto* b = reinterpret_cast<const uint8_t*>(&y);
        bytes->insert(bytes->end(), b, b + sizeof(y));
      };
      if (t.dtype == "F64") put(x);
      else if (t.dtype == "F32") put(static_cast<float>(x));
      else if (t.dtype == "I32") put(static_cast<int32_t>(x));
      else put(static_cast<uint8_t>(x));  // BOOL
    }
    w.add_view(t.name, t.dtype, t.shape, *bytes, bytes);
  }
  w.write(path);
  return path;
}
std::vector<int64_t> dims_of(const jenga::Tensor& t) {
  return {t.shape().dims.begin(), t.shape().dims.begin() + t.shape().ndim};
}
std::vector<double> doubles(const jenga::Tensor& t) {
  const auto f = t.to(jenga::DType::F32).to_f32_vector();
  return {f.begin(), f.end()};
}
}  // namespace

// The inputs as torch / numpy write them: f64 latents or frames, i32 ids without the batch dim, a
// bool or float mask; read exactly (they were refused as "a checkpoint jenga does not load").
TEST(CliT5Vae, InputsInAnyDtypeTheOfficialCodeTakes) {
  TempDir dir;
  const std::string out = " --out " + (dir / "o.safetensors");
  const auto ids_file = jenga::SafetensorsFile::open(kData + "/wan_t5/encode_a.safetensors");
  const jenga::Tensor ids = ids_file->load("ids"), mask = ids_file->load("mask");
  const auto want_ctx = ids_file->load("context").to_f32_vector();
  const int64_t L = ids.numel();
  for (const char* mask_dtype : {"BOOL", "F32"}) {
    const auto in = write_raw(dir / "ids.safetensors", {{"ids", "I32", {L}, doubles(ids)},
                                                        {"mask", mask_dtype, {1, L}, doubles(mask)}});
    auto r = run_jenga("debug encode-text --text-encoder " + kT5 + " --ids " + in + out);
    ASSERT_EQ(r.exit_code, 0) << mask_dtype << ": " << r.output;
    EXPECT_LE(max_rel_error(jenga::SafetensorsFile::open(dir / "o.safetensors")->load("context").to_f32_vector(), want_ctx),
              1e-4);
  }
  auto two = doubles(mask);
  two[0] = 2;
  expect_one_line_error(run_jenga("debug encode-text --text-encoder " + kT5 + " --ids " +
                                  write_raw(dir / "bad.safetensors", {{"ids", "I32", {L}, doubles(ids)},
                                                                     {"mask", "F32", {L}, two}}) + out),
                        1, "a mask holds 0s and 1s");

  const auto dec = jenga::SafetensorsFile::open(kData + "/wan_vae/decode_c.safetensors");
  const jenga::Tensor z = dec->load("latents");
  auto r = run_jenga("debug vae-decode --vae " + kVae + " --latents " +
                     write_raw(dir / "z.safetensors", {{"latents", "F64", dims_of(z), doubles(z)}}) + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto want = dec->load("frames_raw").to_f32_vector();
  for (auto& x : want) x = std::clamp(x, -1.0f, 1.0f);
  EXPECT_LE(max_rel_error(jenga::SafetensorsFile::open(dir / "o.safetensors")->load("frames").to_f32_vector(), want), 1e-4);

  const auto enc = jenga::SafetensorsFile::open(kData + "/wan_vae/encode_b.safetensors");
  const jenga::Tensor x = enc->load("frames");
  r = run_jenga("debug vae-encode --vae " + kVae + " --frames " +
                write_raw(dir / "x.safetensors", {{"frames", "F64", dims_of(x), doubles(x)}}) + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_LE(max_rel_error(jenga::SafetensorsFile::open(dir / "o.safetensors")->load("latents").to_f32_vector(),
                          enc->load("latents").to_f32_vector()),
            1e-4);
}
