#include <gtest/gtest.h>
#include <png.h>

#include <algorithm>
#include <cmath>
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

#if JENGA_HAVE_LIBAV
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>
}

namespace {
// Decodes every frame of a video file to RGB24 (the test's own reader, independent of the writer).
struct Decoded {
  int width = 0, height = 0;
  double fps = 0;
  std::vector<std::vector<uint8_t>> frames;
};

Decoded decode_video(const std::string& path) {
  Decoded d;
  AVFormatContext* fmt = nullptr;
  if (avformat_open_input(&fmt, path.c_str(), nullptr, nullptr) < 0) return d;
  avformat_find_stream_info(fmt, nullptr);
  const int si = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  AVStream* st = fmt->streams[si];
  const AVCodec* dec = avcodec_find_decoder(st->codecpar->codec_id);
  AVCodecContext* ctx = avcodec_alloc_context3(dec);
  avcodec_parameters_to_context(ctx, st->codecpar);
  avcodec_open2(ctx, dec, nullptr);
  d.width = ctx->width, d.height = ctx->height, d.fps = av_q2d(st->avg_frame_rate);
  AVPacket* pkt = av_packet_alloc();
  AVFrame* fr = av_frame_alloc();
  SwsContext* sws = nullptr;
  auto take = [&] {
    while (avcodec_receive_frame(ctx, fr) == 0) {
      sws = sws_getCachedContext(sws, fr->width, fr->height, static_cast<AVPixelFormat>(fr->format), fr->width,
                                 fr->height, AV_PIX_FMT_RGB24, SWS_BICUBIC, nullptr, nullptr, nullptr);
      std::vector<uint8_t> rgb(static_cast<size_t>(fr->width) * fr->height * 3);
      uint8_t* dst[1] = {rgb.data()};
      const int stride[1] = {3 * fr->width};
      sws_scale(sws, fr->data, fr->linesize, 0, fr->height, dst, stride);
      d.frames.push_back(std::move(rgb));
    }
  };
  while (av_read_frame(fmt, pkt) >= 0) {
    if (pkt->stream_index == si) avcodec_send_packet(ctx, pkt), take();
    av_packet_unref(pkt);
  }
  avcodec_send_packet(ctx, nullptr);
  take();
  sws_freeContext(sws);
  av_frame_free(&fr);
  av_packet_free(&pkt);
  avcodec_free_context(&ctx);
  avformat_close_input(&fmt);
  return d;
}

// A smooth moving pattern: what a video codec is made for (the gradient() noise is not).
Frames moving_pattern(int count, int w, int h) {
  Frames f;
  f.width = w, f.height = h, f.count = count;
  f.rgb.resize(static_cast<size_t>(count) * w * h * 3);
  for (int t = 0; t < count; ++t)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        uint8_t* p = f.rgb.data() + ((static_cast<size_t>(t) * h + y) * w + x) * 3;
        p[0] = static_cast<uint8_t>(128 + 100 * std::sin(0.1 * (x + 3 * t)));
        p[1] = static_cast<uint8_t>(128 + 100 * std::cos(0.13 * (y - 2 * t)));
        p[2] = static_cast<uint8_t>((x * 255) / w);
      }
  return f;
}
}  // namespace

TEST(VideoWriter, Mp4ThroughLibavDecodesBack) {
  TempDir dir;
  const Frames f = moving_pattern(17, 96, 64);
  const std::string out = write_video(dir / "v.mp4", f, 16);
  EXPECT_FALSE(fs::exists(dir / "v.partial.mp4"));
  const Decoded d = decode_video(out);
  ASSERT_EQ(d.width, 96);
  ASSERT_EQ(d.height, 64);
  EXPECT_NEAR(d.fps, 16.0, 1e-6);
  ASSERT_EQ(static_cast<int>(d.frames.size()), 17);  // no frame dropped at the flush
  for (int t = 0; t < f.count; ++t) {
    double se = 0;
    for (size_t i = 0; i < d.frames[t].size(); ++i) {
      const double e = double(d.frames[t][i]) - f.frame(t)[i];
      se += e * e;
    }
    const double psnr = 10 * std::log10(255.0 * 255.0 / (se / d.frames[t].size() + 1e-12));
    EXPECT_GT(psnr, 30.0) << "frame " << t;  // yuv420p chroma subsampling + CRF 17
  }
  // Odd sizes cannot be yuv420p: a clear error and nothing left behind.
  EXPECT_THROW(write_video(dir / "odd.mp4", moving_pattern(2, 15, 8), 16), Error);
  EXPECT_FALSE(fs::exists(dir / "odd.mp4"));
  EXPECT_FALSE(fs::exists(dir / "odd.partial.mp4"));
}
#endif
