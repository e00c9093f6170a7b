#include "io/video_writer.h"

#include "core/interrupt.h"

#include <png.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/mp4_libav.h"

#if JENGA_HAVE_WEBP
#include <webp/encode.h>
#include <webp/mux.h>
#endif

namespace jenga {
namespace fs = std::filesystem;

namespace {

std::string lower_ext(const std::string& path) {
  std::string e = fs::path(path).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return e;
}

bool is_folder_target(const std::string& path) {
  return path.empty() || path.back() == '/' || fs::path(path).extension().empty();
}

// "dir/name.ext" -> "dir/name.partial.ext": same folder (rename stays atomic), same extension
// (ffmpeg picks the container from it).
std::string partial_name(const std::string& path) {
  fs::path p(path);
  return (p.parent_path() / (p.stem().string() + ".partial" + p.extension().string())).string();
}

void commit(const std::string& tmp, const std::string& path) {
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove_all(tmp, ec);
    fail("{}: cannot move the finished output into place ({})", path, ec.message());
  }
}

std::string find_program(const std::string& name) {
  const char* env = std::getenv("PATH");
  std::string paths = env ? env : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= paths.size()) {
    const size_t end = paths.find(':', start);
    const std::string dir = paths.substr(start, end == std::string::npos ? std::string::npos : end - start);
    const fs::path cand = fs::path(dir.empty() ? "." : dir) / name;
    if (::access(cand.c_str(), X_OK) == 0) return cand.string();
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return "";
}

std::string shell_quote(const std::string& s) {
  std::string r = "'";
  for (char c : s) r += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return r + "'";
}

void check_frames(const Frames& f) {
  if (f.count <= 0 || f.width <= 0 || f.height <= 0 ||
      f.rgb.size() != static_cast<size_t>(f.count) * f.width * f.height * 3)
    fail("video writer: {} frames of {}x{} do not match {} bytes of pixels", f.count, f.width, f.height, f.rgb.size());
}

struct PngError {
  std::string message;
};

void png_write_file(const std::string& path, const uint8_t* rgb, int width, int height) {
  FILE* fp = std::fopen(path.c_str(), "wb");
  if (!fp) fail("{}: cannot write ({}); check the folder exists and is writable", path, std::strerror(errno));
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info) {
    std::fclose(fp);
    fail("{}: libpng could not start", path);
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    std::fclose(fp);
    fail("{}: PNG encoding failed (disk full?)", path);
  }
  png_init_io(png, fp);
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8, PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < height; ++y)
    png_write_row(png, const_cast<png_bytep>(rgb + static_cast<size_t>(y) * width * 3));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  if (std::fclose(fp) != 0) fail("{}: write failed (disk full?)", path);
}

void write_y4m(const std::string& path, const Frames& f, int fps) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail("{}: cannot write ({}); check the folder exists and is writable", path, std::strerror(errno));
  out << "YUV4MPEG2 W" << f.width << " H" << f.height << " F" << fps << ":1 Ip A1:1 C420jpeg\n";
  const int cw = (f.width + 1) / 2, ch = (f.height + 1) / 2;
  std::vector<uint8_t> y(static_cast<size_t>(f.width) * f.height), u(static_cast<size_t>(cw) * ch), v(u.size());
  auto clamp8 = [](double x) { return static_cast<uint8_t>(std::clamp(x + 0.5, 0.0, 255.0)); };
  for (int i = 0; i < f.count; ++i) {
    const uint8_t* p = f.frame(i);
    // BT.601 limited range; chroma averaged over each 2x2 block.
    for (int r = 0; r < f.height; ++r)
      for (int c = 0; c < f.width; ++c) {
        const uint8_t* px = p + (static_cast<size_t>(r) * f.width + c) * 3;
        y[static_cast<size_t>(r) * f.width + c] = clamp8(16 + (65.481 * px[0] + 128.553 * px[1] + 24.966 * px[2]) / 255.0);
      }
    for (int r = 0; r < ch; ++r)
      for (int c = 0; c < cw; ++c) {
        double R = 0, G = 0, B = 0;
        int n = 0;
        for (int dr = 0; dr < 2; ++dr)
          for (int dc = 0; dc < 2; ++dc) {
            const int rr = 2 * r + dr, cc = 2 * c + dc;
            if (rr >= f.height || cc >= f.width) continue;
            const uint8_t* px = p + (static_cast<size_t>(rr) * f.width + cc) * 3;
            R += px[0], G += px[1], B += px[2], ++n;
          }
        R /= n * 255.0, G /= n * 255.0, B /= n * 255.0;
        u[static_cast<size_t>(r) * cw + c] = clamp8(128 - 37.797 * R - 74.203 * G + 112.0 * B);
        v[static_cast<size_t>(r) * cw + c] = clamp8(128 + 112.0 * R - 93.786 * G - 18.214 * B);
      }
    out << "FRAME\n";
    out.write(reinterpret_cast<const char*>(y.data()), static_cast<std::streamsize>(y.size()));
    out.write(reinterpret_cast<const char*>(u.data()), static_cast<std::streamsize>(u.size()));
    out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size()));
  }
  out.flush();
  if (!out) fail("{}: write failed (disk full?)", path);
}

