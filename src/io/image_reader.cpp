#include "io/image_reader.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <csetjmp>
#include <cstring>
#include <cstdio>  // before jpeglib.h, which needs FILE
#include <jerror.h>
#include <jpeglib.h>
#include <png.h>
#include <fstream>
#if JENGA_HAVE_WEBP
#include <webp/decode.h>
#endif

#include "core/error.h"

namespace jenga {
namespace {

void check_dimensions(const std::string& what, int64_t w, int64_t h) {
  if (w <= 0 || h <= 0) fail("{}: the image has zero size ({}x{}); use a non-empty PNG or JPEG", what, w, h);
  if (w > kMaxImageSide || h > kMaxImageSide || w * h > kMaxImagePixels)
    fail("{}: the image is {}x{}, above the limit of {} pixels a side and {} pixels in all; downscale it first",
         what, w, h, kMaxImageSide, kMaxImagePixels);
}

// ---- PNG (libpng, classic API: the simplified API applies gamma when reducing 16-bit) -----------

struct PngReadState {
  const uint8_t* data;
  size_t size, pos;
  char message[256];
};

void png_read_from_memory(png_structp png, png_bytep out, png_size_t n) {
  auto* s = static_cast<PngReadState*>(png_get_io_ptr(png));
  if (n > s->size - s->pos) png_error(png, "the file ends early (truncated PNG)");
  std::memcpy(out, s->data + s->pos, n);
  s->pos += n;
}

void png_on_error(png_structp png, png_const_charp msg) {
  auto* s = static_cast<PngReadState*>(png_get_error_ptr(png));
  std::snprintf(s->message, sizeof s->message, "%s", msg);
  png_longjmp(png, 1);
}
void png_on_warning(png_structp, png_const_charp) {}

// Decodes into `out`; returns an empty string on success, else libpng's message. No C++ object
// with a destructor lives in a frame that longjmp skips.
std::string decode_png(const uint8_t* data, size_t size, const std::string& what, RgbImage& out,
                       std::vector<uint8_t>& raw) {
  PngReadState st{data, size, 0, {0}};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &st, png_on_error, png_on_warning);
  if (!png) return "out of memory";
  png_infop info = png_create_info_struct(png);
  std::vector<png_bytep> rows;
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
    return st.message[0] ? st.message : "out of memory";
  }
  png_set_read_fn(png, &st, png_read_from_memory);
  png_read_info(png, info);
  const int64_t w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  const int color = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
  // PIL: 16-bit grey opens as mode "I;16" and convert("RGB") clamps each value to 255 (it does not
  // scale); 16-bit RGB/RGBA/grey+alpha keep the high byte (png_set_strip_16 does the same).
  const bool grey16 = color == PNG_COLOR_TYPE_GRAY && depth == 16;
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);  // scaled, as PIL
  if (depth == 16 && !grey16) png_set_strip_16(png);
  if (grey16) png_set_swap(png);  // host (little-endian) order for the clamp below
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const int channels = png_get_channels(png, info);
  const size_t rowbytes = png_get_rowbytes(png, info);
  if (w > 0 && h > 0 && w <= kMaxImageSide && h <= kMaxImageSide && w * h <= kMaxImagePixels) {
    raw.resize(rowbytes * static_cast<size_t>(h));
    rows.resize(static_cast<size_t>(h));
    for (int64_t y = 0; y < h; ++y) rows[y] = raw.data() + rowbytes * y;
    png_read_image(png, rows.data());
    png_read_end(png, nullptr);
  }
  png_destroy_read_struct(&png, &info, nullptr);
  check_dimensions(what, w, h);

  out.width = static_cast<int>(w);
  out.height = static_cast<int>(h);
  out.rgb.resize(static_cast<size_t>(w * h) * 3);
  for (int64_t y = 0; y < h; ++y) {
    const uint8_t* src = raw.data() + rowbytes * y;
    uint8_t* dst = out.rgb.data() + static_cast<size_t>(y * w) * 3;
    for (int64_t x = 0; x < w; ++x, dst += 3) {
      if (grey16) {
        uint16_t v;
        std::memcpy(&v, src + 2 * x, 2);
        dst[0] = dst[1] = dst[2] = static_cast<uint8_t>(std::min<uint16_t>(v, 255));
      } else if (channels <= 2) {  // grey, grey+alpha: replicate, drop alpha
        dst[0] = dst[1] = dst[2] = src[x * channels];
      } else {  // RGB, RGBA: drop alpha
        std::memcpy(dst, src + x * channels, 3);
      }
    }
  }
  return "";
}

// ---- JPEG (libjpeg-turbo through the libjpeg API; PIL's defaults: ISLOW DCT, fancy upsampling) ---

struct JpegError {
  jpeg_error_mgr mgr;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool truncated;
};

void jpeg_on_error(j_common_ptr c) {
  auto* e = reinterpret_cast<JpegError*>(c->err);
  c->err->format_message(c, e->message);
  longjmp(e->jump, 1);
}
// libjpeg only warns on a premature end and pads with grey; PIL refuses a truncated JPEG.
void jpeg_on_message(j_common_ptr c, int level) {
  auto* e = reinterpret_cast<JpegError*>(c->err);
  if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF) e->truncated = true;
}

