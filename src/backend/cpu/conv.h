#pragma once
// CPU f32 convolutions on channels-last frames ([H, W, C] per frame), as im2col + OpenBLAS GEMM
// tiled over output rows so the column buffer stays small (memory bounded at any frame size).
// A (kt x kh x kw) kernel reads kt consecutive frames, so the same call serves Conv2d (kt = 1),
// causal Conv3d (kt = 3, the caller supplies the cached frames) and 1x1x1 convolutions.
// Frame borders are zero padded (Wan) or replicate padded (HunyuanVideo's CausalConv3d).
#include <cstdint>
#include <span>
#include <vector>

namespace jenga::cpu {

// Weights repacked from PyTorch [Cout, Cin, kt, kh, kw] to [Cout, kt, kh, kw, Cin] so one
// im2col row is kt*kh*kw*Cin contiguous input channels.
struct PackedConv {
  int64_t cout = 0, cin = 0;
  int kt = 1, kh = 1, kw = 1;
  std::vector<float> weight;  // [cout, kt*kh*kw*cin]
  std::vector<float> bias;    // [cout] (zeros when the layer has none)
  int64_t k() const { return static_cast<int64_t>(kt) * kh * kw * cin; }
};

// w: [cout, cin, kt, kh, kw] (PyTorch layout, f32); bias: [cout] or empty.
PackedConv pack_conv(std::span<const float> w, std::span<const float> bias, int64_t cout, int64_t cin,
                     int kt, int kh, int kw);

// Zero padding of each frame before the convolution (Wan uses symmetric 1 and, for the
// downsampler, right/bottom 1 only).
struct Pad2d {
  int top = 0, bottom = 0, left = 0, right = 0;
};

// What a padded position reads: zero, or the nearest edge pixel (F.pad mode="replicate").
enum class PadMode { Zero, Replicate };

inline int64_t conv_out_size(int64_t in, int pad_a, int pad_b, int k, int stride) {
  return (in + pad_a + pad_b - k) / stride + 1;
}

// One output frame: out[ho, wo, :] = bias + sum over taps of W * x.
// frames: conv.kt pointers to [h, w, cin] frames (oldest first); out: [ho, wo, cout].
void conv_frame(const PackedConv& conv, std::span<const float* const> frames, int64_t h, int64_t w,
                Pad2d pad, int stride, float* out, PadMode mode = PadMode::Zero);

// HunyuanVideo CausalConv3d on a whole clip: F.pad(x, (k/2, k/2, k/2, k/2, kt - 1, 0),
// mode="replicate") then Conv3d with stride (tstride, sstride, sstride): kt - 1 copies of the
// first frame in front, none behind, edge pixels repeated spatially.
// x: [t, h, w, cin] -> out: [(t - 1) / tstride + 1, conv_out_size(h, k/2, k/2, kh, sstride),
// conv_out_size(w, ...), cout], both channels-last.
void conv3d_causal_replicate(const PackedConv& conv, const float* x, int64_t t, int64_t h, int64_t w, int tstride,
                             int sstride, float* out);

// Nearest x2 spatial upsampling (PyTorch 'nearest-exact' at an integer factor of 2).
// x: [h, w, c] -> out: [2h, 2w, c]
void upsample_nearest2x(const float* x, int64_t h, int64_t w, int64_t c, float* out);

}  // namespace jenga::cpu
