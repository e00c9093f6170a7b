#pragma once
// PIL's `Image.resize` for 8-bit RGB (bilinear and bicubic), reproduced bit for bit: a separable
// convolution whose support grows with the downscale factor (antialiasing), 22-bit fixed-point
// coefficients, horizontal pass first with each pass rounded and clipped to 8 bits. The official
// HunyuanVideo-I2V image transform (torchvision Resize on a PIL image) and CLIPImageProcessor both
// resize through it; no Debian library reproduces its exact integer rounding.
#include "io/image_reader.h"

namespace jenga {

enum class PilFilter { Bilinear, Bicubic };

// img -> [out_h][out_w][3]; out sizes >= 1. An unchanged size returns a copy, as PIL does.
RgbImage pil_resize(const RgbImage& img, int out_w, int out_h, PilFilter filter);

// A rectangle of the resized image, in its pixels.
struct PixelWindow {
  int x = 0, y = 0, width = 0, height = 0;
};

// Only `window` of pil_resize(img, out_w, out_h, filter), the same pixels: a resize followed by a
// center crop computes what it keeps (a 16384x1 image resized to a 480-pixel short side would be
// 7.8 M pixels wide, 11 GB, for a 1920-pixel crop). window lies inside [0, out_w) x [0, out_h).
RgbImage pil_resize_window(const RgbImage& img, int out_w, int out_h, PilFilter filter, const PixelWindow& window);

}  // namespace jenga