std::string decode_jpeg(const uint8_t* data, size_t size, const std::string& what, RgbImage& out) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  std::memset(&err, 0, sizeof err);
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_on_error;
  err.mgr.emit_message = jpeg_on_message;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return err.message;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  const int64_t w = cinfo.image_width, h = cinfo.image_height;
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    jpeg_destroy_decompress(&cinfo);
    fail("{}: a CMYK JPEG is not supported; convert it to RGB first (e.g. `convert in.jpg -colorspace sRGB out.png`)", what);
  }
  if (w <= 0 || h <= 0 || w > kMaxImageSide || h > kMaxImageSide || w * h > kMaxImagePixels) {
    jpeg_destroy_decompress(&cinfo);
    check_dimensions(what, w, h);
  }
  const bool grey = cinfo.jpeg_color_space == JCS_GRAYSCALE;
  cinfo.out_color_space = grey ? JCS_GRAYSCALE : JCS_RGB;
  cinfo.dct_method = JDCT_ISLOW;
  cinfo.do_fancy_upsampling = TRUE;
  jpeg_start_decompress(&cinfo);
  out.width = static_cast<int>(w);
  out.height = static_cast<int>(h);
  out.rgb.resize(static_cast<size_t>(w * h) * 3);
  const int comps = cinfo.output_components;
  std::vector<uint8_t> line(static_cast<size_t>(w) * comps);
  while (cinfo.output_scanline < cinfo.output_height) {
    const size_t y = cinfo.output_scanline;
    JSAMPROW row = line.data();
    jpeg_read_scanlines(&cinfo, &row, 1);
    uint8_t* dst = out.rgb.data() + y * w * 3;
    if (comps == 3) {
      std::memcpy(dst, line.data(), line.size());
    } else {
      for (int64_t x = 0; x < w; ++x) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = line[x];
    }
    if (err.truncated) break;
  }
  const bool truncated = err.truncated;
  if (!truncated) jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  if (truncated || err.truncated) return "the file ends early (truncated JPEG)";
  return "";
}

// ---- WebP (libwebp, when the build has it: the same library PIL decodes WebP with) ------------

bool is_webp(const uint8_t* data, size_t size) {
  return size >= 12 && std::memcmp(data, "RIFF", 4) == 0 && std::memcmp(data + 8, "WEBP", 4) == 0;
}

#if JENGA_HAVE_WEBP
std::string decode_webp(const uint8_t* data, size_t size, const std::string& what, RgbImage& out) {
  WebPBitstreamFeatures f;
  if (WebPGetFeatures(data, size, &f) != VP8_STATUS_OK) return "a damaged or truncated WebP header";
  // PIL opens an animation at its first frame; a still image is what an I2V reference is.
  if (f.has_animation) fail("{}: an animated WebP; save one frame as PNG, JPEG or a still WebP", what);
  check_dimensions(what, f.width, f.height);
  out.width = f.width, out.height = f.height;
  out.rgb.resize(static_cast<size_t>(f.width) * f.height * 3);
  // RGB output drops alpha without compositing, as PIL's convert("RGB").
  if (!WebPDecodeRGBInto(data, size, out.rgb.data(), out.rgb.size(), f.width * 3)) return "the image data is damaged";
  return "";
}
#endif

}  // namespace

RgbImage decode_image_rgb(const uint8_t* data, size_t size, const std::string& what) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  RgbImage out;
  std::string error;
  if (size >= 8 && std::memcmp(data, kPng, 8) == 0) {
    std::vector<uint8_t> raw;
    error = decode_png(data, size, what, out, raw);
    if (!error.empty()) fail("{}: cannot decode the PNG: {}; re-save it with an image editor", what, error);
  } else if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) {
    error = decode_jpeg(data, size, what, out);
    if (!error.empty()) fail("{}: cannot decode the JPEG: {}; re-save it with an image editor", what, error);
  } else if (is_webp(data, size)) {
#if JENGA_HAVE_WEBP
    error = decode_webp(data, size, what, out);
    if (!error.empty()) fail("{}: cannot decode the WebP: {}; re-save it with an image editor", what, error);
#else
    fail("{}: a WebP image, and this jenga was built without libwebp; convert it to PNG or JPEG, or install "
         "libwebp-dev and rebuild", what);
#endif
  } else {
    fail("{}: not a PNG, JPEG or WebP image (unknown first bytes); convert it to PNG or JPEG", what);
  }
  return out;
}

RgbImage read_image_rgb(const std::string& path) {
  struct stat st{};
  if (path.empty()) usage_fail("--image '': an empty path; give the path of a PNG, JPEG or WebP image");
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) fail("--image {}: no such file; give the path of a PNG, JPEG or WebP image", path);
    fail("--image {}: cannot read it ({}); give the path of a PNG, JPEG or WebP image", path, std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) fail("--image {}: is a folder; give the path of a PNG, JPEG or WebP image", path);
  if (!S_ISREG(st.st_mode)) fail("--image {}: is not a regular file (a FIFO or device?); give a PNG, JPEG or WebP file", path);
  if (st.st_size == 0) fail("--image {}: the file is empty; give a PNG, JPEG or WebP image", path);
  // A compressed image is far smaller than its pixels; this bounds the read before decoding.
  if (st.st_size > 3 * kMaxImagePixels) fail("--image {}: the file is {} bytes, too large for an input image", path, st.st_size);
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("--image {}: cannot open it for reading (permissions?)", path);
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  f.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (static_cast<size_t>(f.gcount()) != bytes.size()) fail("--image {}: could not read the whole file", path);
  return decode_image_rgb(bytes.data(), bytes.size(), "--image " + path);
}

}  // namespace jenga
