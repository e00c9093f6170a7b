#include <gtest/gtest.h>
#include <png.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/frames.h"
#include "io/video_writer.h"
#include "test_util.h"

using namespace jenga;
using jenga::test::TempDir;
namespace fs = std::filesystem;

namespace {
Frames gradient(int count, int w, int h) {
  Frames f;
  f.width = w, f.height = h, f.count = count;
  f.rgb.resize(static_cast<size_t>(count) * w * h * 3);
  for (size_t i = 0; i < f.rgb.size(); ++i) f.rgb[i] = static_cast<uint8_t>((i * 7) % 251);
  return f;
}

std::vector<uint8_t> read_png(const std::string& path, int& w, int& h) {
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&img, path.c_str())) return {};
  img.format = PNG_FORMAT_RGB;
  std::vector<uint8_t> buf(PNG_IMAGE_SIZE(img));
  if (!png_image_finish_read(&img, nullptr, buf.data(), 0, nullptr)) return {};
  w = static_cast<int>(img.width), h = static_cast<int>(img.height);
  return buf;
}
}  // namespace

TEST(Frames, UnitRangeTruncatesLikeTheOfficialSaver) {
  // [3, 1, 1, 4]: values -1, 0, 1, 2 (clamped) per channel.
  std::vector<float> x = {-1, 0, 1, 2, -1, 0, 1, 2, -1, 0, 1, 2};
  Frames f = frames_from_unit_range(x.data(), 1, 1, 4);
  EXPECT_EQ(f.rgb[0], 0);
  EXPECT_EQ(f.rgb[3], 127);  // 0.5 * 255 = 127.5 truncates
  EXPECT_EQ(f.rgb[6], 255);
  EXPECT_EQ(f.rgb[9], 255);
}

TEST(VideoWriter, PngSingleAndFolderRoundTrip) {
  TempDir dir;
  Frames one = gradient(1, 5, 3);
  write_video(dir / "a.png", one, 16);
  int w = 0, h = 0;
  EXPECT_EQ(read_png(dir / "a.png", w, h), one.rgb);
  EXPECT_EQ(w, 5);
  EXPECT_FALSE(fs::exists(dir / "a.partial.png"));

  Frames many = gradient(3, 4, 2);
  const std::string out = write_video(dir / "clip.png", many, 16);
  EXPECT_EQ(out, dir / "clip");
  EXPECT_EQ(read_png(dir / "clip/frame_00002.png", w, h),
            std::vector<uint8_t>(many.frame(2), many.frame(2) + 4 * 2 * 3));
  EXPECT_THROW(write_video(dir / "clip/", many, 16), Error);  // exists: never overwritten
}

TEST(VideoWriter, Y4mHeaderAndLuma) {
  TempDir dir;
  Frames f;
  f.width = 4, f.height = 2, f.count = 2;
  f.rgb.assign(4 * 2 * 3 * 2, 255);
  std::fill(f.rgb.begin() + 24, f.rgb.end(), 0);  // frame 1 black
  write_video(dir / "v.y4m", f, 16);
  std::ifstream in(dir / "v.y4m", std::ios::binary);
  std::string header;
  std::getline(in, header);
  EXPECT_EQ(header, "YUV4MPEG2 W4 H2 F16:1 Ip A1:1 C420jpeg");
  std::string frame;
  std::getline(in, frame);
  EXPECT_EQ(frame, "FRAME");
  std::vector<uint8_t> y(8);
  in.read(reinterpret_cast<char*>(y.data()), 8);
  EXPECT_EQ(y[0], 235);  // white in BT.601 limited range
  EXPECT_EQ(fs::file_size(dir / "v.y4m"), header.size() + 1 + 2 * (6 + 8 + 2 + 2));
}

TEST(VideoWriter, WebpWhenBuiltIn) {
  const auto fm = supported_video_formats();
  TempDir dir;
  if (std::find(fm.begin(), fm.end(), "webp") == fm.end()) {
    EXPECT_THROW(check_video_path(dir / "v.webp"), UsageError);
    GTEST_SKIP() << "built without libwebp";
  }
  write_video(dir / "v.webp", gradient(3, 16, 8), 16);
  std::ifstream in(dir / "v.webp", std::ios::binary);
  char head[16] = {};
  in.read(head, 16);
  EXPECT_EQ(std::string(head, 4), "RIFF");
  EXPECT_EQ(std::string(head + 8, 4), "WEBP");
  EXPECT_EQ(std::string(head + 12, 4), "VP8X");  // extended format: an animation
}

TEST(VideoWriter, BadPathsFailCleanly) {
  TempDir dir;
  EXPECT_THROW(check_video_path(dir / "v.avi"), UsageError);
  try {
    write_video("/nonexistent-dir/x/v.y4m", gradient(1, 2, 2), 16);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot write"), std::string::npos) << e.what();
  }
  Frames bad = gradient(2, 4, 4);
  bad.rgb.resize(10);
  EXPECT_THROW(write_video(dir / "v.y4m", bad, 16), Error);
  EXPECT_TRUE(fs::is_empty(dir.path()));  // nothing half-written left behind
  const auto fm = supported_video_formats();
  if (std::find(fm.begin(), fm.end(), "mp4") == fm.end()) EXPECT_THROW(check_video_path(dir / "v.mp4"), UsageError);
}