#if JENGA_HAVE_WEBP
void write_webp(const std::string& path, const Frames& f, int fps) {
  WebPAnimEncoderOptions opt;
  if (!WebPAnimEncoderOptionsInit(&opt)) fail("libwebp version mismatch");
  opt.anim_params.loop_count = 0;
  WebPAnimEncoder* enc = WebPAnimEncoderNew(f.width, f.height, &opt);
  if (!enc) fail("{}: libwebp could not start an animation of {}x{}", path, f.width, f.height);
  WebPConfig config;
  WebPConfigInit(&config);
  config.quality = 90;
  const int frame_ms = std::max(1, 1000 / std::max(fps, 1));
  bool ok = true;
  for (int i = 0; i < f.count && ok; ++i) {
    WebPPicture pic;
    WebPPictureInit(&pic);
    pic.width = f.width, pic.height = f.height, pic.use_argb = 1;
    ok = WebPPictureImportRGB(&pic, f.frame(i), f.width * 3) && WebPAnimEncoderAdd(enc, &pic, i * frame_ms, &config);
    WebPPictureFree(&pic);
  }
  WebPData data;
  WebPDataInit(&data);
  ok = ok && WebPAnimEncoderAdd(enc, nullptr, f.count * frame_ms, nullptr) && WebPAnimEncoderAssemble(enc, &data);
  WebPAnimEncoderDelete(enc);
  if (!ok) {
    WebPDataClear(&data);
    fail("{}: WebP encoding failed", path);
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.bytes), static_cast<std::streamsize>(data.size));
  WebPDataClear(&data);
  out.flush();
  if (!out) fail("{}: write failed (disk full or not writable?)", path);
}
#endif

// In-process libav when the build has it, else the ffmpeg program.
bool mp4_available() { return libav_h264_available() || !find_program("ffmpeg").empty(); }

void write_mp4(const std::string& path, const Frames& f, int fps) {
  if (libav_h264_available()) return write_mp4_libav(path, f, fps);
  const std::string ffmpeg = find_program("ffmpeg");
  if (ffmpeg.empty()) fail("{}: writing .mp4 needs the ffmpeg program on PATH; install it or use -o x.webp / x.y4m / a folder", path);
  const std::string cmd = shell_quote(ffmpeg) + " -y -loglevel error -f rawvideo -pix_fmt rgb24 -s " +
                          std::to_string(f.width) + "x" + std::to_string(f.height) + " -r " + std::to_string(fps) +
                          " -i - -c:v libx264 -pix_fmt yuv420p -crf 17 -movflags +faststart " + shell_quote(path);
  FILE* pipe = ::popen(cmd.c_str(), "w");
  if (!pipe) fail("{}: cannot start ffmpeg ({})", path, std::strerror(errno));
  bool ok = true;
  for (int i = 0; i < f.count && ok; ++i) {
    const size_t n = static_cast<size_t>(f.width) * f.height * 3;
    ok = std::fwrite(f.frame(i), 1, n, pipe) == n;
  }
  const int status = ::pclose(pipe);
  check_interrupt();  // ffmpeg got the same Ctrl-C
  if (!ok || status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail("{}: ffmpeg failed to encode the video (exit status {}); try -o x.webp or x.y4m", path,
         WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

}  // namespace

std::vector<std::string> supported_video_formats() {
  std::vector<std::string> f = {"png", "y4m"};
#if JENGA_HAVE_WEBP
  f.push_back("webp");
#endif
  if (mp4_available()) f.push_back("mp4");
  return f;
}

void check_video_path(const std::string& path) {
  if (is_folder_target(path)) return;
  const std::string e = lower_ext(path);
  if (e == ".png" || e == ".y4m") return;
  if (e == ".webp") {
#if JENGA_HAVE_WEBP
    return;
#else
    usage_fail("-o {}: this build has no WebP support (libwebp-dev missing at build time); use .mp4, .y4m or a PNG folder", path);
#endif
  }
  if (e == ".mp4") {
    if (!mp4_available())
      usage_fail("-o {}: .mp4 needs libavcodec at build time or the ffmpeg program on PATH; install one or use .webp, "
                 ".y4m or a PNG folder", path);
    return;
  }
  usage_fail("-o {}: unknown output format '{}'; use .mp4, .webp, .y4m, .png or a folder", path, e);
}

void write_png(const std::string& path, const uint8_t* rgb, int width, int height) {
  const std::string tmp = partial_name(path);
  try {
    png_write_file(tmp, rgb, width, height);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
  commit(tmp, path);
}

std::string write_video(const std::string& path, const Frames& frames, int fps) {
  check_video_path(path);
  check_frames(frames);
  if (fps <= 0) fail("video writer: fps must be positive, got {}", fps);
  const std::string e = lower_ext(path);
  if (e == ".png" && frames.count == 1) {
    write_png(path, frames.frame(0), frames.width, frames.height);
    return path;
  }
  if (is_folder_target(path) || e == ".png") {
    std::string dir = path;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    if (e == ".png") dir = (fs::path(path).parent_path() / fs::path(path).stem()).string();
    if (fs::exists(dir)) fail("{}: already exists; remove it or choose another output", dir);
    const std::string tmp = dir + ".partial";
    std::error_code ec;
    fs::remove_all(tmp, ec);
    fs::create_directories(tmp, ec);
    if (ec) fail("{}: cannot create the folder ({})", tmp, ec.message());
    try {
      for (int i = 0; i < frames.count; ++i) {
        check_interrupt();
        char name[32];
        std::snprintf(name, sizeof name, "frame_%05d.png", i);
        png_write_file((fs::path(tmp) / name).string(), frames.frame(i), frames.width, frames.height);
      }
    } catch (...) {
      fs::remove_all(tmp, ec);
      throw;
    }
    commit(tmp, dir);
    return dir;
  }
  const std::string tmp = partial_name(path);
  try {
    if (e == ".y4m") write_y4m(tmp, frames, fps);
#if JENGA_HAVE_WEBP
    else if (e == ".webp") write_webp(tmp, frames, fps);
#endif
    else write_mp4(tmp, frames, fps);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
  commit(tmp, path);
  return path;
}

}  // namespace jenga
