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

}  // namespace jenga
