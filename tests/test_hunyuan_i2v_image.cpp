// HunyuanVideo-I2V image input against goldens from PIL, torchvision and the official
// bucket functions (tools/golden/hunyuan_i2v_image_golden.py): decoding (PNG modes, JPEG),
// PIL's bilinear/bicubic resize, the bucket choice and the whole official transform; and bad
// image files as one-line errors.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/image_reader.h"
#include "io/pil_resample.h"
#include "io/safetensors.h"
#include "io/video_writer.h"
#include "models/hunyuan/hunyuan_tiny_folder.h"
#include "models/hunyuan/i2v_image_prep.h"
#include "models/hunyuan/llava_vision.h"
#include "golden_compare.h"
#include "test_util.h"

using jenga::RgbImage;
using jenga::test::run_jenga;
using jenga::test::TempDir;
namespace hy = jenga::hunyuan;

namespace {
const std::string kDir = std::string(JENGA_TEST_DATA) + "/hunyuan_i2v";

const jenga::SafetensorsFile& golden() {
  static const auto g = jenga::SafetensorsFile::open(kDir + "/image_golden.safetensors");
  return *g;
}
const nlohmann::json& buckets() {
  static const nlohmann::json j = [] {
    std::ifstream f(kDir + "/buckets.json");
    return nlohmann::json::parse(f);
  }();
  return j;
}

std::string key_of(std::string name) {
  for (auto& c : name) if (c == '.') c = '_';
  return name;
}

// Number of bytes that differ between our u8 image and a golden [H, W, 3] u8 tensor.
int64_t count_diff(const RgbImage& got, const std::string& golden_name) {
  const jenga::Tensor want = golden().load(golden_name);
  EXPECT_EQ(want.ndim(), 3);
  EXPECT_EQ(want.dim(0), got.height) << golden_name;
  EXPECT_EQ(want.dim(1), got.width) << golden_name;
  if (want.dim(0) != got.height || want.dim(1) != got.width) return -1;
  const uint8_t* w = want.data_as<uint8_t>();
  int64_t diff = 0;
  for (size_t i = 0; i < got.rgb.size(); ++i) diff += got.rgb[i] != w[i];
  return diff;
}

std::vector<std::string> image_names() {
  std::vector<std::string> names;
  for (const auto& [name, _] : buckets()["images"].items()) names.push_back(name);
  return names;
}

}  // namespace

TEST(HunyuanI2vImage, DecodesLikePilConvertRgb) {
  // PNG in every colour type (16-bit grey clamps to 255 as PIL does) and JPEG through the system
  // libjpeg-turbo: the same bytes as Pillow's bundled libjpeg-turbo.
  ASSERT_GE(image_names().size(), 10u);
  for (const auto& name : image_names()) {
    const RgbImage img = jenga::read_image_rgb(kDir + "/" + name);
    EXPECT_EQ(count_diff(img, "decoded_" + key_of(name)), 0) << name;
  }
}

// WebP through libwebp (PIL's decoder too): a lossless RGBA image (alpha dropped) and a lossy one
// give PIL's convert("RGB") bytes; an animation is refused. Skips where the build has no libwebp.
TEST(HunyuanI2vImage, DecodesWebpLikePil) {
  const auto g = jenga::SafetensorsFile::open(kDir + "/webp_golden.safetensors");
  for (const std::string name : {"rgba_lossless_19x11.webp", "photo_lossy_23x17.webp"}) {
    RgbImage img;
    try {
      img = jenga::read_image_rgb(kDir + "/" + name);
    } catch (const jenga::Error& e) {
      if (std::string(e.what()).find("built without libwebp") != std::string::npos) GTEST_SKIP() << e.what();
      throw;
    }
    const jenga::Tensor want = g->load("decoded_" + key_of(name));
    ASSERT_EQ(want.dim(0), img.height) << name;
    ASSERT_EQ(want.dim(1), img.width) << name;
    EXPECT_EQ(std::vector<uint8_t>(want.data_as<uint8_t>(), want.data_as<uint8_t>() + want.numel()), img.rgb) << name;
  }
  try {
    jenga::read_image_rgb(kDir + "/refused_animated_8x8.webp");
    ADD_FAILURE() << "an animated WebP was accepted";
  } catch (const jenga::Error& e) {
    EXPECT_NE(std::string(e.what()).find("an animated WebP"), std::string::npos) << e.what();
  }
}

