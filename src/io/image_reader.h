#pragma once
// Reads a PNG, JPEG or WebP file into 8-bit RGB the way the official pipelines see it after
// PIL's `Image.open(path).convert("RGB")` (so grey, palette, alpha and 16-bit PNGs give the
// same pixels as PIL). Decoding is libpng / libjpeg(-turbo); every failure is a one-line Error.
#include <cstdint>
#include <string>
#include <vector>

namespace jenga {

struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // [height][width][3]

  const uint8_t* pixel(int y, int x) const { return rgb.data() + (static_cast<size_t>(y) * width + x) * 3; }
};

// Limits on an input image, checked from the header before any pixel is decoded.
inline constexpr int kMaxImageSide = 16384;
inline constexpr int64_t kMaxImagePixels = 100'000'000;

// PNG (any colour type / bit depth, interlaced or not) or baseline/progressive JPEG (grey or
// YCbCr; CMYK/YCCK JPEGs are refused). The format is taken from the file's first bytes, not its
// name. Alpha is dropped (not composited), as PIL's convert("RGB") does; EXIF orientation is
// ignored, as PIL's Image.open does. WebP (lossy or lossless, still) when built with libwebp.
RgbImage read_image_rgb(const std::string& path);

// The same from bytes in memory; `what` names the source in error messages.
RgbImage decode_image_rgb(const uint8_t* data, size_t size, const std::string& what);

}  // namespace jenga