TEST(HunyuanI2vImage, PilResizeIsBitExact) {
  int checked = 0;
  for (const auto& name : image_names()) {
    const RgbImage img = jenga::read_image_rgb(kDir + "/" + name);
    for (const auto& info : golden().header().tensors) {
      const std::string& tname = info.name;
      for (const auto [prefix, filter] : {std::pair{"bilinear_", jenga::PilFilter::Bilinear},
                                          std::pair{"bicubic_", jenga::PilFilter::Bicubic}}) {
        const std::string p = std::string(prefix) + key_of(name) + "_";
        if (tname.rfind(p, 0) != 0) continue;
        int ow = 0, oh = 0;
        ASSERT_EQ(std::sscanf(tname.c_str() + p.size(), "%dx%d", &ow, &oh), 2) << tname;
        EXPECT_EQ(count_diff(jenga::pil_resize(img, ow, oh, filter), tname), 0) << tname;
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 40);
}

TEST(HunyuanI2vImage, PilResizeWindowIsTheCropOfTheWholeResize) {
  // Windows of up- and downscales, one axis unchanged or both, edges and interiors: the same bytes
  // as cropping the whole resize (each output pixel's taps depend on its position alone).
  RgbImage img;
  img.width = 37, img.height = 23;
  img.rgb.resize(static_cast<size_t>(img.width) * img.height * 3);
  uint32_t state = 12345;
  for (auto& b : img.rgb) b = static_cast<uint8_t>((state = state * 1664525u + 1013904223u) >> 24);
  int checked = 0;
  for (const auto filter : {jenga::PilFilter::Bilinear, jenga::PilFilter::Bicubic})
    for (const auto [ow, oh] : {std::pair{91, 23}, std::pair{37, 9}, std::pair{13, 61}, std::pair{100, 70}, std::pair{5, 4}}) {
      const RgbImage whole = jenga::pil_resize(img, ow, oh, filter);
      for (const jenga::PixelWindow w : {jenga::PixelWindow{0, 0, ow, oh}, jenga::PixelWindow{ow / 3, oh / 4, ow / 2 + 1, oh / 2 + 1},
                                         jenga::PixelWindow{ow - 1, oh - 1, 1, 1}, jenga::PixelWindow{0, oh / 2, ow, 1}}) {
        const RgbImage part = jenga::pil_resize_window(img, ow, oh, filter, w);
        ASSERT_EQ(part.width, w.width);
        ASSERT_EQ(part.height, w.height);
        int64_t diff = 0;
        for (int y = 0; y < w.height; ++y)
          diff += std::memcmp(part.pixel(y, 0), whole.pixel(w.y + y, w.x), static_cast<size_t>(w.width) * 3) != 0;
        EXPECT_EQ(diff, 0) << ow << "x" << oh << " window " << w.x << "," << w.y << " " << w.width << "x" << w.height;
        ++checked;
      }
    }
  EXPECT_EQ(checked, 40);
}

TEST(HunyuanI2vImage, AVeryLongImageCostsOnlyItsCrop) {
  // 16384x1 at 720p: the short side goes to 480, the long one to 7.8 M pixels (11 GB as a whole
  // image); only the 1920x480 crop is resized, so it runs in a 1.5 GB address space.
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer reserves terabytes of address space: ulimit -v cannot bound this build";
#endif
  TempDir dir;
  std::vector<uint8_t> rgb(16384 * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i * 7);
  const std::string png = dir / "long.png";
  jenga::write_png(png, rgb.data(), 16384, 1);
  const auto r = jenga::test::run_jenga_with_prefix(
      "ulimit -v 1500000; ", "debug image-prep --image " + png + " --size 720p --out " + (dir / "p.safetensors") + " --json " + (dir / "b.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream f(dir / "b.json");
  const auto j = nlohmann::json::parse(f);
  EXPECT_EQ(j["resized_width"], 7864320);
  EXPECT_EQ(j["resized_height"], 480);
  const auto px = jenga::SafetensorsFile::open(dir / "p.safetensors")->load("pixels");
  EXPECT_EQ(px.shape().str(), jenga::Shape({3, j["bucket_height"].get<int64_t>(), j["bucket_width"].get<int64_t>()}).str());
}

TEST(HunyuanI2vImage, CropSizeListsAndBucketsMatchOfficial) {
  for (const auto& [res, list] : buckets()["crop_size_lists"].items()) {
    const auto ours = hy::i2v_crop_size_list(hy::i2v_bucket_base(res), 32);
    ASSERT_EQ(ours.size(), list.size()) << res;
    for (size_t i = 0; i < ours.size(); ++i) {
      EXPECT_EQ(ours[i].height, list[i][0].get<int>()) << res << " entry " << i;
      EXPECT_EQ(ours[i].width, list[i][1].get<int>()) << res << " entry " << i;
    }
  }
  for (const auto& row : buckets()["closest"]) {
    const int h = row["height"], w = row["width"];
    for (const std::string res : {"720p", "540p", "360p"}) {
      const auto b = hy::i2v_closest_bucket(h, w, hy::i2v_crop_size_list(hy::i2v_bucket_base(res), 32));
      EXPECT_EQ(b.height, row[res][0].get<int>()) << h << "x" << w << " " << res;
      EXPECT_EQ(b.width, row[res][1].get<int>()) << h << "x" << w << " " << res;
      if (row.contains(res + "_resized")) {
        const auto [rh, rw] = hy::torchvision_resize_shape(h, w, std::min(b.height, b.width));
        EXPECT_EQ(rh, row[res + "_resized"][0].get<int>()) << h << "x" << w << " " << res;
        EXPECT_EQ(rw, row[res + "_resized"][1].get<int>()) << h << "x" << w << " " << res;
      }
    }
  }
}

TEST(HunyuanI2vImage, OfficialTransformSmallBasesBitExact) {
  for (const auto& name : image_names()) {
    const RgbImage img = jenga::read_image_rgb(kDir + "/" + name);
    for (int base : buckets()["small_bases"].get<std::vector<int>>()) {
      const auto prep = hy::prepare_i2v_image_base(img, base);
      const jenga::Tensor want = golden().load("prep_" + key_of(name) + "_b" + std::to_string(base));  // [3,H,W] u8
      ASSERT_EQ(prep.pixels.shape().str(), want.shape().str()) << name << " base " << base;
      const float* got = prep.pixels.data_as<float>();
      const uint8_t* w = want.data_as<uint8_t>();
      int64_t diff = 0;
      for (int64_t i = 0; i < want.numel(); ++i) diff += got[i] != (static_cast<float>(w[i]) / 255.0f - 0.5f) / 0.5f;
      EXPECT_EQ(diff, 0) << name << " base " << base;
    }
  }
}

TEST(HunyuanI2vImage, OfficialTransform720pAnd540pChecksums) {
  for (const auto& [name, per_res] : buckets()["images"].items()) {
    const RgbImage img = jenga::read_image_rgb(kDir + "/" + name);
    for (const auto& [res, want] : per_res.items()) {
      const auto prep = hy::prepare_i2v_image(img, res);
      EXPECT_EQ(prep.bucket.height, want["bucket"][0].get<int>()) << name << " " << res;
      EXPECT_EQ(prep.bucket.width, want["bucket"][1].get<int>()) << name << " " << res;
      const float* p = prep.pixels.data_as<float>();
      int64_t sum = 0, weighted = 0;
      for (int64_t i = 0; i < prep.pixels.numel(); ++i) {
        const int64_t v = std::lround((p[i] * 0.5f + 0.5f) * 255.0f);
        sum += v;
        weighted += v * (i % 65521 + 1);
      }
      EXPECT_EQ(sum, want["sum"].get<int64_t>()) << name << " " << res;
      EXPECT_EQ(weighted, want["weighted_sum"].get<int64_t>()) << name << " " << res;
    }
  }
}

TEST(HunyuanI2vImage, DebugImagePrepWritesPixelsAndBucket) {
  TempDir dir;
  const auto r = run_jenga("debug image-prep --image " + kDir + "/photo_71x43.jpg --size 540p --out " + (dir / "p.safetensors") +
                           " --json " + (dir / "b.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto px = jenga::SafetensorsFile::open(dir / "p.safetensors")->load("pixels");
  const auto& want = buckets()["images"]["photo_71x43.jpg"]["540p"];
  EXPECT_EQ(px.shape().str(), jenga::Shape({3, want["bucket"][0].get<int64_t>(), want["bucket"][1].get<int64_t>()}).str());
  std::ifstream f(dir / "b.json");
  const auto j = nlohmann::json::parse(f);
  EXPECT_EQ(j["bucket_height"], want["bucket"][0]);
  EXPECT_EQ(j["bucket_width"], want["bucket"][1]);
}

TEST(HunyuanI2vImage, BadImagesAreOneLineErrors) {
  TempDir dir;
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir / name, std::ios::binary) << bytes;
    return dir / name;
  };
  std::string png;
  {
    std::ifstream f(kDir + "/rgb_53x37.png", std::ios::binary);
    png.assign(std::istreambuf_iterator<char>(f), {});
  }
  std::string jpg;
  {
    std::ifstream f(kDir + "/photo_71x43.jpg", std::ios::binary);
    jpg.assign(std::istreambuf_iterator<char>(f), {});
  }
  // A real PNG whose IHDR claims other dimensions (CRC fixed up so libpng accepts the chunk).
  auto with_dims = [&](uint32_t w, uint32_t h) {
    std::string s = png;
    for (int k = 0; k < 4; ++k) {
      s[16 + k] = static_cast<char>(w >> (24 - 8 * k));
      s[20 + k] = static_cast<char>(h >> (24 - 8 * k));
    }
    uint32_t crc = 0xFFFFFFFFu;  // CRC-32 of "IHDR" + 13 data bytes (bytes 12..28), stored at 29..32
    for (int i = 12; i < 29; ++i) {
      crc ^= static_cast<unsigned char>(s[i]);
      for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    crc ^= 0xFFFFFFFFu;
    for (int k = 0; k < 4; ++k) s[29 + k] = static_cast<char>(crc >> (24 - 8 * k));
    return s;
  };
  const std::string huge = with_dims(20000, 20000);
  const std::string fifo = dir / "fifo.png";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {dir / "missing.png", "no such file"},
      {dir.path().string(), "is a folder"},
      {fifo, "not a regular file"},
      {write("empty.png", ""), "empty"},
      {write("text.png", "hello, not an image\n"), "not a PNG, JPEG or WebP"},
      {write("cut.png", png.substr(0, png.size() / 2)), "truncated PNG"},
      {write("cut.jpg", jpg.substr(0, jpg.size() / 2)), "truncated JPEG"},
      {write("huge.png", huge), "above the limit"},
      {write("wide.png", with_dims(16000, 16000)), "above the limit"},
      {write("zero.png", with_dims(0, 37)), "cannot decode the PNG"},
      {kDir + "/refused_cmyk_11x9.jpg", "CMYK JPEG is not supported"},
  };
  for (const auto& [path, what] : cases) {
    try {
      jenga::read_image_rgb(path);
      ADD_FAILURE() << path << ": no error";
    } catch (const jenga::Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(what), std::string::npos) << m;
      EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    }
    const auto r = run_jenga("debug image-prep --image '" + path + "' --out " + (dir / "o.safetensors"));
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
    EXPECT_NE(r.output.find(what), std::string::npos) << r.output;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "o.safetensors"));
}

// The LLaVA image side (tools/golden/hunyuan_i2v_llava_golden.py: transformers 4.46.3
// LlavaForConditionalGeneration + CLIPImageProcessor on a tiny random config).
TEST(HunyuanI2vLlava, ImageProcessorVisionTowerAndProjectorMatchTransformers) {
  const auto g = jenga::SafetensorsFile::open(kDir + "/llava_golden.safetensors");
  const auto enc = hy::LlavaVisionEncoder::open(kDir + "/llava_tiny");
  EXPECT_EQ(enc.config().layers, 3);
  EXPECT_EQ(enc.config().heads, 4);
  EXPECT_EQ(enc.config().tokens(), 9);
  const auto proc = hy::ClipImageProcessorConfig::load(kDir + "/llava_tiny");
  EXPECT_EQ(proc.shortest_edge, 42);
  int checked = 0;
  for (const std::string name : {"photo_71x43.jpg", "rgba_29x61.png", "grey_50x50.png"}) {
    const std::string key = key_of(name);
    const auto px = hy::clip_preprocess(jenga::read_image_rgb(kDir + "/" + name), proc);
    EXPECT_LE(jenga::test::max_rel_error(px.to_f32_vector(), g->load("pixel_values_" + key).to_f32_vector()), 1e-6) << name;
    const auto r = enc.encode(px);
    EXPECT_EQ(r.features.shape().str(), g->load("features_" + key).shape().str());
    EXPECT_LE(jenga::test::max_rel_error(r.features.to_f32_vector(), g->load("features_" + key).to_f32_vector()), 1e-4) << name;
    EXPECT_LE(jenga::test::max_rel_error(r.projected.to_f32_vector(), g->load("projected_" + key).to_f32_vector()), 1e-4) << name;
    ++checked;
  }
  EXPECT_EQ(checked, 3);

  TempDir dir;
  auto r = run_jenga("debug encode-image --text-encoder " + kDir + "/llava_tiny --image " + kDir +
                     "/photo_71x43.jpg --out " + (dir / "e.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_LE(jenga::test::max_rel_error(jenga::SafetensorsFile::open(dir / "e.safetensors")->load("projected").to_f32_vector(),
                                       g->load("projected_photo_71x43_jpg").to_f32_vector()),
            1e-4);
  r = run_jenga("debug encode-image --text-encoder " + kDir + "/llava_tiny --image " + (dir / "missing.png") + " --out " +
                (dir / "x.safetensors"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("no such file"), std::string::npos) << r.output;
  r = run_jenga("debug encode-image --text-encoder " + dir.path().string() + " --image " + kDir + "/photo_71x43.jpg --out " +
                (dir / "x.safetensors"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
}

// write_random_llava_vision (the full-size GPU test and bench write ViT-L/14-336 with it): the
// folder opens with the shape asked for, and encodes to [tokens, proj_out] finite rows.
TEST(HunyuanI2vLlava, RandomVisionFolderOpensWithItsShape) {
  TempDir dir;
  hy::LlavaVisionShape s;
  s.hidden = 24, s.ffn = 40, s.layers = 3, s.heads = 3, s.image = 42, s.proj_out = 20;
  hy::write_random_llava_vision(dir.path().string(), s, 7, jenga::DType::F16);
  const auto enc = hy::LlavaVisionEncoder::open(dir.path().string());
  const auto& c = enc.config();
  EXPECT_EQ(c.hidden, 24);
  EXPECT_EQ(c.ffn, 40);
  EXPECT_EQ(c.layers, 3);
  EXPECT_EQ(c.layers_run(), 2);  // hidden_states[-2]
  EXPECT_EQ(c.heads, 3);
  EXPECT_EQ(c.image_size, 42);
  EXPECT_EQ(c.proj_hidden, 20);
  EXPECT_EQ(c.proj_out, 20);
  // Its preprocessor_config.json (the image side refuses a folder without one) crops to the tower's size.
  const auto pre = hy::ClipImageProcessorConfig::load(dir.path().string());
  EXPECT_EQ(pre.crop_height, 42);
  EXPECT_EQ(pre.crop_width, 42);
  EXPECT_EQ(pre.shortest_edge, 42);
  jenga::Tensor px = jenga::Tensor::empty(jenga::DType::F32, {3, 42, 42});
  for (int64_t i = 0; i < px.numel(); ++i) px.data_as<float>()[i] = static_cast<float>(i % 17) / 8.0f - 1.0f;
  const auto r = enc.encode(px);
  EXPECT_EQ(r.projected.shape().str(), "[9, 20]");
  double sum = 0;
  for (float v : r.projected.to_f32_vector()) sum += std::abs(v);
  EXPECT_GT(sum, 0.0);
}

namespace {

// A random w x h RGB image (fixed seed).
RgbImage noise_image(int w, int h, uint32_t seed) {
  RgbImage img;
  img.width = w, img.height = h;
  img.rgb.resize(static_cast<size_t>(w) * h * 3);
  for (auto& b : img.rgb) b = static_cast<uint8_t>((seed = seed * 1664525u + 1013904223u) >> 24);
  return img;
}

// CLIPImageProcessor's defaults with the given "size" / "crop_size" fields, loaded back.
hy::ClipImageProcessorConfig processor_with(const TempDir& dir, const nlohmann::json& fields) {
  nlohmann::json j = {{"crop_size", {{"height", 28}, {"width", 28}}}, {"size", {{"shortest_edge", 28}}}};
  j.update(fields);
  std::ofstream(dir / "preprocessor_config.json") << j.dump();
  return hy::ClipImageProcessorConfig::load(dir.path().string());
}

// Values of pixel_values [3, H, W] unlike CLIPImageProcessor's from `resized` placed at (top, left)
// (zero padding outside it): rescale in f64 then f32, then (v - mean) / std.
int64_t count_unlike(const jenga::Tensor& px, const hy::ClipImageProcessorConfig& p, const RgbImage& resized, int top, int left) {
  const int64_t H = px.dim(1), W = px.dim(2);
  int64_t diff = 0;
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) {
        const int sy = y - top, sx = x - left;
        const bool inside = sy >= 0 && sy < resized.height && sx >= 0 && sx < resized.width;
        const float v = inside ? resized.pixel(sy, sx)[c] : 0.0f;
        const float want = (static_cast<float>(static_cast<double>(v) * p.rescale_factor) - p.mean[c]) / p.std[c];
        diff += px.data_as<float>()[(c * H + y) * W + x] != want;
      }
  return diff;
}

}  // namespace

// transformers 4.46.3 CLIPImageProcessor.resize: size {"height": H, "width": W} resizes straight
// to HxW (no aspect kept), then the centre crop (floor offsets) cuts crop_size out of it.
TEST(HunyuanI2vLlava, SizeHeightWidthResizesWithoutKeepingTheAspect) {
  TempDir dir;
  const RgbImage img = noise_image(71, 43, 5);
  const auto p = processor_with(dir, {{"size", {{"height", 33}, {"width", 30}}}});
  EXPECT_EQ(p.resize_height, 33);
  EXPECT_EQ(p.resize_width, 30);
  const jenga::Tensor px = hy::clip_preprocess(img, p);
  ASSERT_EQ(px.shape().str(), "[3, 28, 28]");
  const RgbImage r = jenga::pil_resize(img, 30, 33, jenga::PilFilter::Bicubic);
  EXPECT_EQ(count_unlike(px, p, r, -2, -1), 0);
  // shortest_edge wins when both are given; a size with neither form is refused.
  EXPECT_EQ(processor_with(dir, {{"size", {{"shortest_edge", 30}, {"height", 33}, {"width", 30}}}}).resize_height, 0);
  try {
    processor_with(dir, {{"size", {{"height", 33}}}});
    ADD_FAILURE() << "no error";
  } catch (const jenga::Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs \"shortest_edge\" or both \"height\" and \"width\""), std::string::npos) << e.what();
  }
}

// transformers' center_crop pads an image smaller than the crop with ceil((crop - size) / 2)
// zeros before it: 45x33 at shortest_edge 20 is 27x20, so a 28x28 crop has 1 zero column on the
// left (none on the right) and 4 zero rows above and below.
TEST(HunyuanI2vLlava, CropLargerThanTheImagePadsTheOddPixelTopLeft) {
  TempDir dir;
  const RgbImage img = noise_image(45, 33, 9);
  const auto p = processor_with(dir, {{"size", {{"shortest_edge", 20}}}});
  const jenga::Tensor px = hy::clip_preprocess(img, p);
  ASSERT_EQ(px.shape().str(), "[3, 28, 28]");
  const RgbImage r = jenga::pil_resize(img, 27, 20, jenga::PilFilter::Bicubic);
  EXPECT_EQ(count_unlike(px, p, r, 4, 1), 0);
}

// transformers' CLIPImageProcessor.from_pretrained (the official I2V loader) raises without
// preprocessor_config.json: so do we, naming the folder and the file, instead of CLIP-336 defaults;
// a weights file given for the folder is named as such.
TEST(HunyuanI2vLlava, MissingPreprocessorConfigIsAnError) {
  TempDir dir;
  const std::filesystem::path folder = dir.path() / "llava";
  std::filesystem::copy(kDir + "/llava_tiny", folder);
  std::filesystem::remove(folder / "preprocessor_config.json");
  const std::string image = kDir + "/photo_71x43.jpg";
  try {
    hy::ClipImageProcessorConfig::load(folder.string());
    ADD_FAILURE() << "no error";
  } catch (const jenga::Error& e) {
    EXPECT_NE(std::string(e.what()).find(folder.string() + ": no preprocessor_config.json"), std::string::npos) << e.what();
  }
  auto r = run_jenga("debug encode-image --text-encoder " + folder.string() + " --image " + image + " --out " + (dir / "x.safetensors"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.output.rfind("error: " + folder.string() + ": no preprocessor_config.json", 0), 0u) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  r = run_jenga("debug encode-text --text-encoder " + folder.string() + " --image " + image + " --prompt cat --out " + (dir / "x.safetensors"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("no preprocessor_config.json"), std::string::npos) << r.output;
  r = run_jenga("debug encode-image --text-encoder " + kDir + "/llava_tiny/model.safetensors --image " + image + " --out " +
                (dir / "x.safetensors"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("model.safetensors: a file; the LLaVA image side needs its folder"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "x.safetensors"));
}

namespace {

// A copy of llava_tiny (image_size 42) with preprocessor_config.json / config.json edited.
std::string edited_llava_tiny(const TempDir& dir, const std::string& name, const nlohmann::json& processor,
                              const nlohmann::json& config = nlohmann::json::object()) {
  const std::filesystem::path out = dir.path() / name;
  std::filesystem::copy(kDir + "/llava_tiny", out);
  for (const auto& [file, fields] : {std::pair{"preprocessor_config.json", processor}, std::pair{"config.json", config}}) {
    nlohmann::json j;
    std::ifstream(out / file) >> j;
    j.update(fields);
    std::ofstream(out / file) << j.dump();
  }
  return out.string();
}

}  // namespace

// Settings the image side cannot run are named where they are: a crop the vision tower does not
// take (preprocessor_config.json vs config.json), a list of feature layers, a mean of 2 numbers.
TEST(HunyuanI2vLlava, UnusableSettingsNameTheirFile) {
  TempDir dir;
  const std::string image = kDir + "/photo_71x43.jpg";
  const auto encode = [&](const std::string& folder) {
    return run_jenga("debug encode-image --text-encoder " + folder + " --image " + image + " --out " + (dir / "x.safetensors"));
  };
  const std::string crop = edited_llava_tiny(dir, "crop", {{"crop_size", {{"height", 28}, {"width", 28}}}});
  auto r = encode(crop);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("preprocessor_config.json: crop_size 28x28 but the vision tower takes 42x42 images (config.json's "
                          "vision_config.image_size)"),
            std::string::npos)
      << r.output;
  const std::string nocrop = edited_llava_tiny(dir, "nocrop", {{"do_center_crop", false}});
  r = encode(nocrop);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("pixel_values has shape [3, 42, 69], expected [3, 42, 42]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("preprocessor_config.json"), std::string::npos) << r.output;
  const std::string layers = edited_llava_tiny(dir, "layers", nlohmann::json::object(), {{"vision_feature_layer", {-2, -1}}});
  r = encode(layers);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("config.json: vision_feature_layer [-2,-1] is a list"), std::string::npos) << r.output;
  const std::string mean2 = edited_llava_tiny(dir, "mean2", {{"image_mean", {0.5, 0.5}}});
  r = encode(mean2);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("preprocessor_config.json: image_mean needs 3 numbers (one per RGB channel), got [0.5,0.5]"),
            std::string::npos)
      << r.output;
  // A single number is every channel's, as transformers' normalize takes it.
  const auto p = hy::ClipImageProcessorConfig::load(edited_llava_tiny(dir, "mean1", {{"image_mean", 0.25}, {"image_std", 0.5}}));
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(p.mean[c], 0.25f);
    EXPECT_EQ(p.std[c], 0.5f);
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "x.safetensors"));
}
